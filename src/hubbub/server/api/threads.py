"""`/chat/threads`: create, list, get, update and delete threads."""

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
    has_thread_extras,
    json_response,
    next_link,
    page_size,
    read_body,
    read_cursor,
    start_time_param,
)
from hubbub.server.errors import BadRequest
from hubbub.server.rules.participants import parse_participants


async def create_thread(request: Request) -> Response:
    call = await chat_call(request, "create_thread")
    body = decode(await read_body(request), wire.CreateChatThreadRequest)
    extras = has_thread_extras(call.version)
    created = await call.service.threads.create_thread(
        call.caller,
        topic=body.topic,
        participants=parse_participants(body.participants or []),
        request_id=request.headers.get("repeatability-request-id"),
        metadata=body.metadata if extras else None,
        retention=body.retention_policy if extras else None,
    )
    result = {"chatThread": shapes.thread_properties(created.thread, call.version)}
    if created.invalid:
        result["invalidParticipants"] = shapes.invalid_participants(created.invalid)  # type: ignore[assignment]
    return json_response(result, 201)


async def list_threads(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "list_threads", cursor)
    size = page_size(request, cursor)
    start = start_time_param(request, cursor)
    after = None
    if cursor is not None and (isinstance(cursor.a, int) or isinstance(cursor.i, str)):
        if not (isinstance(cursor.a, int) and isinstance(cursor.i, str)):
            raise BadRequest("The paging token (syncState) is not valid.", target="syncState")
        after = (cursor.a, cursor.i)
    items = await call.service.threads.list_threads(call.caller, start_time=start, after=after, limit=size + 1)
    body: dict[str, object] = {"value": [shapes.thread_item(item) for item in items[:size]]}
    if len(items) > size:
        last = items[size - 1]
        body["nextLink"] = next_link(request, {"t": start, "a": last.last_message_at, "i": last.id}, size, call.version)
    return json_response(body)


async def get_thread(request: Request) -> Response:
    call = await chat_call(request, "get_thread")
    thread = await call.service.threads.get_thread(call.thread_id, call.caller)
    return json_response(shapes.thread_properties(thread, call.version))


async def update_thread(request: Request) -> Response:
    call = await chat_call(request, "update_thread")
    raw = await read_body(request)
    body = decode(raw, wire.UpdateChatThreadRequest, allow_empty=True)
    keys = body_keys(raw) if has_thread_extras(call.version) else set()
    if "topic" in body_keys(raw) and body.topic is None:
        raise BadRequest("The topic cannot be removed.", target="topic")
    await call.service.threads.update_thread(
        call.thread_id,
        call.caller,
        topic=body.topic,
        metadata=body.metadata,
        set_metadata="metadata" in keys,
        retention=body.retention_policy,
        set_retention="retentionPolicy" in keys,
    )
    return empty_response(204)


async def delete_thread(request: Request) -> Response:
    call = await chat_call(request, "delete_thread")
    await call.service.threads.delete_thread(call.thread_id, call.caller)
    return empty_response(204)


routes = [
    Route("/chat/threads", create_thread, methods=["POST"]),
    Route("/chat/threads", list_threads, methods=["GET"]),
    Route("/chat/threads/{thread_id}", get_thread, methods=["GET"]),
    Route("/chat/threads/{thread_id}", update_thread, methods=["PATCH"]),
    Route("/chat/threads/{thread_id}", delete_thread, methods=["DELETE"]),
]
