"""The Redis bus in-process, against a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from hubbub.server.events import Event
from hubbub.server.events.hub import Revocation
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
