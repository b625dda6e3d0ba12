"""The HTTP steps of the Trouter protocol: discovery, allocation, socket.io handshake, registrar.

Each step checks the access token as the REST API does (401 for a missing, invalid, expired or
revoked token, 403 without the `chat` scope): discovery takes it as `Authorization: Bearer`, the
others as `X-Skypetoken` (the same ACS token; docs/signaling.md §4.1). Every URL handed out is on
the origin the client called, so one Hubbub origin serves the whole exchange.
"""

from __future__ import annotations

import math
import secrets
import time

import msgspec
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response

from hubbub.server.api.http import authenticate_token, empty_response, json_response, read_body
from hubbub.server.errors import BadRequest, Unauthorized
from hubbub.server.service import service_of
from hubbub.server.signaling import frames
from hubbub.server.signaling.credentials import Grant
from hubbub.server.signaling.state import signaling_of
from hubbub.server.tokens import TokenClaims, bearer_token

CLOUD_TYPE = "public"
"""Anything but `int` keeps the client's production registration template."""


def origin(conn: HTTPConnection) -> str:
    """`https://host:port` of the request: the URLs handed out point back at this origin."""
    return f"{conn.url.scheme}://{conn.url.netloc}"


def skype_token(conn: HTTPConnection) -> str | None:
    """`X-Skypetoken` (what the Trouter client sends), else `Authorization: Bearer`."""
    return conn.headers.get("x-skypetoken", "").strip() or bearer_token(conn.headers)


async def _authenticate(conn: HTTPConnection, token: str | None) -> TokenClaims:
    service = service_of(conn)
    await authenticate_token(service, token)
    assert token is not None  # authenticate_token refuses a missing token
    return service.tokens.verify(token)


def heartbeat_seconds(conn: HTTPConnection) -> int:
    """The socket.io heartbeat/close timeout: twice the event heartbeat, so a quiet connection
    always gets a `2::` in time (the client reconnects `timeout + 2 s` after the server's last packet)."""
    return max(10, math.ceil(2 * service_of(conn).settings.events_heartbeat_seconds))


async def discover(request: Request) -> Response:
    """`GET /chat/config/realTimeNotifications`: where the Trouter and the registrar are (here)."""
    await _authenticate(request, bearer_token(request.headers))
    base = origin(request)
    return json_response({"trouterServiceUrl": base, "registrarServiceUrl": base, "cloudType": CLOUD_TYPE})


async def allocate(request: Request) -> Response:
    """`POST /v4/a`: a connection for this client, with the connectparams that let its WebSocket in.

    The cached connectparams of a reconnect allocation are ignored: the token decides, every time.
    """
    claims = await _authenticate(request, skype_token(request))
    service, signaling = service_of(request), signaling_of(request)
    endpoint_id = request.query_params.get("epid") or secrets.token_hex(16)
    grant = Grant(claims.user_id, claims.generation, endpoint_id, service.bus.hub.position, claims.expires_at)
    connection_id = secrets.token_hex(12)
    base = origin(request)
    return json_response(
        {
            "socketio": base + "/",
            "surl": f"{base}/surl/{connection_id}",
            "url": base + "/",
            "ccid": connection_id[:8],
            "connectparams": signaling.signer.connect_params(grant),
            "ttl": str(max(1, claims.expires_at - int(time.time()))),
            "id": connection_id,
        }
    )


async def handshake(request: Request) -> Response:
    """`GET /socket.io/1/`: the token and the echoed connectparams must name the same user."""
    claims = await _authenticate(request, skype_token(request))
    signer = signaling_of(request).signer
    params = dict(request.query_params)
    grant = signer.grant(params)
    if grant.user_id != claims.user_id:
        raise Unauthorized("The connection parameters were issued to another user.")
    seconds = heartbeat_seconds(request)
    return PlainTextResponse(frames.handshake_body(signer.sid(params), seconds, seconds))


class _Registration(msgspec.Struct):
    registrationId: str


async def register(request: Request) -> Response:
    """`POST /v3/registrations`: accepted (202). Delivery does not depend on it (as with ACS)."""
    await _authenticate(request, skype_token(request))
    try:
        msgspec.json.decode(await read_body(request), type=_Registration)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Invalid registration: {exc}") from exc
    return empty_response(202)


async def unregister(request: Request) -> Response:
    """`DELETE /v3/registrations/{id}` (on `stopRealtimeNotifications()`): forget where the client's
    stream left off, so a later start does not replay what happened while it was stopped."""
    claims = await _authenticate(request, skype_token(request))
    await signaling_of(request).cursors.forget(request.path_params["registration_id"], claims.user_id)
    return empty_response(202)
