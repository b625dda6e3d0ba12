"""Slow clients are cut off without slowing anyone down (and lose nothing); shutdown ends streams."""

from __future__ import annotations

import asyncio
import time

from _services import ServerFactory

from ._clients import SseListener, WsListener, new_user


async def test_a_slow_client_is_disconnected_and_resumes_from_the_backlog(
    server_factory: ServerFactory, bus_env: dict[str, str]
) -> None:
    node = server_factory(
        "sqlite", env={"HUBBUB_EVENTS_QUEUE_SIZE": "32", "HUBBUB_EVENTS_HEARTBEAT_SECONDS": "15", **bus_env}
    )
    alice, bob = new_user(node), new_user(node)
    fast = await WsListener(node, alice.token).start()
    slow = await SseListener(node, bob.token, paused=True).start()
    try:
        thread = await alice.create_thread(bob)
        payload = "x" * 25_000
        sent: list[str] = []
        for batch in range(40):  # ~8 MB: more than the socket buffers hold for a client not reading
            sent += await asyncio.gather(*(alice.send(thread, f"{batch}:{i}:{payload}") for i in range(8)))
        fast_frames = await fast.events(1 + len(sent), timeout=30)  # not held back by the slow one
        got_by_alice = [f["data"]["id"] for f in fast_frames[1:]]
        assert sorted(got_by_alice) == sorted(sent)

        slow.reading.set()
        await asyncio.wait_for(slow.closed.wait(), 60)
        frames = [f for f in slow.seen if f["type"] not in ("connected", "heartbeat")]
        assert frames[-1] == {"type": "disconnect", "data": {"reason": "queueOverflow"}}
        before = [f["data"]["id"] for f in frames[:-1] if f["type"] == "chatMessageReceived"]
        assert len(before) < len(sent)

        resumed = await SseListener(node, bob.token, last_id=slow.last_id).start()
        try:
            rest = [f["data"]["id"] for f in await resumed.events(len(sent) - len(before), timeout=30)]
        finally:
            await resumed.close()
        assert before + rest == got_by_alice  # the same order, nothing lost, nothing twice
    finally:
        await fast.close()
        await slow.close()
        await alice.aclose()
        await bob.aclose()


async def test_stopping_the_server_ends_open_streams(server_factory: ServerFactory, bus_env: dict[str, str]) -> None:
    node = server_factory("sqlite", env=bus_env)
    alice = new_user(node)
    ws = await WsListener(node, alice.token).start()
    sse = await SseListener(node, alice.token).start()
    try:
        for listener in (ws, sse):
            await listener.next(control=True)
        started = time.monotonic()
        node.stop()
        assert time.monotonic() - started < 5  # not the 15 s kill timeout: nothing waited for the streams
        for listener in (ws, sse):
            await asyncio.wait_for(listener.closed.wait(), 5)
            assert listener.seen[-1] == {"type": "disconnect", "data": {"reason": "serverShutdown"}}
        assert ws.close_code == 1012
    finally:
        await ws.close()
        await sse.close()
        await alice.aclose()
