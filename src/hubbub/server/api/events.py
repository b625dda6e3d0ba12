"""The event streams: `GET /chat/events` (Server-Sent Events) and `/chat/events/ws` (WebSocket).

Both authenticate with the user's chat access token before the stream starts (a 401/403 with an
ACS error body, as on every REST endpoint), then run one `EventSession`. The protocol is described
in docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import HTTPConnection, Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.server.api.errors import error_response
from hubbub.server.api.http import authenticate_token
from hubbub.server.errors import BadRequest, HubbubError
from hubbub.server.events import hub as reasons
from hubbub.server.events.bus import first_done
from hubbub.server.events.ids import StreamId
from hubbub.server.events.session import EventSession, Frame
from hubbub.server.service import service_of
from hubbub.server.tokens import bearer_token

SUBPROTOCOL = "hubbub.events.v1"
"""Offer this WebSocket subprotocol; the server selects it when offered (required by browsers when
the token travels as a second subprotocol `token.<access token>`)."""
TOKEN_SUBPROTOCOL_PREFIX = "token."
SSE_RETRY_MS = 1000

CLOSE_CODES = {
    reasons.QUEUE_OVERFLOW: 1013,  # Try Again Later: resume with the last id
    reasons.SEND_TIMEOUT: 1013,
    reasons.BUS_INTERRUPTED: 1013,
    reasons.SERVER_SHUTDOWN: 1012,  # Service Restart
    reasons.TOKEN_EXPIRED: 4401,  # reconnect with a fresh token
    reasons.TOKEN_REVOKED: 4401,
    reasons.IDENTITY_DELETED: 4403,  # do not reconnect: no token of this user will work again
}
_GONE = (WebSocketDisconnect, OSError)
"""What a write raises when the client (or the server's own shutdown) already closed the connection:
the stream just ends, this is not an error of the application."""


def access_token(conn: HTTPConnection) -> str | None:
    """Authorization: Bearer, else a `token.<token>` subprotocol, else `?access_token=`."""
    token = bearer_token(conn.headers)
    if token is not None:
        return token
    for offered in conn.scope.get("subprotocols") or ():
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(offered) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return str(offered[len(TOKEN_SUBPROTOCOL_PREFIX) :])
    return conn.query_params.get("access_token") or None


def last_event_id(conn: HTTPConnection) -> StreamId | None:
    """The client's resume point: `Last-Event-ID` (what EventSource sends) or `?lastEventId=`."""
    raw = conn.headers.get("last-event-id") or conn.query_params.get("lastEventId")
    if not raw:
        return None
    try:
        return StreamId.parse(raw.strip())
    except ValueError as exc:
        raise BadRequest(f"lastEventId {raw!r} is not an event id.", target="lastEventId") from exc


async def open_session(conn: HTTPConnection) -> EventSession:
    """Authenticate (401 when missing, invalid, expired or revoked) and parse the resume point."""
    app = service_of(conn)
    token = access_token(conn)
    user_id = await authenticate_token(app, token)
    assert token is not None  # authenticate_token refuses a missing token
    claims = app.tokens.verify(token)
    settings = app.settings
    return EventSession(
        app.bus,
        user_id,
        last_id=last_event_id(conn),
        heartbeat=settings.events_heartbeat_seconds,
        expires_at=float(claims.expires_at),
        generation=claims.generation,
    )


# -- Server-Sent Events ---------------------------------------------------------------------------


class EventStream:
    """The ASGI response of `GET /chat/events`: a `text/event-stream` that ends when the session
    ends or the client goes away.

    Not a starlette `Response`: it has no body to render and sets no `content-length`; the
    endpoint returns it and starlette calls it like any response.
    """

    headers = (
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),
        (b"content-type", b"text/event-stream; charset=utf-8"),
    )

    def __init__(self, session: EventSession) -> None:
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.session.bus.hub.stream():
            await self._stream(receive, send)

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": f"retry: {SSE_RETRY_MS}\n\n".encode(), "more_body": True})

        async def write(frames: list[Frame]) -> None:
            body = frames[0].sse() if len(frames) == 1 else b"".join(frame.sse() for frame in frames)
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        stream = asyncio.create_task(self.session.run(write))
        watch = asyncio.create_task(until_disconnect())
        done = await first_done(stream, watch)
        if stream in done and stream.exception() is not None:
            if isinstance(stream.exception(), _GONE):
                return
            raise stream.exception()  # type: ignore[misc]
        if watch not in done:
            with contextlib.suppress(TimeoutError, *_GONE):
                async with asyncio.timeout(self.session.send_timeout):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def sse_events(request: Request) -> EventStream:
    return EventStream(await open_session(request))


# -- WebSocket ------------------------------------------------------------------------------------


async def _deny(websocket: WebSocket, exc: HubbubError) -> None:
    """Refuse before the upgrade with the same response (status, ACS body, `Retry-After`) as the
    REST API."""
    response = error_response(exc)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:  # a server without the denial extension answers 403
        await websocket.close(code=1008, reason=exc.message[:120])


async def websocket_events(websocket: WebSocket) -> None:
    try:
        session = await open_session(websocket)
    except HubbubError as exc:
        await _deny(websocket, exc)
        return
    with session.bus.hub.stream():
        await _websocket_stream(websocket, session)


async def _websocket_stream(websocket: WebSocket, session: EventSession) -> None:
    offered = websocket.scope.get("subprotocols") or ()
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)

    async def write(frames: list[Frame]) -> None:
        for frame in frames:
            await websocket.send_text(frame.json().decode())

    async def until_disconnect() -> None:
        # Client messages carry nothing yet (reserved); reading them is how a close is noticed.
        with contextlib.suppress(WebSocketDisconnect):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

    stream = asyncio.create_task(session.run(write))
    watch = asyncio.create_task(until_disconnect())
    done = await first_done(stream, watch)
    if stream in done and stream.exception() is not None:
        if isinstance(stream.exception(), _GONE):
            return
        raise stream.exception()  # type: ignore[misc]
    if watch not in done:
        reason = stream.result()
        with contextlib.suppress(TimeoutError, RuntimeError, *_GONE):
            async with asyncio.timeout(session.send_timeout):
                await websocket.close(CLOSE_CODES.get(reason, 1011), reason)


routes = [
    Route("/chat/events", sse_events, methods=["GET"]),
    WebSocketRoute("/chat/events/ws", websocket_events),
]
