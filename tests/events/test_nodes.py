"""Several `hubbub serve` processes on one PostgreSQL and one Redis behave as one service.

Redis only: it is the bus that connects nodes (and the outage test is about Redis itself)."""

from __future__ import annotations

import time

import pytest

from _services import PostgresCluster, RedisServer, ServerFactory

from ._clients import SseListener, WsListener, new_user
from .conftest import Listen, cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_events_cross_nodes_in_order(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis_url: str
) -> None:
    node_a, node_b = cluster(server_factory, postgres_cluster, redis_url)
    alice = new_user(node_a)
    bob = new_user(node_b)
    alice_b = alice.on(node_b)
    bob_a = bob.on(node_a)
    on_a = await WsListener(node_a, alice.token).start()
    on_b = await SseListener(node_b, bob.token).start()
    try:
        thread = await alice_b.create_thread(bob)
        sent = []
        for i in range(10):  # alternate the node that takes the write
            sender = (alice_b, bob_a, alice, bob)[i % 4]
            sent.append(await sender.send(thread, f"message {i}"))
        for listener in (on_a, on_b):
            frames = await listener.events(11)
            assert frames[0]["type"] == "chatThreadCreated"
            assert [f["data"]["id"] for f in frames[1:]] == sent
            ids = [tuple(map(int, f["id"].split("-"))) for f in frames]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert [f["id"] for f in on_a.seen if f["type"] == "chatMessageReceived"] == [
            f["id"] for f in on_b.seen if f["type"] == "chatMessageReceived"
        ]  # one order for all

        # The backlog is shared: leave node B, miss events, come back through node A.
        last_id = on_b.last_id
        on_b.kill()
        missed = [await alice.send(thread, f"missed {i}") for i in range(3)]
        again = await SseListener(node_a, bob.token, last_id=last_id).start()
        try:
            assert [f["data"]["id"] for f in await again.events(3)] == missed
        finally:
            await again.close()
    finally:
        await on_a.close()
        await on_b.close()
        for user in (alice, bob, alice_b, bob_a):
            await user.aclose()


async def test_publish_survives_a_redis_outage(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, own_redis: RedisServer, listen: Listen
) -> None:
    redis = own_redis
    (node,) = cluster(server_factory, postgres_cluster, redis.url, count=1)
    alice, bob = new_user(node), new_user(node)
    try:
        listener = await listen(node, bob)
        thread = await alice.create_thread(bob)
        await listener.events(1)
        assert redis.proc is not None
        redis.proc.kill()
        redis.proc.wait()

        started = time.monotonic()
        during = await alice.send(thread, "redis is down")  # committed: must succeed
        assert time.monotonic() - started < 5
        assert (await alice.call("GET", f"/chat/threads/{thread}/messages/{during}"))["id"] == during

        redis.start()  # the same port, an empty Redis
        # Either the queued event arrives, or the stream ends and a resume asks for a resync.
        deadline = time.monotonic() + 20
        got_it = False
        while time.monotonic() < deadline and not got_it:
            try:
                frame = await listener.next(timeout=1, control=True)
            except TimeoutError:
                continue
            if frame["type"] == "chatMessageReceived" and frame["data"]["id"] == during:
                got_it = True
            elif frame["type"] == "disconnect":
                assert frame["data"]["reason"] == "busInterrupted"
                resumed = await listen(node, bob, last_id=listener.last_id)
                await resumed.next(control=True)
                assert (await resumed.next(control=True))["type"] == "resyncRequired"
                after = await alice.send(thread, "redis is back")
                # The queued event may still arrive live after the resync (the REST catch-up has
                # it too; clients dedupe by message id); the new one must arrive.
                ids = [(await resumed.next())["data"]["id"]]
                if ids[0] == during:
                    ids.append((await resumed.next())["data"]["id"])
                assert ids[-1] == after
                got_it = True
        assert got_it, listener.seen
    finally:
        await alice.aclose()
        await bob.aclose()
