"""Delivery follows membership: added participants start receiving, removed ones stop."""

from __future__ import annotations

from collections.abc import Callable

from _services import HubbubServer

from ._clients import ChatUser
from .conftest import Listen


async def test_membership_change_starts_and_stops_delivery(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    alice, bob, carol = users(), users(), users()
    to_carol = await listen(node, carol)
    thread = await alice.create_thread(bob)
    await alice.send(thread, "before carol")
    assert await to_carol.quiet() == []  # not a participant: nothing

    await alice.add(thread, carol)
    added = await to_carol.next()
    assert added["type"] == "participantsAdded"
    during = await bob.send(thread, "with carol")
    received = await to_carol.next()
    assert received["type"] == "chatMessageReceived" and received["data"]["id"] == during

    await alice.remove(thread, carol)
    removed = await to_carol.next()
    assert removed["type"] == "participantsRemoved"
    assert removed["data"]["participantsRemoved"][0]["id"]["rawId"] == carol.id
    await alice.send(thread, "after carol")
    await alice.call("POST", f"/chat/threads/{thread}/typing", {})
    marker_thread = await alice.create_thread(carol)  # an event carol must get, after the ones she must not
    marker = await to_carol.next()
    assert marker["type"] == "chatThreadCreated" and marker["data"]["threadId"] == marker_thread
    assert await to_carol.quiet() == []


async def test_every_connection_of_a_user_receives(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    alice, bob = users(), users()
    phone, laptop = await listen(node, bob), await listen(node, bob)
    thread = await alice.create_thread(bob)
    for device in (phone, laptop):
        assert (await device.next())["data"]["threadId"] == thread
