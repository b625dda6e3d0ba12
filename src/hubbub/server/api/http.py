"""What every endpoint shares: JSON in and out, api-versions, authentication, paging cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from typing import Annotated, Any, NamedTuple, TypeVar
from urllib.parse import quote, urlencode

import msgspec
from msgspec import UNSET, UnsetType
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from hubbub import wire
from hubbub.server import logs
from hubbub.server.errors import BadRequest, Forbidden, PayloadTooLarge, Unauthorized
from hubbub.server.hmac_auth import verify_request
from hubbub.server.service import Hubbub
from hubbub.server.service import service_of as service_of  # re-exported: endpoints take it from here too
from hubbub.server.tokens import bearer_token

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
JSON_TYPE = "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def empty_response(status: int) -> Response:
    return Response(b"", status_code=status)


async def read_body(request: Request) -> bytes:
    """The raw body, refusing anything over the configured maximum (413)."""
    limit = service_of(request).settings.limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, model: type[T], *, allow_empty: bool = False) -> T:
    """Decode and validate a JSON body into a wire struct; any mismatch is a 400 naming the field.

    Strings holding U+0000 are refused here too: not every engine can store them in text columns,
    and every engine must answer the same.
    """
    if not body.strip():
        if allow_empty:
            return msgspec.json.decode(b"{}", type=model)
        raise BadRequest("The request body is required.")
    try:
        value = msgspec.json.decode(body, type=model)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid request body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("The request body is nested too deeply.") from exc
    if b"\\u0000" in body:  # cheap test first; the walk tells an escaped backslash from a NUL
        _refuse_nul(msgspec.json.decode(body), "")
    return value


def check_text(value: str, target: str) -> str:
    """`value`, unless it holds U+0000 (400): no engine-specific answer for a NUL anywhere."""
    if "\x00" in value:
        raise BadRequest(f"{target or 'The request body'} must not contain NUL characters (U+0000).", target=target)
    return value


def _refuse_nul(value: Any, path: str) -> None:
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            _refuse_nul(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}[{index}]")


def body_keys(body: bytes) -> set[str]:
    """Top-level keys present in a JSON object body (for merge-patch: absent vs. null).

    Only called on a body `decode` accepted, so it is a JSON object of bounded depth.
    """
    try:
        value = msgspec.json.decode(body or b"{}", type=dict[str, msgspec.Raw])
    except (msgspec.DecodeError, RecursionError):
        return set()
    return set(value)


def path_id(request: Request, name: str, target: str) -> str:
    """A path parameter (thread, message or identity id), refused (400) when it holds U+0000."""
    return check_text(request.path_params[name], target)


# -- api-version ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _query(raw: bytes) -> QueryParams:
    """A parsed query string (what `request.query_params` holds); clients repeat the same few."""
    return QueryParams(raw)


def api_version(request: Request, allowed: tuple[str, ...], *, fallback: str | None = None) -> str:
    """The request's api-version; missing (except on a nextLink that carried it) or unknown is a 400."""
    version = _query(request.scope.get("query_string", b"")).get("api-version") or fallback
    if not version:
        raise BadRequest("The api-version query parameter is required.", target="api-version")
    if version not in allowed:
        raise BadRequest(
            f"Unsupported api-version {version!r}. Supported versions: {', '.join(allowed)}.",
            target="api-version",
        )
    return version


def has_thread_extras(version: str) -> bool:
    return version >= wire.CHAT_THREAD_METADATA_VERSION


# -- authentication ------------------------------------------------------------------------------


async def authenticate_token(app: Hubbub, token: str | None, scope: str = "chat") -> str:
    """The user id a bearer token stands for; 401 when missing/invalid/revoked, 403 without the scope."""
    if not token:
        raise Unauthorized("An access token is required (Authorization: Bearer <token>).")
    claims = app.tokens.verify(token)
    generation = await app.identities.token_generation(claims.user_id)
    if generation is None:
        raise Unauthorized("The identity of this access token no longer exists.")
    if generation != claims.generation:
        raise Unauthorized("The access token has been revoked.")
    logs.set_user(claims.user_id)
    if scope not in claims.scopes:
        raise Forbidden(f"The access token does not grant the {scope!r} scope.")
    return claims.user_id


async def chat_caller(request: Request) -> str:
    return await authenticate_token(service_of(request), bearer_token(request.headers))


async def verify_hmac(request: Request, body: bytes) -> None:
    app = service_of(request)
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    verify_request(
        key=app.key_bytes,
        method=request.method,
        path_and_query=target,
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
        body=body,
        scheme=request.url.scheme,
        now=dt.datetime.now(dt.UTC),
        max_skew_seconds=app.settings.hmac_clock_skew_seconds,
    )


# -- paging ---------------------------------------------------------------------------------------

