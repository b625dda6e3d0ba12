"""The Redis bus in-process, against a real redis-server."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

import msgspec
import pytest
from redis import exceptions as redis_exceptions

from hubbub.server.events import Event
from hubbub.server.events import redis as redis_bus
from hubbub.server.events.hub import Delivery, Revocation
from hubbub.server.events.ids import ORIGIN
from hubbub.server.events.redis import RedisBus

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("last", ["revocation", "event", "nothing"])
async def test_close_ends_a_blocked_reader_at_once(redis_url: str, last: str) -> None:
    """A cancelled XREAD BLOCK used to sit in redis-py until the block time (5 s) ran out after a
    revocation; close() drops the reader's socket first and is quick whatever came last."""
    bus = RedisBus(redis_url, stream=f"test:{uuid.uuid4()}")
    await bus.start()
    if last == "revocation":
        await bus.revoke(Revocation("8:acs:someone", 2))
    elif last == "event":
        await bus.publish(Event("chatMessageReceived", "t", ("a",), {}))
    started = time.monotonic()
    closing = asyncio.create_task(bus.close())
    done, _ = await asyncio.wait({closing}, timeout=5)  # without the fix: stuck for good
    assert done and time.monotonic() - started < 1.5


async def test_concurrent_publishes_land_once_in_order_and_come_back_as_published(redis_url: str) -> None:
    """The writer sends what queued up as one hand-encoded MULTI/XADD.../EXEC: every event is in
    the stream once, in publish order. Read back, an event for a connection here is delivered with
    its data as published; the others are skipped undecoded, but the position passes them."""
    bus = RedisBus(redis_url, stream=f"test:{uuid.uuid4()}")
    await bus.start()
    try:
        reader = bus.hub.subscribe("8:acs:reader")
        events = [
            Event(
                "chatMessageReceived",
                "t",
                ("8:acs:other", "8:acs:reader") if i % 3 else ("8:acs:other",),
                {"n": i, "text": f'é "{i}"\n\u2028', "nested": {"k": [i, None]}},
            )
            for i in range(500)
        ]
        await asyncio.gather(*(bus.publish(event) for event in events))
        entries = await bus._redis.xrange(bus.stream)
        assert [msgspec.json.decode(fields[b"e"])["data"]["n"] for _, fields in entries] == list(range(500))
        mine = [e.data for e in events if "8:acs:reader" in e.recipients]
        received = await _received(reader, len(mine))
        assert [d.event.data for d in received] == mine
        assert all(d.payload == msgspec.json.encode(d.event.data) for d in received)
        last = entries[-1][0]
        async with asyncio.timeout(10):
            while str(bus.hub.position) != last.decode():  # the last event is not the reader's
                await asyncio.sleep(0.01)
        replayed = await bus.replay("8:acs:reader", ORIGIN)
        assert replayed is not None and [d.event.data for d in replayed] == mine
    finally:
        await bus.close()


async def test_a_stalled_redis_holds_publishers_for_publish_wait_at_most() -> None:
    """Redis accepts the connection but never answers: a publish returns after `publish_wait`
    (the event stays queued), and publishes after that do not wait at all."""
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # reads and never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = RedisBus(f"redis://127.0.0.1:{port}/0", stream="test:stalled", publish_wait=0.3)
    try:
        await bus.start()  # finds no Redis answering; keeps trying in the background
        started = time.monotonic()
        await bus.publish(Event("chatMessageReceived", "t", ("a",), {"n": 1}))
        assert 0.25 < time.monotonic() - started < 2
        started = time.monotonic()
        await bus.publish(Event("chatMessageReceived", "t", ("a",), {"n": 2}))
        assert time.monotonic() - started < 0.1
        assert len(bus._outbox) + len(bus._writing) == 2
    finally:
        await bus.close()
        for writer in connections:
            writer.close()
        server.close()


async def _received(subscriber: Any, count: int) -> list[Delivery]:
    received: list[Delivery] = []
    async with asyncio.timeout(10):
        while len(received) < count:
            received += await subscriber.take()
    return received


