"""`GET /chat/threads/{id}/messages:search` and `GET /chat/messages:search`: message search.

An extension of the ACS API (docs/search.md, docs/search.openapi.json): the same api-versions,
tokens, errors and paging (`value` + `nextLink`) as `list_messages`. A page is
`{"value": [{"chatThreadId", "message", "snippet"}], "nextLink"}`; `message` is the ChatMessage
of `list_messages`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.server.api import shapes
from hubbub.server.api.http import (
    ChatCall,
    Cursor,
    chat_call,
    check_text,
    json_response,
    next_link,
    page_size,
    read_cursor,
    skip_param,
)
from hubbub.server.errors import BadRequest
from hubbub.server.rules.search import SearchResult


def _query(request: Request, cursor: Cursor | None) -> tuple[str, str | None]:
    """The query and order: from the nextLink's state on a later page, else from `q` and `orderBy`."""
    if cursor is not None and isinstance(cursor.q, str):
        return cursor.q, cursor.o if isinstance(cursor.o, str) else None
    query = request.query_params.get("q")
    if query is None:
        raise BadRequest("The q query parameter (what to search for) is required.", target="q")
    return check_text(query, "q"), request.query_params.get("orderBy")


def _page(
    request: Request, call: ChatCall, results: list[SearchResult], state: dict[str, object], size: int
) -> Response:
    body: dict[str, object] = {
        "value": [
            {
                "chatThreadId": r.thread_id,
                "message": shapes.message(r.message, call.version),
                "snippet": r.snippet,
            }
            for r in results[:size]
        ]
    }
    if len(results) > size:
        body["nextLink"] = next_link(request, state, size, call.version)
    return json_response(body)


async def search_thread(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "search_messages", cursor)
    query, order = _query(request, cursor)
    size, skip = page_size(request, cursor), skip_param(request, cursor)
    results = await call.service.search.search_thread(
        call.thread_id, call.caller, query, order=order, skip=skip, limit=size + 1
    )
    return _page(request, call, results, {"q": query, "o": order or "relevance", "k": skip + size}, size)


async def search_threads(request: Request) -> Response:
    cursor = read_cursor(request)
    call = await chat_call(request, "search_messages", cursor)
    query, order = _query(request, cursor)
    size, skip = page_size(request, cursor), skip_param(request, cursor)
    results = await call.service.search.search_threads(call.caller, query, order=order, skip=skip, limit=size + 1)
    return _page(request, call, results, {"q": query, "o": order or "relevance", "k": skip + size}, size)


routes = [
    Route("/chat/threads/{thread_id}/messages:search", search_thread, methods=["GET"]),
    Route("/chat/messages:search", search_threads, methods=["GET"]),
]
