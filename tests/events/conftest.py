"""Fixtures for the event-stream tests, on top of the shared service fixtures in tests/conftest.py
(`server_factory`, `postgres_cluster`, `redis_url`; a missing PostgreSQL/Redis fails with CI=true).

Every test whose behaviour depends on the event bus runs on both: it takes `node` (or `bus_env` for
a server of its own), parametrized over `BUSES`, as the engine tests are over `ENGINES`. The Redis
variant gets a stream of its own on the session's redis-server, so it starts as empty as a new
process's memory bus. Tests that stay on one bus say why in their docstring or a comment.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from _services import HubbubServer, PostgresCluster, RedisServer, ServerFactory, ServiceFailed

from ._clients import ChatUser, Listener, SseListener, WsListener, new_user, unique_stream

HEARTBEAT = "1"

BUSES = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=BUSES)
def bus(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bus_env(bus: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The server environment for `bus`: nothing for memory; for Redis, the session's redis-server
    (a missing one skips, or fails with CI=true) and a fresh stream key."""
    if bus == "memory":
        return {}
    return {"HUBBUB_REDIS_URL": request.getfixturevalue("redis_url"), "HUBBUB_EVENTS_STREAM": unique_stream()}


@pytest.fixture
def node(server_factory: ServerFactory, bus_env: dict[str, str]) -> HubbubServer:
    """One server on `bus`, with a short heartbeat."""
    return server_factory("sqlite", env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": HEARTBEAT, **bus_env})


@pytest.fixture
def own_redis(redis_url: str) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to kill and restart (`redis.start()` again: same port).

    Asks for `redis_url` first, so that a missing redis-server skips, or with CI=true fails, as
    for every other Redis test."""
    redis = RedisServer()
    try:
        redis.start()
    except ServiceFailed as exc:
        redis.stop()
        pytest.fail(str(exc), pytrace=False)
    yield redis
    redis.stop()


@pytest.fixture(params=["ws", "sse"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Listen = Callable[..., Any]


@pytest.fixture
async def listen(transport: str) -> AsyncIterator[Listen]:
    """`await listen(server, user, last_id=None, how="header")` → a started listener on `transport`."""
    opened: list[Listener] = []

    async def start(server: HubbubServer, user: ChatUser, **options: Any) -> Listener:
        cls = WsListener if transport == "ws" else SseListener
        listener = await cls(server, user.token, **options).start()
        opened.append(listener)
        return listener

    yield start
    for listener in opened:
        await listener.close()


@pytest.fixture
async def users(node: HubbubServer) -> AsyncIterator[Callable[[], ChatUser]]:
    made: list[ChatUser] = []

    def make() -> ChatUser:
        user = new_user(node)
        made.append(user)
        return user

    yield make
    for user in made:
        await user.aclose()


def shared_access_key() -> str:
    """One HMAC key for several nodes, so a token issued by one is valid on all."""
    return base64.b64encode(os.urandom(32)).decode()


def cluster(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis: str, count: int = 2, **env: str
) -> list[HubbubServer]:
    """`count` nodes on one fresh PostgreSQL database and one Redis stream, sharing one access key."""
    key = shared_access_key()
    shared = {
        "HUBBUB_DATABASE_URL": postgres_cluster.create_database(),
        "HUBBUB_REDIS_URL": redis,
        "HUBBUB_ACCESS_KEY": key,
        "HUBBUB_EVENTS_STREAM": unique_stream(),
        "HUBBUB_EVENTS_HEARTBEAT_SECONDS": "1",
        **env,
    }
    # engine "sqlite" only means "no database of its own": HUBBUB_DATABASE_URL names the shared one.
    nodes = [server_factory("sqlite", env=shared) for _ in range(count)]
    for node in nodes:
        node.access_key = key  # `hubbub connection-string` reports the data dir's key, not HUBBUB_ACCESS_KEY
    return nodes
