"""`/chat/threads/{id}/messages`: send, get, list, update and delete messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import wire
from hubbub.server.api import shapes
from hubbub.server.api.http import (
    body_keys,
    chat_caller,
    chat_version,
    decode,
    empty_response,
    hubbub,
    json_response,
    next_link,
    page_size,
    path_id,
    read_body,
    read_cursor,
    start_time_param,
)


async def send_message(request: Request) -> Response:
    chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("message_change", thread=thread_id)
    body = decode(await read_body(request), wire.SendChatMessageRequest)
    message_id = await app.messages.send_message(
        thread_id,
        caller,
        content=body.content,
        type=body.type,
        sender_display_name=body.sender_display_name,
        metadata=body.metadata,
    )
    return json_response({"id": str(message_id)}, 201)


async def get_message(request: Request) -> Response:
    version = chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("get_message", user=caller, thread=thread_id)
    row = await app.messages.get_message(thread_id, caller, path_id(request, "message_id", "chatMessageId"))
    return json_response(shapes.message(row, version))


async def list_messages(request: Request) -> Response:
    cursor = read_cursor(request)
    version = chat_version(request, cursor)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("list_messages", user=caller, thread=thread_id)
    size = page_size(request, cursor)
    start = start_time_param(request, cursor)
    before = cursor.s if cursor is not None and isinstance(cursor.s, int) else None
    rows = await app.messages.list_messages(thread_id, caller, start_time=start, before_seq=before, limit=size + 1)
    body: dict[str, object] = {"value": [shapes.message(r, version) for r in rows[:size]]}
    if len(rows) > size:
        body["nextLink"] = next_link(request, {"t": start, "s": rows[size - 1]["seq"]}, size, version)
    return json_response(body)


async def update_message(request: Request) -> Response:
    chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("message_change", thread=thread_id)
    raw = await read_body(request)
    body = decode(raw, wire.UpdateChatMessageRequest, allow_empty=True)
    await app.messages.update_message(
        thread_id,
        caller,
        path_id(request, "message_id", "chatMessageId"),
        content=body.content,
        metadata=body.metadata,
        set_metadata="metadata" in body_keys(raw),
    )
    return empty_response(204)


async def delete_message(request: Request) -> Response:
    chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("message_change", thread=thread_id)
    await app.messages.delete_message(thread_id, caller, path_id(request, "message_id", "chatMessageId"))
    return empty_response(204)


routes = [
    Route("/chat/threads/{thread_id}/messages", send_message, methods=["POST"]),
    Route("/chat/threads/{thread_id}/messages", list_messages, methods=["GET"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", get_message, methods=["GET"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", update_message, methods=["PATCH"]),
    Route("/chat/threads/{thread_id}/messages/{message_id}", delete_message, methods=["DELETE"]),
]
