"""Fixtures for the SDK suite: one sqlite `hubbub serve` (plus a rate-limited one and one with 1 s
heartbeats for the real-time tests), users, tokens, and the real-time tests' `api` x `transport`.

The engine does not matter to the SDK, so these tests use one sqlite server instead of the shared,
engine-parametrized `server` fixture. Servers come from the shared `_services.HubbubServer`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from _services import CABundle, HubbubServer, ServiceFailed
from hubbub.identity import CommunicationIdentityClient, CommunicationUserIdentifier


def _start(base, ca_bundle: CABundle, args: list[str], env: dict[str, str] | None = None) -> HubbubServer:  # type: ignore[no-untyped-def]
    server = HubbubServer(base / "data", engine="sqlite", args=args, env=env, ca_bundle=ca_bundle)
    try:
        server.start()
    except ServiceFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    return server


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    """A plain sqlite server for the whole SDK suite."""
    server = _start(tmp_path_factory.mktemp("sdk-server"), ca_bundle, [])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    """A server started with `--rate-limit` (ACS limits, 429 with Retry-After)."""
    server = _start(tmp_path_factory.mktemp("sdk-limited"), ca_bundle, ["--rate-limit"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def events_server(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    """A sqlite server with 1 s heartbeats: a client counts its stream as dead after 3 s of silence."""
    server = _start(tmp_path_factory.mktemp("sdk-events"), ca_bundle, [], {"HUBBUB_EVENTS_HEARTBEAT_SECONDS": "1"})
    yield server
    server.stop()


@dataclass
class User:
    """A user of a server and a chat token for it."""

    identifier: CommunicationUserIdentifier
    token: str


@pytest.fixture(scope="session")
def identity(sdk_server: HubbubServer) -> Iterator[CommunicationIdentityClient]:
    """Hubbub's identity client for `sdk_server`, over plain http."""
    client = CommunicationIdentityClient.from_connection_string(sdk_server.http_connection_string)
    yield client
    client.close()


@pytest.fixture
def make_user(identity: CommunicationIdentityClient) -> Callable[[], User]:
    """Create a fresh user with a chat token on `sdk_server`."""

    def make() -> User:
        user, token = identity.create_user_and_token(["chat"], token_expires_in=dt.timedelta(hours=1))
        return User(user, token.token)

    return make


@pytest.fixture(params=["websocket", "sse"])
def transport(request: pytest.FixtureRequest) -> str:
    """The real-time transport of a client (`realtime_transport=`)."""
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> str:
    """`hubbub.chat` or `hubbub.chat.aio`."""
    return str(request.param)


@pytest.fixture(scope="session")
def events_identity(events_server: HubbubServer) -> Iterator[CommunicationIdentityClient]:
    """Hubbub's identity client for `events_server`, over plain http."""
    client = CommunicationIdentityClient.from_connection_string(events_server.http_connection_string)
    yield client
    client.close()


@pytest.fixture
def new_user(events_identity: CommunicationIdentityClient) -> Callable[[], User]:
    """A fresh user with a chat token on `events_server` (1 s heartbeats)."""

    def make() -> User:
        user, token = events_identity.create_user_and_token(["chat"], token_expires_in=dt.timedelta(hours=1))
        return User(user, token.token)

    return make
