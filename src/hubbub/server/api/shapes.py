"""Store rows rendered as ACS response bodies (spec §5.2), per api-version."""

from __future__ import annotations

import json
from typing import Any

from hubbub import wire
from hubbub.server.api.http import has_thread_extras
from hubbub.server.store import Row

SYSTEM_TYPES = ("topicUpdated", "participantAdded", "participantRemoved")


def thread_properties(row: Row, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row["id"],
        "topic": row["topic"],
        "createdOn": wire.format_micros(row["created_at"]),
        "createdByCommunicationIdentifier": wire.identifier_to_wire(row["created_by"]),
    }
    if row["deleted_at"] is not None:
        body["deletedOn"] = wire.format_micros(row["deleted_at"])
    if has_thread_extras(version):
        if row["metadata"] is not None:
            body["metadata"] = json.loads(row["metadata"])
        if row["retention_policy"] is not None:
            body["retentionPolicy"] = json.loads(row["retention_policy"])
    return body


def thread_item(row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {"id": row["id"], "topic": row["topic"]}
    if row["deleted_at"] is not None:
        body["deletedOn"] = wire.format_micros(row["deleted_at"])
    if row["last_message_at"] is not None:
        body["lastMessageReceivedOn"] = wire.format_micros(row["last_message_at"])
    return body


def participant(
    user_id: str,
    display_name: str | None,
    share_history_time: int | None,
    metadata: dict[str, str] | None,
    version: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {"communicationIdentifier": wire.identifier_to_wire(user_id)}
    if display_name is not None:
        body["displayName"] = display_name
    if share_history_time is not None:
        body["shareHistoryTime"] = wire.format_micros(share_history_time)
    if metadata and has_thread_extras(version):
        body["metadata"] = metadata
    return body


def participant_row(row: Row, version: str) -> dict[str, Any]:
    metadata = json.loads(row["metadata"]) if row["metadata"] else None
    return participant(row["user_id"], row["display_name"], row["share_history_time"], metadata, version)


def message(row: Row, version: str) -> dict[str, Any]:
    kind = row["type"]
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "type": kind,
        "sequenceId": str(row["seq"]),
        "version": str(row["version"]),
        "createdOn": wire.format_micros(row["created_at"]),
    }
    if kind in SYSTEM_TYPES:
        system = json.loads(row["content"])
        content: dict[str, Any] = {"initiatorCommunicationIdentifier": wire.identifier_to_wire(system["initiator"])}
        if "topic" in system:
            content["topic"] = system["topic"]
        if "participants" in system:
            content["participants"] = [
                participant(p["id"], p.get("displayName"), p.get("shareHistoryTime"), p.get("metadata"), version)
                for p in system["participants"]
            ]
        body["content"] = content
    else:
        body["content"] = {"message": row["content"], "attachments": []}
        body["senderCommunicationIdentifier"] = wire.identifier_to_wire(row["sender_id"])
        if row["sender_display_name"] is not None:
            body["senderDisplayName"] = row["sender_display_name"]
        if row["metadata"]:
            body["metadata"] = json.loads(row["metadata"])
    if row["edited_at"] is not None:
        body["editedOn"] = wire.format_micros(row["edited_at"])
    if row["deleted_at"] is not None:
        body["deletedOn"] = wire.format_micros(row["deleted_at"])
    return body


def read_receipt(row: Row) -> dict[str, Any]:
    return {
        "senderCommunicationIdentifier": wire.identifier_to_wire(row["user_id"]),
        "chatMessageId": str(row["message_id"]),
        "readOn": wire.format_micros(row["read_at"]),
    }


def invalid_participants(errors: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"code": code, "message": msg, "target": target} for code, msg, target in errors]
