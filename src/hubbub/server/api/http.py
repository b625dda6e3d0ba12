"""What every endpoint shares: JSON in and out, api-versions, authentication, paging cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from hubbub import wire
from hubbub.server.errors import BadRequest, Forbidden, PayloadTooLarge, Unauthorized
from hubbub.server.hmac_auth import verify_request

if TYPE_CHECKING:
    from hubbub.server.app import Hubbub

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
JSON_TYPE = "application/json; charset=utf-8"


def hubbub(request: Request) -> Hubbub:
    return request.app.state.hubbub  # type: ignore[no-any-return]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def empty_response(status: int) -> Response:
    return Response(b"", status_code=status)


async def read_body(request: Request) -> bytes:
    """The raw body, refusing anything over the configured maximum (413)."""
    limit = hubbub(request).settings.limits.max_body_bytes
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
    """Decode and validate a JSON body into a wire struct; any mismatch is a 400 naming the field."""
    if not body.strip():
        if allow_empty:
            return msgspec.json.decode(b"{}", type=model)
        raise BadRequest("The request body is required.")
    try:
        return msgspec.json.decode(body, type=model)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid request body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc


def body_keys(body: bytes) -> set[str]:
    """Top-level keys present in a JSON object body (for merge-patch: absent vs. null)."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return set()
    return set(value) if isinstance(value, dict) else set()


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


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


async def authenticate_token(app: Hubbub, token: str | None, scope: str = "chat") -> str:
    """The user id a bearer token stands for; 401 when missing/invalid/revoked, 403 without the scope."""
    if not token:
        raise Unauthorized("An access token is required (Authorization: Bearer <token>).")
    claims = app.tokens.verify(token)
    generation = await app.identity.token_generation(claims.user_id)
    if generation is None:
        raise Unauthorized("The identity of this access token no longer exists.")
    if generation != claims.generation:
        raise Unauthorized("The access token has been revoked.")
    if scope not in claims.scopes:
        raise Forbidden(f"The access token does not grant the {scope!r} scope.")
    return claims.user_id


async def chat_caller(request: Request) -> str:
    return await authenticate_token(hubbub(request), bearer_token(request))


async def verify_hmac(request: Request, body: bytes) -> None:
    app = hubbub(request)
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


def page_size(request: Request, cursor: dict[str, Any] | None = None) -> int:
    app = hubbub(request)
    raw = request.query_params.get("maxPageSize")
    if raw is None and cursor is not None:
        raw = str(cursor.get("n", ""))
    if not raw:
        return app.settings.limits.default_page_size
    try:
        size = int(raw)
    except ValueError as exc:
        raise BadRequest(f"maxPageSize must be an integer; got {raw!r}.", target="maxPageSize") from exc
    if size < 1:
        raise BadRequest("maxPageSize must be at least 1.", target="maxPageSize")
    return min(size, app.settings.limits.max_page_size)


def skip_param(request: Request) -> int:
    raw = request.query_params.get("skip") or "0"
    try:
        skip = int(raw)
    except ValueError as exc:
        raise BadRequest(f"skip must be an integer; got {raw!r}.", target="skip") from exc
    if skip < 0:
        raise BadRequest("skip must not be negative.", target="skip")
    return skip


def start_time_param(request: Request) -> int | None:
    raw = request.query_params.get("startTime")
    if not raw:
        return None
    try:
        return wire.to_micros(wire.parse_datetime(raw))
    except ValueError as exc:
        raise BadRequest(f"startTime is not an ISO 8601 date-time: {raw!r}.", target="startTime") from exc


def read_cursor(request: Request) -> dict[str, Any] | None:
    """The paging state of a nextLink request (`syncState`), or None on a first page."""
    token = request.query_params.get("syncState")
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("The paging token (syncState) is not valid.", target="syncState") from exc
    if not isinstance(value, dict):
        raise BadRequest("The paging token (syncState) is not valid.", target="syncState")
    return value


def next_link(request: Request, state: dict[str, Any], size: int, version: str) -> str:
    """A relative nextLink carrying all paging state, the page size and the api-version (spec §6)."""
    state = {**state, "n": size, "v": version}
    token = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    path = quote(request.url.path, safe="/:@")
    return f"{path}?{urlencode({'syncState': token, 'maxPageSize': size, 'api-version': version})}"


def chat_version(request: Request, cursor: dict[str, Any] | None = None) -> str:
    fallback = str(cursor["v"]) if cursor and "v" in cursor else None
    return api_version(request, wire.CHAT_API_VERSIONS, fallback=fallback)
