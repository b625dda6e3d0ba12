"""Nothing lost: kill -9 under send load, several nodes on one database, a node dying mid-delivery."""

from __future__ import annotations

import asyncio
import base64
import collections
import os
import time

import httpx
import pytest

from _services import HubbubServer, PostgresCluster, ServerFactory
from events._clients import API, new_user

from ._receiver import Receiver
from .conftest import FAST, Subscribe

IN_THREAD = "Microsoft.Communication.ChatMessageReceivedInThread"


async def test_kill_9_under_send_load_loses_no_event(
    hub: HubbubServer, receiver: Receiver, subscribe: Subscribe
) -> None:
    """Every message the API acknowledged (201) reaches the webhook after a kill -9 and a restart."""
    path = subscribe(hub, "--event-types", IN_THREAD)
    users = [new_user(hub) for _ in range(3)]
    thread = await users[0].create_thread(*users[1:])
    acknowledged: list[str] = []
    stopped = asyncio.Event()

    async def send(index: int) -> None:
        user = users[index % len(users)]
        count = 0
        while not stopped.is_set():
            try:
                response = await user.http.post(
                    f"/chat/threads/{thread}/messages",
                    params={"api-version": API},
                    json={"content": f"load {index}-{count}"},
                )
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
            count += 1

    senders = [asyncio.create_task(send(i)) for i in range(8)]
    await asyncio.sleep(2.0)
    hub.kill9()  # mid-load: requests in flight get no answer and are not counted
    stopped.set()
    await asyncio.gather(*senders)
    assert len(acknowledged) > 50, "the load did not get going"
    hub.start()
    delivered = wait_for_messages(receiver, path, set(acknowledged), timeout=90)
    missing = set(acknowledged) - set(delivered)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged messages have no event"
    twice = sum(1 for n in delivered.values() if n > 1)
    print(f"kill -9 ({hub.engine}): {len(acknowledged)} acknowledged, all delivered, {twice} more than once")
    for user in users:
        await user.aclose()


def wait_for_messages(receiver: Receiver, path: str, wanted: set[str], timeout: float) -> collections.Counter[str]:
    """How often each message id arrived, once every id in `wanted` did (or `timeout` passed).

    Counting events is not enough: at least once means a copy may arrive twice (a delivery cut
    short by the kill is sent again once its lease runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        delivered = collections.Counter(e["data"]["messageId"] for e in receiver.received(path))
        if wanted <= set(delivered) or time.monotonic() > deadline:
            return delivered
        time.sleep(0.2)


def _shared_nodes(server_factory: ServerFactory, postgres_cluster: PostgresCluster, **env: str) -> list[HubbubServer]:
    """Two nodes on one fresh PostgreSQL database, sharing one access key."""
    key = base64.b64encode(os.urandom(32)).decode()
    shared = {"HUBBUB_DATABASE_URL": postgres_cluster.create_database(), "HUBBUB_ACCESS_KEY": key, **FAST, **env}
    nodes = [server_factory("sqlite", env=shared, start=False) for _ in range(2)]
    for node in nodes:
        node.access_key = key
    return nodes


@pytest.mark.postgres
async def test_two_nodes_deliver_each_event_once(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, receiver: Receiver, subscribe: Subscribe
) -> None:
    nodes = _shared_nodes(server_factory, postgres_cluster)
    for node in nodes:
        node.start()
    path = subscribe(nodes[0], "--event-types", IN_THREAD)
    alice, bob = new_user(nodes[0]), new_user(nodes[0])
    thread = await alice.create_thread(bob)
    senders = [alice, alice.on(nodes[1])]
    sent = [await senders[i % 2].send(thread, f"message {i}") for i in range(120)]
    receiver.wait_for(path, len(sent), timeout=60)
    time.sleep(1.5)
    delivered = collections.Counter(e["data"]["messageId"] for e in receiver.received(path))
    assert set(delivered) == set(sent)
    assert [m for m, n in delivered.items() if n > 1] == [], "an event was delivered twice"
    for user in (*senders, bob):
        await user.aclose()


@pytest.mark.postgres
async def test_a_node_that_dies_mid_delivery_leaves_the_event_to_another(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, receiver: Receiver, subscribe: Subscribe
) -> None:
    first, second = _shared_nodes(server_factory, postgres_cluster, HUBBUB_WEBHOOK_TIMEOUT_SECONDS="2")
    first.start()
    path = subscribe(first, "--event-types", IN_THREAD)
    receiver.control(path, delay=3, delays=1)  # the first delivery hangs...
    alice, bob = new_user(first), new_user(first)
    thread = await alice.create_thread(bob)
    message_id = await alice.send(thread, "in flight")
    await asyncio.sleep(1.0)
    first.kill9()  # ...and its node dies while it waits for the answer
    second.start()
    events = receiver.wait_for(path, 2, timeout=40)
    retried = [e for e in events if e["headers"]["aeg-delivery-count"] != "0"]
    assert [e["data"]["messageId"] for e in retried] == [message_id], events
    await alice.aclose()
    await bob.aclose()


@pytest.mark.postgres
async def test_an_api_node_without_delivery_still_records_for_the_others(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, receiver: Receiver, subscribe: Subscribe
) -> None:
    """HUBBUB_WEBHOOKS=false: the node writes the outbox (it follows the subscriptions); another delivers."""
    api_node, delivering = _shared_nodes(server_factory, postgres_cluster)
    api_node.extra_env["HUBBUB_WEBHOOKS"] = "false"
    api_node.start()
    delivering.start()
    path = subscribe(api_node, "--event-types", IN_THREAD)  # made after both started
    time.sleep(0.5)  # the API node's next look at the subscriptions (poll 0.2 s)
    alice, bob = new_user(api_node), new_user(api_node)
    thread = await alice.create_thread(bob)
    sent = [await alice.send(thread, f"via the API node {i}") for i in range(5)]
    delivered = wait_for_messages(receiver, path, set(sent), timeout=30)
    assert set(delivered) == set(sent)
    await alice.aclose()
    await bob.aclose()
