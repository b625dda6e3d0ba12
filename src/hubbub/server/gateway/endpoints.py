"""The simple REST API: the endpoints of the well-known ACS Flask example, made safe.

Every endpoint answers JSON; every refusal is `{"error": "..."}` with a 4xx status (502 when the
chat service behind the gateway fails). Calls that act for a `user_id` need that user's access
token as `Authorization: Bearer` (401 without one, 403 with another user's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from azure.core.async_paging import AsyncItemPaged
from azure.core.exceptions import AzureError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubbub.chat import ChatMessage, ChatMessageSearchResult, ChatParticipant, CommunicationUserIdentifier
from hubbub.chat.aio import ChatThreadClient
from hubbub.server.gateway.openapi import openapi_document
from hubbub.server.gateway.upstream import GatewayError, Upstream, translate
from hubbub.server.tokens import bearer_token

MAX_BODY_BYTES = 64 * 1024
MESSAGE_TYPES = ("text", "html")
PAGE_SIZE = 200
SEARCH_RESULTS = 50
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ADMIN_HEADER = "x-admin-key"
THREAD_ID = re.compile(r"19:[A-Za-z0-9._~-]{1,256}@thread\.[A-Za-z0-9]{1,16}")
"""A chat thread id as ACS and Hubbub make them (`19:<id>@thread.v2`): nothing that could change
the path of the upstream call (no `/`, `?`, `#`, `%`, `..` segment or control character)."""
USER_ID = re.compile(r"8:[A-Za-z0-9._:~-]{1,500}")
"""A Communication user id (`8:acs:<resource>_<guid>` and the other `8:` forms)."""


@dataclasses.dataclass
class Gateway:
    """What the endpoints need: the upstream endpoint, and the admin key that guards identity
    creation (None: anyone may create identities)."""

    upstream: Upstream
    admin_key: str | None = None


Handler = Callable[[Request, Gateway], Awaitable[dict[str, Any]]]


def error_response(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def endpoint(method: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Answer `method` only (405 otherwise) and turn every refusal into `{"error": ...}`."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            if request.method != method:
                return error_response(405, f"Use {method} for {request.url.path}.")
            try:
                body = await handler(request, request.app.state.gateway)
            except GatewayError as exc:
                return error_response(exc.status, exc.message)
            except AzureError as exc:
                error = translate(exc)
                return error_response(error.status, error.message)
            return JSONResponse(body)

        return run

    return decorate


# -- request parts ---------------------------------------------------------------------------------


async def json_body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise GatewayError(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        raise GatewayError(400, "A JSON object body is required.")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise GatewayError(400, "The request body is not valid JSON.") from exc
    except RecursionError as exc:
        raise GatewayError(400, "The request body is nested too deeply.") from exc
    if not isinstance(value, dict):
        raise GatewayError(400, "The request body must be a JSON object.")
    return value


def text_field(values: Any, name: str, *, required: bool = True, max_length: int = 28 * 1024) -> str | None:
    value = values.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise GatewayError(400, f"{name!r} is required and must be a non-empty string.")
    if len(value) > max_length:
        raise GatewayError(400, f"{name!r} is longer than {max_length} characters.")
    return value.strip() if name != "message" else value


def user_field(values: Any, name: str) -> str:
    value = text_field(values, name, max_length=512)
    assert value is not None
    if not USER_ID.fullmatch(value):
        raise GatewayError(400, f'{name!r} must be a Communication user id ("8:acs:...").')
    return value


def thread_field(values: Any, name: str = "thread_id") -> str:
    """A thread id, checked here: it becomes a path segment of the upstream call."""
    value = text_field(values, name, max_length=512)
    assert value is not None
    if not THREAD_ID.fullmatch(value):
        raise GatewayError(400, f'{name!r} must be a chat thread id ("19:...@thread.v2").')
    return value


async def token_of(request: Request, gateway: Gateway, user_id: str | None) -> tuple[str, str]:
    """(token, user id) of the caller; 401 without a usable token, 403 when it is not `user_id`'s."""
    token = bearer_token(request.headers)
    caller = await gateway.upstream.caller(token)
    if user_id is not None and caller != user_id:
        raise GatewayError(403, "The access token does not belong to this user_id.")
    assert token is not None
    return token, caller


