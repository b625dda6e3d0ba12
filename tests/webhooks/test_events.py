"""The events a webhook receives, parsed by azure-eventgrid, field by field against the REST API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.eventgrid import SystemEventNames

from _services import HubbubServer
from events._clients import ChatUser, new_user

from ._receiver import Receiver
from .conftest import Subscribe

TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/hubbub"
    "/providers/Microsoft.Communication/communicationServices/hubbub"
)


def identifier(user: ChatUser) -> dict[str, Any]:
    """What the REST API returns for a user (`communicationIdentifier`), kind included."""
    return {"rawId": user.id, "kind": "communicationUser", "communicationUser": {"id": user.id}}


def by_type(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(event["type"], []).append(event)
    return grouped


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
async def test_one_message_in_a_three_member_thread(
    hub: HubbubServer, receiver: Receiver, subscribe: Subscribe, schema: str
) -> None:
    path = subscribe(hub, schema=schema)
    alice, bob, carol = new_user(hub), new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob, carol, topic="Lunch")
    before = len(receiver.wait_for(path, 3))  # ChatThreadCreated + two ChatThreadCreatedWithUser
    sent = await alice.call(
        "POST",
        f"/chat/threads/{thread}/messages",
        {"content": "Noodles at noon?", "senderDisplayName": "Alice", "metadata": {"tag": "food"}},
        expect=201,
    )
    message = await bob.call("GET", f"/chat/threads/{thread}/messages/{sent['id']}")
    events = receiver.wait_for(path, before + 3)[before:]
    time.sleep(0.5)
    assert len(receiver.received(path)) == before + 3, "one thread-level and two user-level events, no more"
    grouped = by_type(events)
    in_thread = grouped[SystemEventNames.AcsChatMessageReceivedInThreadEventName]
    per_user = grouped[SystemEventNames.AcsChatMessageReceivedEventName]
    assert len(in_thread) == 1 and len(per_user) == 2
    assert {e["data"]["recipientCommunicationIdentifier"]["rawId"] for e in per_user} == {bob.id, carol.id}

    common = {
        "threadId": thread,
        "messageId": message["id"],
        "senderCommunicationIdentifier": identifier(alice),
        "senderDisplayName": message["senderDisplayName"],
        "composeTime": message["createdOn"],
        "type": "Text",
        "version": int(message["version"]),
        "messageBody": message["content"]["message"],
        "metadata": message["metadata"],
    }
    data = in_thread[0]["data"]
    assert {k: data[k] for k in common} == common
    assert set(data) == {*common, "transactionId"}
    assert in_thread[0]["subject"] == f"thread/{thread}/sender/{alice.id}"
    for event in per_user:
        data = event["data"]
        assert {k: data[k] for k in common} == common
        assert set(data) == {*common, "transactionId", "recipientCommunicationIdentifier"}
        recipient = data["recipientCommunicationIdentifier"]["rawId"]
        assert event["subject"] == f"thread/{thread}/sender/{alice.id}/recipient/{recipient}"
        assert data["transactionId"] == in_thread[0]["data"]["transactionId"]
    for event in events:
        assert event["schema"] == schema
        assert event["headers"]["aeg-event-type"] == "Notification"
        assert event["headers"]["aeg-subscription-name"] == path.strip("/").upper()
        assert event["headers"]["x-hubbub-delivery-secret"]
        if schema == "eventgrid":
            assert event["topic"] == TOPIC and event["data_version"] == "1.0"
        else:
            assert event["source"] == TOPIC
    assert len({e["id"] for e in events}) == 3


async def test_every_kind_of_change(hub: HubbubServer, receiver: Receiver, subscribe: Subscribe) -> None:
    """Edits, deletes, topic changes, membership and thread deletion: thread-level plus per user."""
    path = subscribe(hub)
    alice, bob, carol = new_user(hub), new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob, topic="Plans")
    message_id = await alice.send(thread, "draft")
    await alice.call("PATCH", f"/chat/threads/{thread}/messages/{message_id}", {"content": "final"}, expect=204)
    await alice.call("DELETE", f"/chat/threads/{thread}/messages/{message_id}", expect=204)
    await bob.call("PATCH", f"/chat/threads/{thread}", {"topic": "New plans"}, expect=204)
    await alice.add(thread, carol)
    await alice.remove(thread, carol)
    await alice.call("DELETE", f"/chat/threads/{thread}", expect=204)
    expected = {
        "ChatThreadCreated": 1,
        "ChatThreadCreatedWithUser": 1,  # bob (not the creator)
        "ChatMessageReceivedInThread": 1,
        "ChatMessageReceived": 1,
        "ChatMessageEditedInThread": 1,
        "ChatMessageEdited": 1,
        "ChatMessageDeletedInThread": 1,
        "ChatMessageDeleted": 1,
        "ChatThreadPropertiesUpdated": 1,
        "ChatThreadPropertiesUpdatedPerUser": 1,  # alice (bob edited)
        "ChatThreadParticipantAdded": 1,
        "ChatParticipantAddedToThreadWithUser": 2,  # bob and carol
        "ChatThreadParticipantRemoved": 1,
        "ChatParticipantRemovedFromThreadWithUser": 2,  # bob and carol
        "ChatThreadDeleted": 1,
        "ChatThreadWithUserDeleted": 1,  # bob
    }
    events = receiver.wait_for(path, sum(expected.values()))
    time.sleep(0.5)
    events = receiver.received(path)
    counts = {t.removeprefix("Microsoft.Communication."): len(v) for t, v in by_type(events).items()}
    assert counts == expected
    grouped = by_type(events)

    def one(name: str) -> dict[str, Any]:
        return grouped["Microsoft.Communication." + name][0]

    edited = one("ChatMessageEdited")["data"]
    assert edited["messageBody"] == "final" and edited["editTime"] and edited["messageId"] == message_id
    assert one("ChatMessageDeletedInThread")["data"]["deleteTime"]
    updated = one("ChatThreadPropertiesUpdatedPerUser")
    assert updated["data"]["properties"] == {"topic": "New plans"}
    assert updated["data"]["editedByCommunicationIdentifier"]["rawId"] == bob.id
    assert updated["subject"] == f"thread/{thread}/editedBy/{bob.id}/recipient/{alice.id}"
    created = one("ChatThreadCreated")["data"]
    assert created["properties"] == {"topic": "Plans"}
    assert {p["participantCommunicationIdentifier"]["rawId"] for p in created["participants"]} == {alice.id, bob.id}
    added = one("ChatThreadParticipantAdded")
    assert added["data"]["participantAdded"]["participantCommunicationIdentifier"]["rawId"] == carol.id
    assert added["data"]["addedByCommunicationIdentifier"]["rawId"] == alice.id
    assert added["subject"] == f"thread/{thread}/participantadded/{carol.id}"
    deleted = one("ChatThreadWithUserDeleted")
    assert deleted["data"]["deletedByCommunicationIdentifier"]["rawId"] == alice.id
    assert deleted["data"]["recipientCommunicationIdentifier"]["rawId"] == bob.id
    assert deleted["data"]["createTime"] == created["createTime"]