async def test_a_publishing_node_reads_back_what_every_node_appends_once_in_stream_order(redis_url: str) -> None:
    """While node A publishes, its writer reads the stream back with each batch and its reader
    rests: node B's events and revocations still reach A, between A's own in stream order, and no
    entry that both of A's reads return is delivered twice."""
    stream = f"test:{uuid.uuid4()}"
    a, b = RedisBus(redis_url, stream=stream), RedisBus(redis_url, stream=stream)
    await a.start()
    await b.start()
    try:
        watcher = a.hub.subscribe("8:acs:watcher")
        blocking_reads = 0
        read_after = a._read_after

        async def counted(position: Any) -> Any:
            nonlocal blocking_reads
            blocking_reads += 1
            return await read_after(position)

        a._read_after = counted  # type: ignore[method-assign]
        revoked: list[Revocation] = []
        a.hub.on_revocation(revoked.append)

        async def publish(bus: RedisBus, node: str, count: int, pause: float) -> None:
            for i in range(count):
                await bus.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"node": node, "n": i}))
                await asyncio.sleep(pause)

        await asyncio.gather(publish(a, "a", 300, 0.001), publish(b, "b", 30, 0.01))
        await b.revoke(Revocation("8:acs:someone", 3))
        await a.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"node": "a", "n": 300}))
        received = await _received(watcher, 331)
        entries = [msgspec.json.decode(f[b"e"])["data"] for _, f in await a._redis.xrange(stream) if b"e" in f]
        assert [d.event.data for d in received] == entries  # each once, in stream order
        assert [d.id for d in received] == sorted({d.id for d in received})
        assert revoked == [Revocation("8:acs:someone", 3)]
        assert a._read_back_at > -math.inf
        assert blocking_reads < 30, "A's reader should rest while A publishes"
        await asyncio.sleep(0.2)  # A is quiet: its reader blocks on Redis again
        await b.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"node": "b", "n": 30}))
        assert [d.event.data for d in await _received(watcher, 1)] == [{"node": "b", "n": 30}]
    finally:
        await a.close()
        await b.close()


async def test_a_failed_read_back_leaves_the_batch_published_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refuses the writer's read-back (here: a malformed position) after the batch's EXEC:
    the batch stays published once, not retried, and the reader delivers it."""
    monkeypatch.setattr(
        redis_bus, "_xread_now", lambda stream, after: redis_bus._command(b"XREAD", b"STREAMS", stream, b"x")
    )
    bus = RedisBus(redis_url, stream=f"test:{uuid.uuid4()}")
    await bus.start()
    try:
        watcher = bus.hub.subscribe("8:acs:watcher")
        events = [Event("chatMessageReceived", "t", ("8:acs:watcher",), {"n": i}) for i in range(20)]
        await asyncio.gather(*(bus.publish(event) for event in events))
        assert [d.event.data for d in await _received(watcher, 20)] == [e.data for e in events]
        assert await bus._redis.xlen(bus.stream) == 20
        assert bus._writer_healthy and bus._read_back_at == -math.inf
    finally:
        await bus.close()


async def test_a_connection_lost_during_the_read_back_leaves_the_batch_published_once(redis_url: str) -> None:
    """The writer's connection fails after the EXEC reply, while the read-back's reply is read: the
    batch is in the stream, so it is not sent again; the reader delivers it."""
    bus = RedisBus(redis_url, stream=f"test:{uuid.uuid4()}")
    await bus.start()
    try:
        watcher = bus.hub.subscribe("8:acs:watcher")
        await bus.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"n": 0}))
        connection = bus._writer_connection
        read_response = connection.read_response
        reads = 0

        async def failing(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            if reads == 4:  # OK (MULTI), QUEUED, EXEC's reply, then the read-back's
                raise redis_exceptions.ConnectionError("cut")
            return await read_response(*args, **kwargs)

        connection.read_response = failing
        await bus.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"n": 1}))
        await bus.publish(Event("chatMessageReceived", "t", ("8:acs:watcher",), {"n": 2}))
        assert reads > 4
        assert [d.event.data for d in await _received(watcher, 3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert await bus._redis.xlen(bus.stream) == 3
        assert bus._writer_healthy
    finally:
        await bus.close()
