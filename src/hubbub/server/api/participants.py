"""`/chat/threads/{id}/participants`: list, `:add` and `:remove`."""

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
from hubbub.server.errors import BadRequest
from hubbub.server.rules.participants import parse_participants


async def list_participants(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "list_participants", cursor)
    size, skip = page_size(request, cursor), skip_param(request, cursor)
    participants = await call.service.participants.list_participants(
        call.thread_id, call.caller, skip=skip, limit=size + 1
    )
    body: dict[str, object] = {"value": [shapes.participant(p, call.version) for p in participants[:size]]}
    if len(participants) > size:
        body["nextLink"] = next_link(request, {"k": skip + size}, size, call.version)
    return json_response(body)


async def add_participants(request: Request) -> Response:
    call = await chat_call(request, "participants_change")
    body = decode(await read_body(request), wire.AddChatParticipantsRequest)
    if not body.participants:
        raise BadRequest("At least one participant is required.", target="participants")
    participants = parse_participants(body.participants)
    invalid = await call.service.participants.add_participants(call.thread_id, call.caller, participants)
    result = {"invalidParticipants": shapes.invalid_participants(invalid)} if invalid else {}
    return json_response(result, 201)


async def remove_participant(request: Request) -> Response:
    call = await chat_call(request, "participants_change")
    body = decode(await read_body(request), wire.CommunicationIdentifierModel)
    raw_id = wire.identifier_raw_id(body)
    if not raw_id:
        raise BadRequest("The identifier names no participant.", target="rawId")
    await call.service.participants.remove_participant(call.thread_id, call.caller, raw_id)
    return empty_response(204)


routes = [
    Route("/chat/threads/{thread_id}/participants", list_participants, methods=["GET"]),
    Route("/chat/threads/{thread_id}/participants/:add", add_participants, methods=["POST"]),
    Route("/chat/threads/{thread_id}/participants/:remove", remove_participant, methods=["POST"]),
]
