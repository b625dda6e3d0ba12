"""The Redis bus in-process, against a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
import pytest

from hubbub.server.events import Event
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
        received: list[Delivery] = []
        async with asyncio.timeout(10):
            while len(received) < len(mine):
                received += await reader.take()
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