MAX_INT32 = 2**31 - 1
"""`maxPageSize` and `skip` are int32 in the swaggers: larger values are a 400, on every engine."""
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Cursor(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The paging state a nextLink carries in `syncState`.

    It comes back from the client, so it is untrusted input: every field is typed and bounded
    (a 64-bit integer fits both engines), a field the server never writes as null must not be
    null, and anything else makes the token invalid (400).
    """

    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_INT32)] | UnsetType = UNSET
    """page size"""
    v: str | UnsetType = UNSET
    """api-version"""
    k: _Count | UnsetType = UNSET
    """skip (participants, read receipts)"""
    t: _Int64 | None = None
    """startTime in µs (threads, messages); null when the first page had none"""
    a: _Int64 | UnsetType = UNSET
    """last_message_at of the last thread on the previous page"""
    i: str | UnsetType = UNSET
    """id of the last thread on the previous page"""
    s: _Count | UnsetType = UNSET
    """sequence id of the last message on the previous page (nextLinks made before schema 0006)"""
    m: _Int64 | UnsetType = UNSET
    """id of the last message on the previous page"""
    q: str | UnsetType = UNSET
    """search query (message search)"""
    o: str | UnsetType = UNSET
    """search order (message search)"""


def page_size(request: Request, cursor: Cursor | None = None) -> int:
    app = service_of(request)
    raw = request.query_params.get("maxPageSize")
    if raw is None and cursor is not None and isinstance(cursor.n, int):
        raw = str(cursor.n)
    if not raw:
        return app.settings.limits.default_page_size
    size = _int_param(raw, "maxPageSize")
    if size < 1:
        raise BadRequest("maxPageSize must be at least 1.", target="maxPageSize")
    return min(size, app.settings.limits.max_page_size)


def _int_param(raw: str, name: str) -> int:
    """A query parameter as an int32 (the swaggers' type); anything else is a 400."""
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer; got {raw[:40]!r}.", target=name) from exc
    if not -MAX_INT32 - 1 <= value <= MAX_INT32:
        raise BadRequest(f"{name} must be a 32-bit integer; got {raw[:40]!r}.", target=name)
    return value


def skip_param(request: Request, cursor: Cursor | None = None) -> int:
    if cursor is not None and isinstance(cursor.k, int):
        return cursor.k
    skip = _int_param(request.query_params.get("skip") or "0", "skip")
    if skip < 0:
        raise BadRequest("skip must not be negative.", target="skip")
    return skip


def start_time_param(request: Request, cursor: Cursor | None = None) -> int | None:
    if cursor is not None:
        return cursor.t
    raw = request.query_params.get("startTime")
    if not raw:
        return None
    try:
        return wire.to_micros(wire.parse_datetime(raw))
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"startTime is not an ISO 8601 date-time: {raw[:60]!r}.", target="startTime") from exc


def read_cursor(request: Request) -> Cursor | None:
    """The paging state of a nextLink request (`syncState`), or None on a first page."""
    token = request.query_params.get("syncState")
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(text, type=Cursor)
    except (ValueError, binascii.Error, msgspec.DecodeError, RecursionError) as exc:
        # msgspec.ValidationError is a DecodeError: a wrong type or an out-of-range number
        raise BadRequest("The paging token (syncState) is not valid.", target="syncState") from exc
    for field in (cursor.i, cursor.q, cursor.o):
        if isinstance(field, str):
            check_text(field, "syncState")
    return cursor


def next_link(request: Request, state: dict[str, Any], size: int, version: str) -> str:
    """A relative nextLink carrying all paging state, the page size and the api-version (spec §6)."""
    state = {**state, "n": size, "v": version}
    token = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    path = quote(request.url.path, safe="/:@")
    return f"{path}?{urlencode({'syncState': token, 'maxPageSize': size, 'api-version': version})}"


def chat_version(request: Request, cursor: Cursor | None = None) -> str:
    fallback = cursor.v if cursor is not None and isinstance(cursor.v, str) else None
    return api_version(request, wire.CHAT_API_VERSIONS, fallback=fallback)


# -- the opening of every chat endpoint ----------------------------------------------------------


class ChatCall(NamedTuple):
    """What a chat endpoint knows once the request is let in (a tuple: made on every request, and
    a frozen dataclass takes twice as long to build)."""

    version: str
    caller: str
    """The user id of the access token."""
    service: Hubbub
    thread_id: str
    """The `{thread_id}` of the path; "" on a path without one."""


async def chat_call(request: Request, operation: str, cursor: Cursor | None = None) -> ChatCall:
    """Check a chat request in the order every endpoint answers in: the api-version (400), the
    access token (401/403), the thread id of the path (400), then the rate limit of `operation`
    (429, see `ratelimit.LIMITS`). `cursor` is the nextLink state of a list endpoint."""
    version = chat_version(request, cursor)
    service = service_of(request)
    caller = await authenticate_token(service, bearer_token(request.headers))
    thread_id = path_id(request, "thread_id", "chatThreadId") if "thread_id" in request.path_params else ""
    service.limiter.check(operation, user=caller, thread=thread_id)
    return ChatCall(version, caller, service, thread_id)
