"""The Trouter bodies of the ten events, and socket.io 0.9 packets, without a server.

The expected bodies follow the frames the JS client was captured accepting (docs/signaling.md
§3.5); the browser test checks what the unchanged client makes of them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubbub.server.signaling import frames
from hubbub.server.signaling.notifications import EVENT_IDS, notification

THREAD = "19:acsV1_q2WJ3i@thread.v2"
BOB, ALICE, CAROL = "8:acs:r1_bob", "8:acs:r1_alice", "8:acs:r1_carol"


def ident(raw_id: str) -> dict[str, str]:
    return {"kind": "communicationUser", "communicationUserId": raw_id, "rawId": raw_id}


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    encoded = notification(event_type, {"threadId": THREAD, **data}, ALICE)
    assert encoded is not None
    decoded: dict[str, Any] = json.loads(encoded)
    assert decoded.pop("eventId") == EVENT_IDS[event_type]
    return decoded


MESSAGE = {
    "sender": ident(BOB),
    "senderDisplayName": "Bob",
    "id": "1727000000001",
    "createdOn": "2024-09-22T10:13:20.001Z",
    "version": "1727000000001",
    "type": "text",
}
ROUTING = {"senderId": BOB, "recipientMri": ALICE, "groupId": THREAD}


def test_message_received_edited_deleted() -> None:
    common = {**ROUTING, "messageId": "1727000000001", "clientMessageId": "", "senderDisplayName": "Bob"}
    common |= {"messageType": "Text", "originalArrivalTime": "2024-09-22T10:13:20.001Z"}
    received = body("chatMessageReceived", {**MESSAGE, "message": "hello", "metadata": {"k": "v"}})
    assert received == {
        **common,
        "version": "1727000000001",
        "messageBody": "hello",
        "acsChatMessageMetadata": '{"k":"v"}',
    }
    edited = body(
        "chatMessageEdited",
        {
            **MESSAGE,
            "type": "html",
            "version": "5",
            "message": "<b>x</b>",
            "metadata": {},
            "editedOn": "2024-09-22T10:13:20.555Z",
        },
    )
    assert edited["messageType"] == "RichText/Html" and edited["edittime"] == "2024-09-22T10:13:20.555Z"
    assert (edited["messageBody"], edited["acsChatMessageMetadata"], edited["version"]) == ("<b>x</b>", "", "5")
    deleted = body("chatMessageDeleted", {**MESSAGE, "version": "7", "deletedOn": "2024-09-22T10:13:20.777Z"})
    assert deleted == {**common, "version": "7", "deletetime": "2024-09-22T10:13:20.777Z"}


def test_typing_and_read_receipt() -> None:
    typing = body(
        "typingIndicatorReceived",
        {"sender": ident(BOB), "senderDisplayName": "Bob", "receivedOn": "2024-09-22T10:13:21Z", "version": "9"},
    )
    assert typing == {
        **ROUTING,
        "senderDisplayName": "Bob",
        "version": "9",
        "originalArrivalTime": "2024-09-22T10:13:21Z",
    }
    receipt = body(
        "readReceiptReceived",
        {
            "sender": ident(BOB),
            "senderDisplayName": "",
            "chatMessageId": "1727000000001",
            "readOn": "2024-09-22T10:13:22.5Z",
        },
    )
    inner = json.loads(receipt.pop("messageBody"))
    assert receipt == {**ROUTING, "messageId": "1727000000001", "clientMessageId": ""}
    # the client reads `readOn` from the second part, in epoch milliseconds
    assert inner["consumptionhorizon"].split(";")[1] == "1727000002500"
    assert inner["user"] == BOB


def test_thread_events_use_json_strings_with_percent_escaped() -> None:
    created = body(
        "chatThreadCreated",
        {
            "version": "1727000003000",
            "createdOn": "2024-09-22T10:13:23Z",
            "createdBy": {"id": ident(BOB), "displayName": "Bob"},
            "participants": [
                {"id": ident(BOB), "displayName": "Bob", "metadata": {"role": "host"}},
                {"id": ident(ALICE), "displayName": "Alice", "shareHistoryTime": "2024-09-22T10:00:00Z"},
            ],
            "properties": {
                "topic": "50%AB",
                "metadata": {"k": "v"},
                "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 40},
            },
        },
    )
    assert created["createTime"] == "2024-09-22T10:13:23Z" and created["version"] == "1727000003000"
    assert json.loads(created["createdBy"]) == {"participantId": BOB, "displayName": "Bob"}
    assert json.loads(created["members"]) == [
        {"participantId": BOB, "displayName": "Bob", "memberMetaData": '{"role":"host"}'},
        {"participantId": ALICE, "displayName": "Alice", "shareHistoryTime": "2024-09-22T10:00:00Z"},
    ]
    properties = json.loads(created["properties"].replace("%25", "%"))  # what unescape() gives back
    assert properties == {
        "topic": "50%AB",
        "acsChatThreadMetadata": '{"k":"v"}',
        "retentionPolicy": '{"retentionPolicyType":"DeleteAfterCreationTime","executeAfter":"40.00:00:00"}',
    }
    assert "%AB" not in created["properties"]

    updated = body(
        "chatThreadPropertiesUpdated",
        {
            "version": "2",
            "updatedOn": "2024-09-22T10:13:24Z",
            "updatedBy": {"id": ident(BOB)},
            "properties": {"topic": "Dinner"},
        },
    )
    assert updated["editTime"] == "2024-09-22T10:13:24Z" and json.loads(updated["properties"]) == {"topic": "Dinner"}
    assert json.loads(updated["editedBy"]) == {"participantId": BOB}

    deleted = body(
        "chatThreadDeleted", {"version": "3", "deletedOn": "2024-09-22T10:13:25Z", "deletedBy": {"id": ident(BOB)}}
    )
    assert deleted == {
        "threadId": THREAD,
        "version": "3",
        "deleteTime": "2024-09-22T10:13:25Z",
        "deletedBy": json.dumps({"participantId": BOB}, separators=(",", ":")),
    }


@pytest.mark.parametrize(("event_type", "time", "by", "members"), [
    ("participantsAdded", "addedOn", "addedBy", "participantsAdded"),
    ("participantsRemoved", "removedOn", "removedBy", "participantsRemoved"),
])  # fmt: skip
def test_participants_always_carry_share_history_time(event_type: str, time: str, by: str, members: str) -> None:
    changed = body(
        event_type,
        {"version": "4", time: "2024-09-22T10:13:26Z", by: {"id": ident(BOB), "displayName": "Bob"},
         members: [{"id": ident(CAROL), "displayName": "Carol"}]},
    )  # fmt: skip
    assert changed["time"] == "2024-09-22T10:13:26Z"
    assert json.loads(changed[by]) == {"participantId": BOB, "displayName": "Bob"}
    # chat 1.5.4 makes an Invalid Date without it; 1970 means "all history"
    assert json.loads(changed[members]) == [
        {"participantId": CAROL, "displayName": "Carol", "shareHistoryTime": "1970-01-01T00:00:00.000Z"}
    ]


def test_unknown_event_types_are_not_pushed() -> None:
    assert notification("somethingElse", {}, ALICE) is None


def test_socket_io_packets() -> None:
    ping = frames.decode('5:3+::{"name":"ping"}')
    assert ping is not None and ping.event() == ("ping", []) and frames.ack(ping) == "6:::3+[]"
    activity = frames.decode('5:1+::{"name":"user.activity","args":[{"state":"active"}]}')
    assert activity is not None and activity.event() == ("user.activity", [{"state": "active"}])
    plain = frames.decode("5:4::{}")
    assert plain is not None and frames.ack(plain) == "6:::4" and plain.event() is None
    assert frames.decode("0::") == frames.Packet("0", None, False, "", "")
    response = frames.decode('3:::{"id":1,"status":200}')
    assert response is not None and response.data == '{"id":1,"status":200}' and frames.ack(response) is None
    assert frames.decode("nonsense") is None
    assert frames.event("trouter.connected", {"ttl": "60"}) == '5:::{"name":"trouter.connected","args":[{"ttl":"60"}]}'
    assert frames.disconnect("unauthorized") == '0:::{"reason":"unauthorized"}'
    pushed = frames.request(7, "https://h/surl/messaging", b'{"eventId":200}', "cv.7")
    envelope = json.loads(pushed.removeprefix("3:::"))
    assert envelope == {
        "id": 7,
        "method": "POST",
        "url": "https://h/surl/messaging",
        "headers": {"MS-CV": "cv.7"},
        "body": '{"eventId":200}',
    }
    assert frames.handshake_body("abc", 30, 30) == "abc:30:30:websocket"
