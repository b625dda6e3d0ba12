"""Typing notifications and read receipts: `/chat/threads/{id}/typing` and `/readReceipts`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import wire
from hubbub.server.api import shapes
from hubbub.server.api.http import (
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
    skip_param,
)


async def send_typing(request: Request) -> Response:
    chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("send_typing", user=caller, thread=thread_id)
    body = decode(await read_body(request), wire.SendTypingNotificationRequest, allow_empty=True)
    await app.messages.send_typing(thread_id, caller, body.sender_display_name)
    return empty_response(200)


async def send_read_receipt(request: Request) -> Response:
    chat_version(request)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("send_read_receipt", user=caller, thread=thread_id)
    body = decode(await read_body(request), wire.SendReadReceiptRequest)
    await app.messages.send_read_receipt(thread_id, caller, body.chat_message_id)
    return empty_response(200)


async def list_read_receipts(request: Request) -> Response:
    cursor = read_cursor(request)
    version = chat_version(request, cursor)
    caller = await chat_caller(request)
    app = hubbub(request)
    thread_id = path_id(request, "thread_id", "chatThreadId")
    app.limiter.check("list_read_receipts", user=caller, thread=thread_id)
    size = page_size(request, cursor)
    skip = skip_param(request, cursor)
    rows = await app.messages.list_read_receipts(thread_id, caller, skip=skip, limit=size + 1)
    body: dict[str, object] = {"value": [shapes.read_receipt(r) for r in rows[:size]]}
    if len(rows) > size:
        body["nextLink"] = next_link(request, {"k": skip + size}, size, version)
    return json_response(body)


routes = [
    Route("/chat/threads/{thread_id}/typing", send_typing, methods=["POST"]),
    Route("/chat/threads/{thread_id}/readReceipts", send_read_receipt, methods=["POST"]),
    Route("/chat/threads/{thread_id}/readReceipts", list_read_receipts, methods=["GET"]),
]