def require_admin(request: Request, gateway: Gateway) -> None:
    if gateway.admin_key is None:
        return
    given = request.headers.get(ADMIN_HEADER)
    if not given:
        raise GatewayError(401, "Creating identities needs the admin key (X-Admin-Key header).")
    if not hmac.compare_digest(given.encode(), gateway.admin_key.encode()):
        raise GatewayError(403, "The admin key is not valid.")


@contextlib.asynccontextmanager
async def thread_client(gateway: Gateway, token: str, thread_id: str) -> AsyncIterator[ChatThreadClient]:
    async with gateway.upstream.chat_client(token) as chat:
        thread = chat.get_chat_thread_client(thread_id)
        try:
            yield thread
        finally:
            await thread.close()


def iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.strip().replace(" ", "+"))
        # the SDK sends UTC: an instant that has none (year 1 at +14:00) is refused here, not there
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise GatewayError(400, f"'since' is not an ISO 8601 date-time: {raw[:60]!r}.") from exc


def expiry_text(expires_on: object) -> str:
    """An access token's expiry as ISO 8601 UTC; the SDK gives epoch seconds or the ISO string."""
    if isinstance(expires_on, str):
        return iso_utc(dt.datetime.fromisoformat(expires_on.replace("Z", "+00:00")))
    assert isinstance(expires_on, int | float), expires_on
    return iso_utc(dt.datetime.fromtimestamp(expires_on, dt.UTC))


def message_body(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender.raw_id if message.sender is not None else None,
        "sender_display_name": message.sender_display_name or "",
        "message": message.content.message if message.content is not None else "",
        "type": str(message.type.value if hasattr(message.type, "value") else message.type),
        "created_on": iso_utc(message.created_on),
    }


async def chat_messages(thread: ChatThreadClient, since: dt.datetime | None) -> list[ChatMessage]:
    """Every text and html message of the thread (all pages), newest first; deleted ones left out."""
    found = []
    async for message in thread.list_messages(results_per_page=PAGE_SIZE, start_time=since):
        if message.type in MESSAGE_TYPES and message.deleted_on is None and message.content is not None:
            found.append(message)
    return found


async def first_results(paged: AsyncItemPaged[ChatMessageSearchResult]) -> list[ChatMessageSearchResult]:
    """The first `SEARCH_RESULTS` results, over as many pages as the server's page size needs."""
    results: list[ChatMessageSearchResult] = []
    async for result in paged:
        results.append(result)
        if len(results) == SEARCH_RESULTS:
            break
    return results


# -- endpoints -------------------------------------------------------------------------------------


@endpoint("POST")
async def create_users(request: Request, gateway: Gateway) -> dict[str, Any]:
    require_admin(request, gateway)
    async with gateway.upstream.identity_client() as identity:
        user1, token1 = await identity.create_user_and_token(["chat"])
        user2, token2 = await identity.create_user_and_token(["chat"])
    return {
        "user1_id": user1.raw_id,
        "user2_id": user2.raw_id,
        "user1_token": token1.token,
        "user2_token": token2.token,
    }


@endpoint("POST")
async def create_identity(request: Request, gateway: Gateway) -> dict[str, Any]:
    require_admin(request, gateway)
    async with gateway.upstream.identity_client() as identity:
        user, token = await identity.create_user_and_token(["chat"])
    return {
        "user_id": user.raw_id,
        "token": token.token,
        "expires_on": expiry_text(token.expires_on),
    }


@endpoint("POST")
async def create_thread(request: Request, gateway: Gateway) -> dict[str, Any]:
    values = await json_body(request)
    user_id = user_field(values, "user1_id")
    topic = text_field(values, "topic", required=False, max_length=250) or "Chat"
    token, _ = await token_of(request, gateway, user_id)
    async with gateway.upstream.chat_client(token) as chat:
        result = await chat.create_chat_thread(topic)
    assert result.chat_thread is not None
    return {"thread_id": result.chat_thread.id}


