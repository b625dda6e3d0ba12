"""Every chat operation as an I/O-free (build the `Call`, parse the response) pair (spec §5).

The clients validate arguments, call a builder here, send the `Call` and hand the response to the
matching parser. Argument checks that the official SDK makes client-side live here too, with its
exact error messages.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any, cast

import msgspec

from hubbub import wire

from .calls import JSON_CONTENT_TYPE, MERGE_PATCH_CONTENT_TYPE, Call, json_body, json_of, query, segment
from .chat_models import (
    ChatMessage,
    ChatMessageType,
    ChatParticipant,
    ChatThreadProperties,
    CreateChatThreadResult,
    SendChatMessageResult,
    pair_errors,
)
from .errors import ResponseView
from .identifiers import CommunicationIdentifier, serialize_identifier

CHAT_API_VERSION = wire.CHAT_DEFAULT_API_VERSION
"""The api-version azure-communication-chat 1.3.0 sends."""

SDK_MONIKER = "communication-chat/0.1.0 (hubbub)"


def _thread_path(thread_id: str, *rest: str) -> str:
    return "/chat/threads/" + segment(text(thread_id)) + "".join("/" + part for part in rest)


# The official SDK serializes every argument with msrest by its declared type, which converts
# loosely: `str(x)` for str (an enum gives its value), `int(x)` for int, and an ISO-8601 string
# or a naive datetime (taken as UTC) for date-times. These do the same, so a `uuid.UUID`
# idempotency token, an int message id or `results_per_page="10"` work here as they do there.


def text(value: Any) -> str:
    """A str argument as msrest sends it: an enum's value, else `str(value)`."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _metadata(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    return None if value is None else {text(k): text(v) for k, v in value.items()}


