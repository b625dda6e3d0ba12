"""Domain values rendered as ACS response bodies (spec §5.2), per api-version."""

from __future__ import annotations

from typing import Any

from hubbub import wire
from hubbub.server.api.http import has_thread_extras
from hubbub.server.domain import InvalidParticipant, Message, Participant, ReadReceipt, Thread, ThreadItem


def thread_properties(thread: Thread, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": thread.id,
        "topic": thread.topic,
        "createdOn": wire.format_micros(thread.created_at),
        "createdByCommunicationIdentifier": wire.identifier_to_wire(thread.created_by),
    }
    if thread.deleted_at is not None:
        body["deletedOn"] = wire.format_micros(thread.deleted_at)
    if has_thread_extras(version):
        if thread.metadata is not None:
            body["metadata"] = thread.metadata
        policy = thread.retention_policy
        if policy is not None:
            body["retentionPolicy"] = {"kind": policy.kind}
            if policy.delete_thread_after_days is not None:
                body["retentionPolicy"]["deleteThreadAfterDays"] = policy.delete_thread_after_days
    return body


def thread_item(item: ThreadItem) -> dict[str, Any]:
    body: dict[str, Any] = {"id": item.id, "topic": item.topic}
    if item.deleted_at is not None:
        body["deletedOn"] = wire.format_micros(item.deleted_at)
    body["lastMessageReceivedOn"] = wire.format_micros(item.last_message_at)
    return body


def participant(participant: Participant, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {"communicationIdentifier": wire.identifier_to_wire(participant.user_id)}
    if participant.display_name is not None:
        body["displayName"] = participant.display_name
    if participant.share_history_time is not None:
        body["shareHistoryTime"] = wire.format_micros(participant.share_history_time)
    if participant.metadata and has_thread_extras(version):
        body["metadata"] = participant.metadata
    return body


def message(message: Message, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(message.id),
        "type": message.type,
        "sequenceId": str(message.seq),
        "version": str(message.version),
        "createdOn": wire.format_micros(message.created_at),
    }
    system = message.system
    if system is not None:
        content: dict[str, Any] = {"initiatorCommunicationIdentifier": wire.identifier_to_wire(system.initiator)}
        if system.topic is not None:
            content["topic"] = system.topic
        if system.participants is not None:
            content["participants"] = [participant(p, version) for p in system.participants]
        body["content"] = content
    else:
        assert message.sender_id is not None, "a user message has a sender"
        body["content"] = {"message": message.content, "attachments": []}
        body["senderCommunicationIdentifier"] = wire.identifier_to_wire(message.sender_id)
        if message.sender_display_name is not None:
            body["senderDisplayName"] = message.sender_display_name
        if message.metadata is not None:
            body["metadata"] = message.metadata
    if message.edited_at is not None:
        body["editedOn"] = wire.format_micros(message.edited_at)
    if message.deleted_at is not None:
        body["deletedOn"] = wire.format_micros(message.deleted_at)
    return body


def read_receipt(receipt: ReadReceipt) -> dict[str, Any]:
    return {
        "senderCommunicationIdentifier": wire.identifier_to_wire(receipt.user_id),
        "chatMessageId": str(receipt.message_id),
        "readOn": wire.format_micros(receipt.read_at),
    }


def invalid_participants(invalid: list[InvalidParticipant]) -> list[dict[str, str]]:
    return [{"code": p.code, "message": p.message, "target": p.target} for p in invalid]
