"""The ACS chat events as Event Grid publishes them, built from outbox rows; no I/O in here.

One outbox row (one change) becomes one thread-level event and one user-level event per recipient,
the one who made the change excluded (Microsoft docs, "Azure Communication Services - chat events").
The data fields are those of azure-eventgrid's `AcsChat*EventData` models; identifiers are
`CommunicationIdentifierModel`s (`rawId` plus the typed object), as the REST API returns them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import msgspec

from hubbub import wire
from hubbub.server import random_ids
from hubbub.server.store.outbox import NewDelivery, OutboxRow
from hubbub.server.store.subscriptions import Subscription

PREFIX = "Microsoft.Communication."
EVENT_GRID_SCHEMA = "EventGridSchema"
CLOUD_EVENT_SCHEMA = "CloudEventSchemaV1_0"
SCHEMAS = (EVENT_GRID_SCHEMA, CLOUD_EVENT_SCHEMA)

# outbox kind -> (thread-level type, user-level type, subject verb)
KINDS: dict[str, tuple[str, str, str]] = {
    "messageReceived": ("ChatMessageReceivedInThread", "ChatMessageReceived", "sender"),
    "messageEdited": ("ChatMessageEditedInThread", "ChatMessageEdited", "sender"),
    "messageDeleted": ("ChatMessageDeletedInThread", "ChatMessageDeleted", "sender"),
    "threadCreated": ("ChatThreadCreated", "ChatThreadCreatedWithUser", "createdBy"),
    "threadDeleted": ("ChatThreadDeleted", "ChatThreadWithUserDeleted", "deletedBy"),
    "threadUpdated": ("ChatThreadPropertiesUpdated", "ChatThreadPropertiesUpdatedPerUser", "editedBy"),
    "participantAdded": ("ChatThreadParticipantAdded", "ChatParticipantAddedToThreadWithUser", "participantadded"),
    "participantRemoved": (
        "ChatThreadParticipantRemoved",
        "ChatParticipantRemovedFromThreadWithUser",
        "participantremoved",
    ),
}
_encoder = msgspec.json.Encoder()
EVENT_TYPES = tuple(PREFIX + name for levels in KINDS.values() for name in levels[:2])
"""Every event type Hubbub publishes, prefixed."""


def identifier(raw_id: str) -> dict[str, Any]:
    """A `CommunicationIdentifierModel`: what the REST API returns for the same identity."""
    return wire.identifier_to_wire(raw_id)


def participant(p: dict[str, Any]) -> dict[str, Any]:
    """An `AcsChatThreadParticipantProperties` from a participant as the outbox keeps it."""
    body: dict[str, Any] = {
        "displayName": p.get("displayName") or "",
        "participantCommunicationIdentifier": identifier(p["id"]),
    }
    if p.get("metadata"):
        body["metadata"] = p["metadata"]
    return body


@dataclasses.dataclass(frozen=True, slots=True)
class Built:
    event_type: str
    event: dict[str, Any]
    user_level: bool


def _message_data(row: OutboxRow) -> dict[str, Any]:
    d = row.data
    body: dict[str, Any] = {
        "threadId": row.thread_id,
        "messageId": str(d["messageId"]),
        "senderCommunicationIdentifier": identifier(row.actor),
        "senderDisplayName": d.get("senderDisplayName") or "",
        "composeTime": wire.format_micros(d.get("composeTime", row.created_at)),
        "type": str(d["type"]).capitalize(),
        "version": int(d.get("version", d["messageId"])),
    }
    if row.kind == "messageDeleted":
        body["deleteTime"] = wire.format_micros(row.created_at)
        return body
    body["messageBody"] = d["content"]
    body["metadata"] = d.get("metadata") or {}
    if row.kind == "messageEdited":
        body["editTime"] = wire.format_micros(row.created_at)
    return body


def _thread_data(row: OutboxRow) -> dict[str, Any]:
    d = row.data
    body: dict[str, Any] = {
        "threadId": row.thread_id,
        "createTime": wire.format_micros(d["createTime"]),
        "version": row.created_at // 1000,
    }
    actor = identifier(row.actor)
    if row.kind == "threadCreated":
        body["createdByCommunicationIdentifier"] = actor
        body["properties"] = {"topic": d["topic"]}
        body["metadata"] = d.get("metadata") or {}
        body["participants"] = [participant(p) for p in d["participants"]]
    elif row.kind == "threadDeleted":
        body["deletedByCommunicationIdentifier"] = actor
        body["deleteTime"] = wire.format_micros(row.created_at)
    else:  # threadUpdated
        body["editedByCommunicationIdentifier"] = actor
        body["editTime"] = wire.format_micros(row.created_at)
        body["properties"] = {"topic": d["topic"]}
        body["metadata"] = d.get("metadata") or {}
    return body


def _membership_data(row: OutboxRow, changed: dict[str, Any]) -> dict[str, Any]:
    added = row.kind == "participantAdded"
    return {
        "threadId": row.thread_id,
        "time": wire.format_micros(row.created_at),
        ("addedByCommunicationIdentifier" if added else "removedByCommunicationIdentifier"): identifier(row.actor),
        ("participantAdded" if added else "participantRemoved"): participant(changed),
        "version": row.created_at // 1000,
    }


def _envelope(event_type: str, subject: str, data: dict[str, Any], row: OutboxRow, topic: str) -> dict[str, Any]:
    return {
        "id": str(random_ids.uuid4()),
        "topic": topic,
        "subject": subject,
        "data": data,
        "eventType": PREFIX + event_type,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": wire.format_micros(row.created_at),
    }


def build_events(row: OutboxRow, topic: str) -> Iterator[Built]:
    """The thread-level event(s) of a change, then one user-level event per recipient but the actor."""
    in_thread, with_user, verb = KINDS[row.kind]
    transaction_id = random_ids.uuid4().hex
    recipients = [r for r in dict.fromkeys(row.recipients) if r != row.actor]
    if row.kind in ("participantAdded", "participantRemoved"):
        parts = [(p["id"], _membership_data(row, p)) for p in row.data["participants"]]
    elif row.kind.startswith("message"):
        parts = [(row.actor, _message_data(row))]
    else:
        parts = [(row.actor, _thread_data(row))]
    for who, data in parts:
        base = f"thread/{row.thread_id}/{verb}/{who}"
        yield Built(
            PREFIX + in_thread, _envelope(in_thread, base, {**data, "transactionId": transaction_id}, row, topic), False
        )
        for recipient in recipients:
            user_data: dict[str, Any] = {"recipientCommunicationIdentifier": identifier(recipient), **data}
            if with_user not in ("ChatMessageReceived", "ChatMessageEdited", "ChatMessageDeleted"):
                user_data.setdefault("createTime", wire.format_micros(row.data.get("createTime", row.created_at)))
            user_data["transactionId"] = transaction_id
            yield Built(
                PREFIX + with_user,
                _envelope(with_user, f"{base}/recipient/{recipient}", user_data, row, topic),
                True,
            )


def matches(sub: Subscription, event_type: str, subject: str) -> bool:
    """The subscription's filter: included types, then subject prefix and suffix (case-insensitive)."""
    if sub.event_types is not None and event_type.lower() not in {t.lower() for t in sub.event_types}:
        return False
    lowered = subject.lower()
    return lowered.startswith(sub.subject_begins_with.lower()) and lowered.endswith(sub.subject_ends_with.lower())


