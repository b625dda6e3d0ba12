"""Event payloads in the shapes of the ACS JS SDK's `models/events.ts`.

Identifiers use the JS `CommunicationIdentifierKind` form plus `rawId`. The per-subscriber
`recipient` field is filled in by the transport that delivers the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub import wire


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


def signaling_participants(specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Signaling participants for objects with `user_id`, `display_name`, `share_history_time`, `metadata`."""
    return [signaling_participant(s.user_id, s.display_name, s.share_history_time, s.metadata) for s in specs]


def message_event(
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


def thread_properties(topic: str, metadata: dict[str, str] | None, retention: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"topic": topic}
    if metadata is not None:
        body["metadata"] = metadata
    if retention is not None:
        body["retentionPolicy"] = retention
    return body
