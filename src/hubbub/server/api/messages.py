"""`/chat/threads/{id}/messages`: send, get, list, update and delete messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import wire
from hubbub.server.api import shapes
from hubbub.server.api.http import (
    body_keys,
    chat_call,
    decode,
    empty_response,
    json_response,
    next_link,
    page_size,
    path_id,
    read_body,
    read_cursor,
    start_time_param,
)


async def send_message(request: Request) -> Response:
    call = await chat_call(request, "message_change")
    body = decode(await read_body(request), wire.SendChatMessageRequest)
    message_id = await call.service.messages.send_message(
        call.thread_id,
        call.caller,
        content=body.content,
        type=body.type,
        sender_display_name=body.sender_display_name,
        metadata=body.metadata,
    )
    return json_response({"id": str(message_id)}, 201)


async def get_message(request: Request) -> Response:
    call = await chat_call(request, "get_message")
    message_id = path_id(request, "message_id", "chatMessageId")
    message = await call.service.messages.get_message(call.thread_id, call.caller, message_id)
    return json_response(shapes.message(message, call.version))


async def list_messages(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "list_messages", cursor)
    size = page_size(request, cursor)
    start = start_time_param(request, cursor)
    before_id = cursor.m if cursor is not None and isinstance(cursor.m, int) else None
    before_seq = cursor.s if cursor is not None and isinstance(cursor.s, int) else None
    messages = await call.service.messages.list_messages(
        call.thread_id, call.caller, start_time=start, before_id=before_id, before_seq=before_seq, limit=size + 1
    )
    body: dict[str, object] = {"value": [shapes.message(m, call.version) for m in messages[:size]]}
    if len(messages) > size:
        body["nextLink"] = next_link(request, {"t": start, "m": messages[size - 1].id}, size, call.version)
    return json_response(body)


async def update_message(request: Request) -> Response:
    call = await chat_call(request, "message_change")
    raw = await read_body(request)
    body = decode(raw, wire.UpdateChatMessageRequest, allow_empty=True)
    await call.service.messages.update_message(
        call.thread_id,
        call.caller,
        path_id(request, "message_id", "chatMessageId"),
        content=body.content,
        metadata=body.metadata,
        set_metadata="metadata" in body_keys(raw),
    )
    return empty_response(204)


async def delete_message(request: Request) -> Response:
    call = await chat_call(request, "message_change")
    message_id = path_id(request, "message_id", "chatMessageId")
    await call.service.messages.delete_message(call.thread_id, call.caller, message_id)
    return empty_response(204)


routes = [
    Route("/chat/threads/{thread_id}/messages", send_message, methods=["POST"]),
    Route("/chat/threads/{thread_id}/messages", list_messages, methods=["GET"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", get_message, methods=["GET"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", update_message, methods=["PATCH"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", delete_message, methods=["DELETE"]),
]
