"""Reconnecting with the last id replays exactly the missed events; older gaps ask for a resync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from _services import HubbubServer, ServerFactory

from ._clients import ChatUser, SseListener, WsListener, new_user
from .conftest import Listen


async def test_killed_client_resumes_without_gaps_or_duplicates(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    alice, bob = users(), users()
    first = await listen(node, bob)
    thread = await alice.create_thread(bob)
    before = [await alice.send(thread, f"before {i}") for i in range(3)]
    seen = await first.events(4)
    assert [f["data"]["id"] for f in seen[1:]] == before
    last_id = first.last_id
    first.kill()  # mid-stream, no goodbye

    missed = [await alice.send(thread, f"missed {i}") for i in range(5)]
    second = await listen(node, bob, last_id=last_id)
    hello = await second.next(control=True)
    assert hello["type"] == "connected" and hello["data"]["resumed"] is True and hello["id"] == last_id
    after = [await alice.send(thread, f"after {i}") for i in range(2)]
    frames = await second.events(len(missed) + len(after))
    assert [f["type"] for f in frames] == ["chatMessageReceived"] * len(frames)
    assert [f["data"]["id"] for f in frames] == missed + after
    assert len({f["id"] for f in frames}) == len(frames) and all(f["id"] > last_id for f in frames)
    assert await second.quiet() == []


async def test_resume_from_a_heartbeat_position(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    """A quiet client's position still advances (heartbeats), so it can resume from it."""
    alice, bob, carol = users(), users(), users()
    watcher = await listen(node, bob)
    other = await alice.create_thread(carol)  # bob is not in it
    for i in range(3):
        await alice.send(other, f"not for bob {i}")
    beat = await watcher.next(timeout=5, control=True)
    while beat["type"] != "heartbeat":
        beat = await watcher.next(timeout=5, control=True)
    await watcher.close()
    thread = await alice.create_thread(bob)
    again = await listen(node, bob, last_id=beat["id"])
    assert [(f["type"], f["data"]["threadId"]) for f in await again.events(1)] == [("chatThreadCreated", thread)]
    assert not [f for f in again.seen if f["type"] == "resyncRequired"]


async def test_sse_resume_accepts_the_query_parameter(node: HubbubServer, users: Callable[[], ChatUser]) -> None:
    alice, bob = users(), users()
    first = await SseListener(node, bob.token).start()
    thread = await alice.create_thread(bob)
    await first.events(1)
    last_id = first.last_id
    await first.close()
    message = await alice.send(thread, "while away")
    second = await SseListener(node, bob.token, last_id=last_id, id_in_query=True, how="query").start()
    try:
        assert [f["data"].get("id") for f in await second.events(1)] == [message]
        assert second.sse_ids[0] == last_id  # the SSE `id:` of `connected` is the resume point
    finally:
        await second.close()


async def test_gap_older_than_the_backlog_requires_a_resync(
    server_factory: ServerFactory, bus: str, bus_env: dict[str, str], listen: Listen
) -> None:
    node = server_factory("sqlite", env={"HUBBUB_EVENTS_BACKLOG": "5", **bus_env})
    alice, bob = new_user(node), new_user(node)
    first = await listen(node, bob)
    thread = await alice.create_thread(bob)
    await first.events(1)
    last_id = first.last_id
    await first.close()
    # Redis trims `MAXLEN ~ 5` by whole stream nodes (100 entries): the first goes after ~105 entries.
    too_many = 8 if bus == "memory" else 120
    for batch in range(0, too_many, 8):
        await asyncio.gather(*(alice.send(thread, f"too many {i}") for i in range(batch, batch + 8)))
    second = await listen(node, bob, last_id=last_id)
    assert (await second.next(control=True))["type"] == "connected"
    resync = await second.next(control=True)
    assert resync["type"] == "resyncRequired"
    assert resync["data"] == {"lastEventId": last_id, "reason": "backlogExceeded"}
    live = await alice.send(thread, "live again")
    assert [f["data"]["id"] for f in await second.events(1)] == [live]


async def test_an_unknown_id_requires_a_resync(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    """An id the backlog never held (from before this process, or trimmed from Redis) cannot be replayed."""
    bob = users()
    listener = await listen(node, bob, last_id=f"{int(time.time() * 1000) - 60_000}-0")
    await listener.next(control=True)
    assert (await listener.next(control=True))["type"] == "resyncRequired"


async def test_ws_and_sse_share_positions(node: HubbubServer, users: Callable[[], ChatUser]) -> None:
    alice, bob = users(), users()
    ws = await WsListener(node, bob.token).start()
    thread = await alice.create_thread(bob)
    await ws.events(1)
    last_id = ws.last_id
    await ws.close()
    message = await alice.send(thread, "switch transports")
    sse = await SseListener(node, bob.token, last_id=last_id).start()
    try:
        assert [f["data"]["id"] for f in await sse.events(1)] == [message]
    finally:
        await sse.close()