def fan_out(rows: list[OutboxRow], subscriptions: list[Subscription], *, topic: str) -> list[NewDelivery]:
    """Every (subscription, event) pair the filters let through, each event rendered once per schema
    as the JSON text it is sent as; the same event keeps its id everywhere. A delivery's time to live
    counts from the change."""
    deliveries: list[NewDelivery] = []
    if not subscriptions:
        return deliveries
    for row in rows:
        for built in build_events(row, topic):
            texts: dict[str, str] = {}
            for sub in subscriptions:
                if matches(sub, built.event_type, built.event["subject"]):
                    text = texts.get(sub.delivery_schema)
                    if text is None:
                        text = texts[sub.delivery_schema] = render(built.event, sub.delivery_schema)
                    deliveries.append(NewDelivery(sub.name, built.event["id"], built.event_type, text, row.created_at))
    return deliveries


def render(event: dict[str, Any], schema: str) -> str:
    """An event as the JSON text of one element of a delivery in `schema`."""
    return _encoder.encode(cloud_event(event) if schema == CLOUD_EVENT_SCHEMA else event).decode()


def cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same event in the CloudEvents 1.0 schema (structured JSON), as Event Grid maps it."""
    return {
        "id": event["id"],
        "source": event["topic"],
        "specversion": "1.0",
        "type": event["eventType"],
        "subject": event["subject"],
        "time": event["eventTime"],
        "datacontenttype": "application/json",
        "data": event["data"],
    }
