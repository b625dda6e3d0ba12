"""Every event payload, in the shapes of the ACS JS SDK's `models/events.ts`, built here and only here.

The rules call one function per event type with domain values; the keys come out in the order the
SDK's own service writes them. Identifiers use the JS `CommunicationIdentifierKind` form plus
`rawId`. The per-subscriber `recipient` field is filled in by the transport that delivers the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub import wire
from hubbub.server.domain import Message, Participant, RetentionPolicy


def identifier_kind(raw_id: str) -> dict[str, Any]:
    kind = wire.identifier_kind(raw_id)
    if kind == "communicationUser":
        return {"kind": kind, "communicationUserId": raw_id, "rawId": raw_id}
    if kind == "phoneNumber":
        return {"kind": kind, "phoneNumber": "+" + raw_id[2:], "rawId": raw_id}
    return {"kind": "unknown", "id": raw_id, "rawId": raw_id}


def signaling_participant(
    user_id: str,
    display_name: str | None = None,
    share_history_time: int | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": identifier_kind(user_id)}
    if display_name:
        body["displayName"] = display_name
    if share_history_time is not None:
        body["shareHistoryTime"] = wire.format_micros(share_history_time)
    if metadata:
        body["metadata"] = metadata
    return body


def signaling_participants(participants: Iterable[Participant]) -> list[dict[str, Any]]:
    return [signaling_participant(p.user_id, p.display_name, p.share_history_time, p.metadata) for p in participants]


def retention_policy(policy: RetentionPolicy) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": policy.kind}
    if policy.delete_thread_after_days is not None:
        body["deleteThreadAfterDays"] = policy.delete_thread_after_days
    return body


def thread_properties(topic: str, metadata: dict[str, str] | None, retention: RetentionPolicy | None) -> dict[str, Any]:
    body: dict[str, Any] = {"topic": topic}
    if metadata is not None:
        body["metadata"] = metadata
    if retention is not None:
        body["retentionPolicy"] = retention_policy(retention)
    return body


# -- thread events: `threadId`, `version`, the event's time field, then its own fields --------------


def _thread_event(thread_id: str, now: int, time_field: str, **fields: Any) -> dict[str, Any]:
    return {"threadId": thread_id, "version": str(now // 1000), time_field: wire.format_micros(now), **fields}


def thread_created(
    thread_id: str,
    now: int,
    *,
    topic: str,
    metadata: dict[str, str] | None,
    retention: RetentionPolicy | None,
    participants: Iterable[Participant],
    created_by: str,
    created_by_name: str | None,
) -> dict[str, Any]:
    return _thread_event(
        thread_id,
        now,
        "createdOn",
        properties=thread_properties(topic, metadata, retention),
        participants=signaling_participants(participants),
        createdBy=signaling_participant(created_by, created_by_name),
    )


def thread_properties_updated(
    thread_id: str,
    now: int,
    *,
    topic: str,
    metadata: dict[str, str] | None,
    retention: RetentionPolicy | None,
    updated_by: str,
    updated_by_name: str | None,
) -> dict[str, Any]:
    return _thread_event(
        thread_id,
        now,
        "updatedOn",
        properties=thread_properties(topic, metadata, retention),
        updatedBy=signaling_participant(updated_by, updated_by_name),
    )


def thread_deleted(thread_id: str, now: int, *, deleted_by: str, deleted_by_name: str | None) -> dict[str, Any]:
    return _thread_event(thread_id, now, "deletedOn", deletedBy=signaling_participant(deleted_by, deleted_by_name))


def participants_added(
    thread_id: str, now: int, *, participants: Iterable[Participant], added_by: str, added_by_name: str | None
) -> dict[str, Any]:
    return _thread_event(
        thread_id,
        now,
        "addedOn",
        participantsAdded=signaling_participants(participants),
        addedBy=signaling_participant(added_by, added_by_name),
    )


def participants_removed(
    thread_id: str, now: int, *, participants: Iterable[Participant], removed_by: str, removed_by_name: str | None
) -> dict[str, Any]:
    """The removed participants by id and display name only (as ACS sends them)."""
    return _thread_event(
        thread_id,
        now,
        "removedOn",
        participantsRemoved=[signaling_participant(p.user_id, p.display_name) for p in participants],
        removedBy=signaling_participant(removed_by, removed_by_name),
    )


# -- message events --------------------------------------------------------------------------------


def _message_event(
    *,
    thread_id: str,
    sender_id: str,
    sender_display_name: str | None,
    message_id: int,
    created_at: int,
    version: int,
    type: str,
    content: str | None = None,
    metadata: dict[str, str] | None = None,
    edited_at: int | None = None,
    deleted_at: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "threadId": thread_id,
        "sender": identifier_kind(sender_id),
        "senderDisplayName": sender_display_name or "",
        "id": str(message_id),
        "createdOn": wire.format_micros(created_at),
        "version": str(version),
        "type": type,
    }
    if deleted_at is not None:
        body["deletedOn"] = wire.format_micros(deleted_at)
    else:
        body["message"] = content or ""
        body["metadata"] = metadata or {}
    if edited_at is not None:
        body["editedOn"] = wire.format_micros(edited_at)
    return body


def message_received(
    thread_id: str,
    *,
    sender_id: str,
    sender_display_name: str | None,
    message_id: int,
    created_at: int,
    type: str,
    content: str,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """A new message; its first version is its id."""
    return _message_event(
        thread_id=thread_id,
        sender_id=sender_id,
        sender_display_name=sender_display_name,
        message_id=message_id,
        created_at=created_at,
        version=message_id,
        type=type,
        content=content,
        metadata=metadata,
    )


def _sender(message: Message) -> str:
    assert message.sender_id is not None, "only a user message is edited or deleted"
    return message.sender_id


def message_edited(
    thread_id: str, message: Message, *, version: int, content: str, metadata: dict[str, str] | None, edited_at: int
) -> dict[str, Any]:
    """An edit of `message` (as it was before the edit)."""
    return _message_event(
        thread_id=thread_id,
        sender_id=_sender(message),
        sender_display_name=message.sender_display_name,
        message_id=message.id,
        created_at=message.created_at,
        version=version,
        type=message.type,
        content=content,
        metadata=metadata,
        edited_at=edited_at,
    )


def message_deleted(thread_id: str, message: Message, *, version: int, deleted_at: int) -> dict[str, Any]:
    """The deletion of `message` (as it was before the deletion)."""
    return _message_event(
        thread_id=thread_id,
        sender_id=_sender(message),
        sender_display_name=message.sender_display_name,
        message_id=message.id,
        created_at=message.created_at,
        version=version,
        type=message.type,
        deleted_at=deleted_at,
    )


# -- typing and read receipts ------------------------------------------------------------------------


def typing_indicator(thread_id: str, now: int, *, sender_id: str, sender_display_name: str | None) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "sender": identifier_kind(sender_id),
        "senderDisplayName": sender_display_name or "",
        "receivedOn": wire.format_micros(now),
        "version": str(now // 1000),
    }


def read_receipt(
    thread_id: str, now: int, *, sender_id: str, sender_display_name: str | None, message_id: str
) -> dict[str, Any]:
    """`message_id` as the request wrote it."""
    return {
        "threadId": thread_id,
        "sender": identifier_kind(sender_id),
        "senderDisplayName": sender_display_name or "",
        "chatMessageId": message_id,
        "readOn": wire.format_micros(now),
    }
