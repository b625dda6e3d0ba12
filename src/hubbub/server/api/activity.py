"""Typing notifications and read receipts: `/chat/threads/{id}/typing` and `/readReceipts`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import wire
from hubbub.server.api import shapes
from hubbub.server.api.http import (
    chat_call,
    decode,
    empty_response,
    json_response,
    next_link,
    page_size,
    read_body,
    read_cursor,
    skip_param,
)


async def send_typing(request: Request) -> Response:
    call = await chat_call(request, "send_typing")
    body = decode(await read_body(request), wire.SendTypingNotificationRequest, allow_empty=True)
    await call.service.messages.send_typing(call.thread_id, call.caller, body.sender_display_name)
    return empty_response(200)


async def send_read_receipt(request: Request) -> Response:
    call = await chat_call(request, "send_read_receipt")
    body = decode(await read_body(request), wire.SendReadReceiptRequest)
    await call.service.messages.send_read_receipt(call.thread_id, call.caller, body.chat_message_id)
    return empty_response(200)


async def list_read_receipts(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "list_read_receipts", cursor)
    size = page_size(request, cursor)
    skip = skip_param(request, cursor)
    receipts = await call.service.messages.list_read_receipts(call.thread_id, call.caller, skip=skip, limit=size + 1)
    body: dict[str, object] = {"value": [shapes.read_receipt(r) for r in receipts[:size]]}
    if len(receipts) > size:
        body["nextLink"] = next_link(request, {"k": skip + size}, size, call.version)
    return json_response(body)


routes = [
    Route("/chat/threads/{thread_id}/typing", send_typing, methods=["POST"]),
    Route("/chat/threads/{thread_id}/readReceipts", send_read_receipt, methods=["POST"]),
    Route("/chat/threads/{thread_id}/readReceipts", list_read_receipts, methods=["GET"]),
]