@endpoint("POST")
async def add_user(request: Request, gateway: Gateway) -> dict[str, Any]:
    """Add `user2_id` as the caller (any participant of the thread; `user_id`, if given, must be
    the token's user)."""
    values = await json_body(request)
    thread_id = thread_field(values)
    new_user = user_field(values, "user2_id")
    acting = user_field(values, "user_id") if values.get("user_id") is not None else None
    token, _ = await token_of(request, gateway, acting)
    async with thread_client(gateway, token, thread_id) as thread:
        failed = await thread.add_participants([ChatParticipant(identifier=CommunicationUserIdentifier(new_user))])
    if failed:
        raise GatewayError(400, f"The user could not be added: {failed[0][1].message}")
    return {"message": "User added successfully"}


@endpoint("POST")
async def send_message(request: Request, gateway: Gateway) -> dict[str, Any]:
    values = await json_body(request)
    thread_id = thread_field(values)
    user_id = user_field(values, "user_id")
    content = text_field(values, "message")
    display_name = text_field(values, "sender_display_name", required=False, max_length=256)
    token, _ = await token_of(request, gateway, user_id)
    assert content is not None
    async with thread_client(gateway, token, thread_id) as thread:
        sent = await thread.send_message(content, sender_display_name=display_name)
    return {"message": "Message sent successfully", "message_id": sent.id}


@endpoint("GET")
async def get_messages(request: Request, gateway: Gateway) -> dict[str, Any]:
    """What `user_id` received from others, newest first (optionally only since `since`)."""
    thread_id = thread_field(request.query_params)
    user_id = user_field(request.query_params, "user_id")
    since = parse_since(request.query_params.get("since"))
    token, _ = await token_of(request, gateway, user_id)
    async with thread_client(gateway, token, thread_id) as thread:
        found = await chat_messages(thread, since)
    received = [m for m in found if m.sender is None or m.sender.raw_id != user_id]
    return {"messages": [message_body(m) for m in received]}


@endpoint("GET")
async def get_all_messages(request: Request, gateway: Gateway) -> dict[str, Any]:
    """The whole conversation as `user_id` sees it, oldest first."""
    thread_id = thread_field(request.query_params)
    user_id = user_field(request.query_params, "user_id")
    token, _ = await token_of(request, gateway, user_id)
    async with thread_client(gateway, token, thread_id) as thread:
        found = await chat_messages(thread, None)
    found.sort(key=lambda m: (m.created_on, int(m.sequence_id or 0)))
    return {"messages": [message_body(m) for m in found]}


@endpoint("GET")
async def search_messages(request: Request, gateway: Gateway) -> dict[str, Any]:
    """The first `SEARCH_RESULTS` messages `user_id` can read that hold every word of `q`, most
    relevant first: in `thread_id`, or in every thread of the user when it is left out. Needs a
    Hubbub upstream (message search is Hubbub's extension; real ACS answers 404)."""
    values = request.query_params
    thread_id = thread_field(values) if values.get("thread_id") else None
    user_id = user_field(values, "user_id")
    query = text_field(values, "q", max_length=256)
    assert query is not None
    token, _ = await token_of(request, gateway, user_id)
    async with gateway.upstream.chat_client(token) as chat:
        if thread_id is None:
            results = await first_results(chat.search_messages(query, results_per_page=SEARCH_RESULTS))
        else:
            async with thread_client(gateway, token, thread_id) as thread:
                results = await first_results(thread.search_messages(query, results_per_page=SEARCH_RESULTS))
    return {
        "results": [
            {"thread_id": r.thread_id, "snippet": r.snippet, "message": message_body(r.message)} for r in results
        ]
    }


@endpoint("GET")
async def openapi(request: Request, gateway: Gateway) -> dict[str, Any]:
    return openapi_document(admin_key=gateway.admin_key is not None)


def _route(path: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
    return Route(path, handler, methods=ALL_METHODS)


routes = [
    _route("/create_users", create_users),
    _route("/create_thread", create_thread),
    _route("/add_user", add_user),
    _route("/send_message", send_message),
    _route("/get_messages", get_messages),
    _route("/get_all_messages", get_all_messages),
    _route("/search_messages", search_messages),
    _route("/gateway/identity", create_identity),
    _route("/gateway/openapi.json", openapi),
]