def _post(
    path: str,
    api_version: str,
    body: msgspec.Struct,
    *,
    expected: int,
    safe: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Call:
    return Call(
        "POST",
        path,
        query(("api-version", api_version)),
        json_body(body),
        JSON_CONTENT_TYPE,
        headers or {},
        expected,
        safe,
    )


def _patch(path: str, api_version: str, body: msgspec.Struct) -> Call:
    return Call(
        "PATCH",
        path,
        query(("api-version", api_version)),
        json_body(body),
        MERGE_PATCH_CONTENT_TYPE,
        expected=204,
    )


def _list(path: str, *pairs: tuple[str, Any]) -> Call:
    return Call("GET", path, query(*pairs), expected=200, safe=True)


def _datetime(value: dt.datetime | str) -> dt.datetime:
    """msrest's iso-8601 argument: a datetime (naive is UTC) or an ISO-8601 string."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _start_time(value: dt.datetime | str | None) -> str | None:
    return None if value is None else wire.format_request_datetime(_datetime(value))


def participant_model(participant: ChatParticipant) -> wire.ChatParticipantModel:
    """The request form of a participant."""
    display_name, share_history_time = participant.display_name, participant.share_history_time
    return wire.ChatParticipantModel(
        communication_identifier=serialize_identifier(participant.identifier),
        display_name=None if display_name is None else str(display_name),
        share_history_time=None if share_history_time is None else _datetime(share_history_time),
    )


# -- ChatClient ---------------------------------------------------------------------------------


def create_chat_thread(
    api_version: str,
    topic: str,
    thread_participants: list[ChatParticipant] | None,
    idempotency_token: str | uuid.UUID | None,
) -> Call:
    """POST /chat/threads. Always carries `repeatability-request-id`, so retrying it is safe."""
    if not topic:
        raise ValueError("topic cannot be None.")
    token = text(idempotency_token) if idempotency_token is not None else str(uuid.uuid4())
    participants = [participant_model(p) for p in thread_participants or []]
    return _post(
        "/chat/threads",
        api_version,
        wire.CreateChatThreadRequest(topic=text(topic), participants=participants),
        expected=201,
        safe=True,
        headers={"repeatability-request-id": token},
    )


def parse_create_chat_thread(
    response: ResponseView, thread_participants: list[ChatParticipant] | None
) -> CreateChatThreadResult:
    """The `CreateChatThreadResult`, failed participants paired with their errors."""
    body = json_of(response) or {}
    return CreateChatThreadResult(
        chat_thread=ChatThreadProperties._from_wire(body.get("chatThread") or {}),
        errors=pair_errors(thread_participants or [], body.get("invalidParticipants")),
    )


def list_chat_threads(api_version: str, results_per_page: int | None, start_time: dt.datetime | str | None) -> Call:
    """GET /chat/threads (first page)."""
    return _list(
        "/chat/threads",
        ("maxPageSize", _optional_int(results_per_page)),
        ("startTime", _start_time(start_time)),
        ("api-version", api_version),
    )


def delete_chat_thread(api_version: str, thread_id: str) -> Call:
    """DELETE /chat/threads/{id}."""
    if not thread_id:
        raise ValueError("thread_id cannot be None.")
    return Call("DELETE", _thread_path(thread_id), query(("api-version", api_version)), expected=204, safe=True)


# -- ChatThreadClient ---------------------------------------------------------------------------


def get_chat_thread_properties(api_version: str, thread_id: str) -> Call:
    """GET /chat/threads/{id}."""
    return Call("GET", _thread_path(thread_id), query(("api-version", api_version)), expected=200, safe=True)


def update_topic(api_version: str, thread_id: str, topic: str | None) -> Call:
    """PATCH /chat/threads/{id} (`{}` when no topic: the thread is left unchanged)."""
    return _patch(_thread_path(thread_id), api_version, wire.UpdateChatThreadRequest(topic=_optional_text(topic)))


def send_read_receipt(api_version: str, thread_id: str, message_id: str) -> Call:
    """POST .../readReceipts. Safe to repeat: only the latest receipt per participant is kept."""
    if not message_id:
        raise ValueError("message_id cannot be None.")
    return _post(
        _thread_path(thread_id, "readReceipts"),
        api_version,
        wire.SendReadReceiptRequest(chat_message_id=text(message_id)),
        expected=200,
        safe=True,
    )


def list_read_receipts(api_version: str, thread_id: str, results_per_page: int | None, skip: int | None) -> Call:
    """GET .../readReceipts (first page)."""
    return _list(
        _thread_path(thread_id, "readReceipts"),
        ("maxPageSize", _optional_int(results_per_page)),
        ("skip", _optional_int(skip)),
        ("api-version", api_version),
    )


def send_typing_notification(api_version: str, thread_id: str, sender_display_name: str | None) -> Call:
    """POST .../typing. Safe to repeat: a second notification changes nothing."""
    return _post(
        _thread_path(thread_id, "typing"),
        api_version,
        wire.SendTypingNotificationRequest(sender_display_name=_optional_text(sender_display_name)),
        expected=200,
        safe=True,
    )


def message_type(chat_message_type: ChatMessageType | str | None) -> ChatMessageType:
    """The message type to send, checked like the official SDK: only text and html."""
    if chat_message_type is None:
        return ChatMessageType.TEXT
    if isinstance(chat_message_type, ChatMessageType):
        result = chat_message_type
    else:
        try:
            result = cast(ChatMessageType, ChatMessageType.__getattr__(chat_message_type))
        except Exception:
            raise ValueError(f"chat_message_type: {chat_message_type} is not acceptable") from None
    if result not in (ChatMessageType.TEXT, ChatMessageType.HTML):
        raise ValueError(f"chat_message_type: {result} can be only 'text' or 'html'")
    return result


def send_message(
    api_version: str,
    thread_id: str,
    content: str,
    chat_message_type: ChatMessageType | str | None,
    sender_display_name: str | None,
    metadata: dict[str, str] | None,
) -> Call:
    """POST .../messages."""
    if not content:
        raise ValueError("content cannot be None.")
    kind = message_type(chat_message_type)
    body = wire.SendChatMessageRequest(
        content=text(content),
        sender_display_name=_optional_text(sender_display_name),
        type=kind.value,
        metadata=_metadata(metadata),
    )
    return _post(_thread_path(thread_id, "messages"), api_version, body, expected=201)


def parse_send_message(response: ResponseView) -> SendChatMessageResult:
    """The `SendChatMessageResult`."""
    return SendChatMessageResult._from_wire(json_of(response) or {})


def get_message(api_version: str, thread_id: str, message_id: str) -> Call:
    """GET .../messages/{messageId}."""
    if not message_id:
        raise ValueError("message_id cannot be None.")
    return Call(
        "GET",
        _thread_path(thread_id, "messages", segment(text(message_id))),
        query(("api-version", api_version)),
        expected=200,
        safe=True,
    )


def list_messages(
    api_version: str, thread_id: str, results_per_page: int | None, start_time: dt.datetime | str | None
) -> Call:
    """GET .../messages (first page)."""
    return _list(
        _thread_path(thread_id, "messages"),
        ("maxPageSize", _optional_int(results_per_page)),
        ("startTime", _start_time(start_time)),
        ("api-version", api_version),
    )


SEARCH_ORDERS = ("relevance", "time")


def search_messages(
    api_version: str, thread_id: str | None, query_text: str, results_per_page: int | None, order_by: str
) -> Call:
    """GET .../messages:search in one thread, or /chat/messages:search in all (first page).

    A Hubbub extension (docs/search.md): `query_text` is words, every one of which a result holds.
    """
    if not query_text or not str(query_text).strip():
        raise ValueError("query cannot be None or empty.")
    order = text(order_by)
    if order not in SEARCH_ORDERS:
        raise ValueError(f"order_by must be one of {', '.join(SEARCH_ORDERS)}; got {order!r}.")
    path = "/chat/messages:search" if thread_id is None else _thread_path(thread_id, "messages:search")
    return _list(
        path,
        ("q", text(query_text)),
        ("maxPageSize", _optional_int(results_per_page)),
        ("orderBy", order),
        ("api-version", api_version),
    )


def update_message(
    api_version: str, thread_id: str, message_id: str, content: str | None, metadata: dict[str, str] | None
) -> Call:
    """PATCH .../messages/{messageId}."""
    if not message_id:
        raise ValueError("message_id cannot be None.")
    return _patch(
        _thread_path(thread_id, "messages", segment(text(message_id))),
        api_version,
        wire.UpdateChatMessageRequest(content=_optional_text(content), metadata=_metadata(metadata)),
    )


def delete_message(api_version: str, thread_id: str, message_id: str) -> Call:
    """DELETE .../messages/{messageId}."""
    if not message_id:
        raise ValueError("message_id cannot be None.")
    return Call(
        "DELETE",
        _thread_path(thread_id, "messages", segment(text(message_id))),
        query(("api-version", api_version)),
        expected=204,
        safe=True,
    )


def list_participants(api_version: str, thread_id: str, results_per_page: int | None, skip: int | None) -> Call:
    """GET .../participants (first page)."""
    return _list(
        _thread_path(thread_id, "participants"),
        ("maxPageSize", _optional_int(results_per_page)),
        ("skip", _optional_int(skip)),
        ("api-version", api_version),
    )


def add_participants(api_version: str, thread_id: str, thread_participants: list[ChatParticipant]) -> Call:
    """POST .../participants/:add. Safe to repeat: adding an existing participant changes nothing."""
    body = wire.AddChatParticipantsRequest(participants=[participant_model(p) for p in thread_participants])
    return _post(_thread_path(thread_id, "participants", ":add"), api_version, body, expected=201, safe=True)


def parse_add_participants(
    response: ResponseView, thread_participants: list[ChatParticipant]
) -> list[tuple[ChatParticipant | None, Any]]:
    """The failed participants, each with its `ChatError` (empty when all were added)."""
    body = json_of(response) or {}
    return list(pair_errors(thread_participants, body.get("invalidParticipants")))


def remove_participant(api_version: str, thread_id: str, identifier: CommunicationIdentifier) -> Call:
    """POST .../participants/:remove."""
    if not identifier:
        raise ValueError("identifier cannot be None.")
    return _post(
        _thread_path(thread_id, "participants", ":remove"),
        api_version,
        serialize_identifier(identifier),
        expected=204,
    )


def parse_thread_properties(response: ResponseView) -> ChatThreadProperties:
    """The `ChatThreadProperties` of GET /chat/threads/{id}."""
    return ChatThreadProperties._from_wire(json_of(response) or {})


def parse_message(response: ResponseView) -> ChatMessage:
    """The `ChatMessage` of GET .../messages/{messageId}."""
    return ChatMessage._from_wire(json_of(response) or {})
