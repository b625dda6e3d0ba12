"""Two users in a thread receive every event type, on both transports, in order."""

from __future__ import annotations

from collections.abc import Callable

from _services import HubbubServer

from ._clients import ChatUser
from .conftest import Listen


def stream_order(frames: list[dict[str, object]]) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in str(f["id"]).split("-")) for f in frames]  # type: ignore[misc]


async def test_every_event_type_reaches_both_users(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    alice, bob, carol = users(), users(), users()
    to_alice, to_bob = await listen(node, alice), await listen(node, bob)
    hello = await to_alice.next(control=True)
    assert hello["type"] == "connected" and hello["data"]["userId"] == alice.id and "id" in hello

    thread = await alice.create_thread(bob)
    message = await alice.send(thread, "hello bob")
    await alice.call("PATCH", f"/chat/threads/{thread}/messages/{message}", {"content": "hello, bob"}, expect=204)
    await alice.call("POST", f"/chat/threads/{thread}/typing", {})
    await bob.call("POST", f"/chat/threads/{thread}/readReceipts", {"chatMessageId": message})
    await alice.call("PATCH", f"/chat/threads/{thread}", {"topic": "renamed"}, expect=204)
    await alice.add(thread, carol)
    await alice.remove(thread, carol)
    await alice.call("DELETE", f"/chat/threads/{thread}/messages/{message}", expect=204)
    await alice.call("DELETE", f"/chat/threads/{thread}", expect=204)

    both = ["chatThreadCreated", "chatMessageReceived", "chatMessageEdited"]
    after_typing = [
        "readReceiptReceived",
        "chatThreadPropertiesUpdated",
        "participantsAdded",
        "participantsRemoved",
        "chatMessageDeleted",
        "chatThreadDeleted",
    ]
    for listener, me, expected in (
        (to_alice, alice, both + after_typing),
        (to_bob, bob, [*both, "typingIndicatorReceived", *after_typing]),
    ):
        frames = await listener.events(len(expected))
        assert [f["type"] for f in frames] == expected
        assert stream_order(frames) == sorted(stream_order(frames))
        assert len({f["id"] for f in frames}) == len(frames)
        for frame in frames:
            data = frame["data"]
            assert data["threadId"] == thread
            assert data["recipient"] == {"kind": "communicationUser", "communicationUserId": me.id, "rawId": me.id}
        by_type = {f["type"]: f["data"] for f in frames}
        received = by_type["chatMessageReceived"]
        assert received["sender"]["rawId"] == alice.id  # the sender sees its own message too
        assert received["message"] == "hello bob" and received["id"] == message and received["type"] == "text"
        assert by_type["chatMessageEdited"]["message"] == "hello, bob" and "editedOn" in by_type["chatMessageEdited"]
        assert "deletedOn" in by_type["chatMessageDeleted"]
        assert by_type["readReceiptReceived"]["chatMessageId"] == message
        assert by_type["readReceiptReceived"]["sender"]["rawId"] == bob.id
        assert by_type["chatThreadPropertiesUpdated"]["properties"]["topic"] == "renamed"
        assert [p["id"]["rawId"] for p in by_type["participantsAdded"]["participantsAdded"]] == [carol.id]
        assert [p["id"]["rawId"] for p in by_type["participantsRemoved"]["participantsRemoved"]] == [carol.id]
        assert by_type["chatThreadDeleted"]["deletedBy"]["id"]["rawId"] == alice.id
    assert await to_alice.quiet() == []  # the typing user does not hear itself


async def test_heartbeats_carry_the_stream_position(
    node: HubbubServer, users: Callable[[], ChatUser], listen: Listen
) -> None:
    alice = users()
    listener = await listen(node, alice)
    hello = await listener.next(control=True)
    beat = await listener.next(timeout=5, control=True)
    assert beat["type"] == "heartbeat" and beat["id"] >= hello["id"]
    assert hello["data"]["heartbeatSeconds"] == 1.0
