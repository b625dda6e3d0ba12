"""The ten chat events as Trouter notification bodies, the form `@azure/communication-signaling` maps.

Hubbub's events carry the payloads of the JS SDK's `events.ts` (what `/chat/events` sends); the
Trouter client wants the service's own form instead and maps it back itself (SIG34
`src/TrouterUtils.ts`): an integer `eventId`, MRIs as strings, message times and ids as the REST API
has them, and nested JSON *strings* for participants and thread properties. Every value here is
taken from the event, so the app sees the same ids, versions and times as through REST.

Rules the client imposes (docs/signaling.md):
* `eventId` must be a JSON number; `senderId`/`recipientMri`/`participantId` strings.
* participant and property strings go through `unescape()`, so every `%` is written as `%25`.
* `shareHistoryTime` and `deletedBy` are always sent (chat 1.5.4 fails without them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()

EVENT_IDS = {
    "chatMessageReceived": 200,
    "typingIndicatorReceived": 245,
    "readReceiptReceived": 246,
    "chatMessageEdited": 247,
    "chatMessageDeleted": 248,
    "chatThreadCreated": 257,
    "chatThreadPropertiesUpdated": 258,
    "chatThreadDeleted": 259,
    "participantsAdded": 260,
    "participantsRemoved": 261,
}
MESSAGE_TYPES = {"text": "Text", "html": "RichText/Html"}
"""REST message types → the Trouter `messageType` (the UI library maps both forms back)."""
ALL_HISTORY = "1970-01-01T00:00:00.000Z"


def _json(value: Any) -> str:
    return _encoder.encode(value).decode()


def _escaped_json(value: Any) -> str:
    """JSON that survives the client's `JSON.parse(unescape(s))` unchanged."""
    return _json(value).replace("%", "%25")


def _raw_id(identifier: dict[str, Any]) -> str:
    return str(identifier.get("rawId") or identifier.get("communicationUserId") or identifier.get("id") or "")


def _epoch_ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def _participant(participant: dict[str, Any] | None, *, history: bool = False) -> dict[str, Any]:
    participant = participant or {}
    body: dict[str, Any] = {"participantId": _raw_id(participant.get("id") or {})}
    if participant.get("displayName"):
        body["displayName"] = participant["displayName"]
    share = participant.get("shareHistoryTime")
    if share or history:
        body["shareHistoryTime"] = share or ALL_HISTORY
    if participant.get("metadata"):
        body["memberMetaData"] = _json(participant["metadata"])
    return body


def _retention(policy: dict[str, Any] | None) -> str | None:
    if not policy or policy.get("kind") != "threadCreationDate":
        return None
    days = policy.get("deleteThreadAfterDays")
    return _json({"retentionPolicyType": "DeleteAfterCreationTime", "executeAfter": f"{days}.00:00:00"})


def _properties(properties: dict[str, Any]) -> str:
    body: dict[str, Any] = {"topic": properties.get("topic", "")}
    if properties.get("metadata"):
        body["acsChatThreadMetadata"] = _json(properties["metadata"])
    retention = _retention(properties.get("retentionPolicy"))
    if retention is not None:
        body["retentionPolicy"] = retention
    return _escaped_json(body)


def _message(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "senderId": _raw_id(data["sender"]),
        "recipientMri": recipient,
        "groupId": data["threadId"],
        "messageId": data["id"],
        "clientMessageId": "",
        "senderDisplayName": data.get("senderDisplayName") or "",
        "messageType": MESSAGE_TYPES.get(data.get("type", ""), data.get("type", "")),
        "version": data["version"],
        "originalArrivalTime": data["createdOn"],
    }
    if "deletedOn" in data:
        body["deletetime"] = data["deletedOn"]
        return body
    body["messageBody"] = data.get("message", "")
    body["acsChatMessageMetadata"] = _json(data["metadata"]) if data.get("metadata") else ""
    if "editedOn" in data:
        body["edittime"] = data["editedOn"]
    return body


def _typing(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    return {
        "senderId": _raw_id(data["sender"]),
        "recipientMri": recipient,
        "groupId": data["threadId"],
        "senderDisplayName": data.get("senderDisplayName") or "",
        "version": data.get("version", "0"),
        "originalArrivalTime": data["receivedOn"],
    }


def _read_receipt(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    sender, message_id = _raw_id(data["sender"]), data["chatMessageId"]
    horizon = f"{message_id};{_epoch_ms(data['readOn'])};{message_id}"
    return {
        "senderId": sender,
        "recipientMri": recipient,
        "groupId": data["threadId"],
        "messageId": message_id,
        "clientMessageId": "",
        "messageBody": _json(
            {"user": sender, "consumptionhorizon": horizon, "messageVisibilityTime": 0, "version": message_id}
        ),
    }


def _thread_created(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    return {
        "threadId": data["threadId"],
        "version": data["version"],
        "createTime": data["createdOn"],
        "createdBy": _escaped_json(_participant(data.get("createdBy"))),
        "members": _escaped_json([_participant(p) for p in data.get("participants", [])]),
        "properties": _properties(data.get("properties", {})),
    }


def _thread_updated(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    return {
        "threadId": data["threadId"],
        "version": data["version"],
        "editTime": data["updatedOn"],
        "editedBy": _escaped_json(_participant(data.get("updatedBy"))),
        "properties": _properties(data.get("properties", {})),
    }


def _thread_deleted(data: dict[str, Any], recipient: str) -> dict[str, Any]:
    return {
        "threadId": data["threadId"],
        "version": data["version"],
        "deleteTime": data["deletedOn"],
        "deletedBy": _escaped_json(_participant(data.get("deletedBy"))),
    }


def _participants_changed(time_field: str, by: str, members: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    def build(data: dict[str, Any], recipient: str) -> dict[str, Any]:
        return {
            "threadId": data["threadId"],
            "version": data["version"],
            "time": data[time_field],
            by: _escaped_json(_participant(data.get(by))),
            members: _escaped_json([_participant(p, history=True) for p in data.get(members, [])]),
        }

    return build


_BUILDERS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "chatMessageReceived": _message,
    "chatMessageEdited": _message,
    "chatMessageDeleted": _message,
    "typingIndicatorReceived": _typing,
    "readReceiptReceived": _read_receipt,
    "chatThreadCreated": _thread_created,
    "chatThreadPropertiesUpdated": _thread_updated,
    "chatThreadDeleted": _thread_deleted,
    "participantsAdded": _participants_changed("addedOn", "addedBy", "participantsAdded"),
    "participantsRemoved": _participants_changed("removedOn", "removedBy", "participantsRemoved"),
}


def notification(event_type: str, data: dict[str, Any], recipient: str) -> bytes | None:
    """The Trouter body (JSON) of one event for `recipient` (a raw id), or None for a type the
    Trouter client has no eventId for."""
    build = _BUILDERS.get(event_type)
    if build is None:
        return None
    return _encoder.encode({"eventId": EVENT_IDS[event_type], **build(data, recipient)})
