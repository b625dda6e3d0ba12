"""The Trouter WebSocket: `/socket.io/1/websocket/<sid>`, one `EventSession` in socket.io 0.9 frames.

The upgrade carries no token, so it is let in by the signed connectparams and sid the allocation and
the handshake issued (`credentials.py`), after checking that the token generation they name is still
current. Then, in order: `1::` (the client sends nothing before it), `trouter.connected` (the app's
`realTimeNotificationConnected`), and the event session of `/chat/events`: the same hub, the same
revocation and expiry handling, the same backlog replay. Its frames become:

    chat event  -> 3:::{request}      (the client answers 3:::{response}; nothing to do with it)
    heartbeat   -> 2::                (the client answers 2::)
    disconnect  -> 0:::{"reason":"unauthorized"} for a revoked or expired token; then close

The client's `5:<n>+::` events (`user.activity`, `ping`) get their `6:::<n>+[]` ack: without it
the client reconnects after 5 s (ping) or 10 s (user.activity).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.server.api.errors import error_response
from hubbub.server.errors import HubbubError, Unauthorized
from hubbub.server.events import hub as reasons
from hubbub.server.events.bus import first_done
from hubbub.server.events.session import CONNECTED, DISCONNECT, HEARTBEAT, EventSession, Frame
from hubbub.server.service import service_of
from hubbub.server.signaling import frames
from hubbub.server.signaling.credentials import Grant
from hubbub.server.signaling.notifications import notification
from hubbub.server.signaling.state import SHARE_SECONDS, Cursors, signaling_of

log = logging.getLogger("hubbub.signaling")

UNAUTHORIZED = {reasons.TOKEN_EXPIRED, reasons.TOKEN_REVOKED, reasons.IDENTITY_DELETED}
"""Session endings after which the client must come back with a fresh token."""
CLOSE_CODES = {reasons.SERVER_SHUTDOWN: 1012, reasons.QUEUE_OVERFLOW: 1013, reasons.BUS_INTERRUPTED: 1013}
CLOSE_WAIT_SECONDS = 1.0
_GONE = (WebSocketDisconnect, OSError, RuntimeError)
"""What a write raises once the client (or the server's shutdown) closed the connection."""


async def _admit(websocket: WebSocket) -> Grant:
    """Check the sid and connectparams, and that the token they stand for is not revoked."""
    signer = signaling_of(websocket).signer
    params = dict(websocket.query_params)
    grant = signer.grant(params)
    signer.check_sid(websocket.path_params["sid"], params)
    generation = await service_of(websocket).identities.token_generation(grant.user_id)
    if generation is None:
        raise Unauthorized("The identity of this access token no longer exists.")
    if generation != grant.generation:
        raise Unauthorized("The access token has been revoked.")
    return grant


async def trouter_socket(websocket: WebSocket) -> None:
    try:
        grant = await _admit(websocket)
    except HubbubError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(error_response(exc))
        else:
            await websocket.close(code=1008, reason=exc.message[:120])
        return
    service, cursors = service_of(websocket), signaling_of(websocket).cursors
    session = EventSession(
        service.bus,
        grant.user_id,
        last_id=await cursors.resume_point(grant.endpoint_id, grant.user_id) or grant.position,
        heartbeat=service.settings.events_heartbeat_seconds,
        expires_at=float(grant.expires_at),
        generation=grant.generation,
    )
    with service.bus.hub.stream():
        await TrouterSocket(websocket, session, grant, cursors).run()


class TrouterSocket:
    """One accepted connection: the session's writer, the client's reader, one send lock."""

    def __init__(self, websocket: WebSocket, session: EventSession, grant: Grant, cursors: Cursors) -> None:
        self.websocket = websocket
        self.session = session
        self.grant = grant
        self.cursors = cursors
        self._lock = asyncio.Lock()
        self._request_id = 0
        self._cv = base64.b64encode(secrets.token_bytes(16)).decode()[:22]
        scheme = "https" if websocket.url.scheme == "wss" else "http"
        self._messaging_url = f"{scheme}://{websocket.url.netloc}/surl/messaging"
        self._shared_at = time.monotonic()

    async def _send(self, texts: list[str]) -> None:
        async with self._lock:
            for text in texts:
                await self.websocket.send_text(text)

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            # Where the client got to, for whichever node it comes back to (bounded: a dead Redis
            # must not hold up the close).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                    await self.cursors.share(self.grant.endpoint_id, self.grant.user_id)

    async def _run(self) -> None:
        await self.websocket.accept()
        # `1::` and `trouter.connected` go out with the session's `connected` frame (`write`),
        # which it sends once it has subscribed: an app that acts on realTimeNotificationConnected
        # (another user's message right away) must not race the subscription.
        stream = asyncio.create_task(self.session.run(self.write))
        reader = asyncio.create_task(self.read())
        done = await first_done(stream, reader)
        if stream in done:
            error = stream.exception()
            if error is not None and not isinstance(error, _GONE):
                raise error
            reason = stream.result() if error is None else None
            with contextlib.suppress(TimeoutError, *_GONE):
                async with asyncio.timeout(self.session.send_timeout):
                    await self.websocket.close(CLOSE_CODES.get(reason or "", 1000))
                # Stay until the client answers the close: a server that is stopping closes the
                # connections still open, and uvicorn fails on one that is half-way closed.
                async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                    while (await self.websocket.receive())["type"] != "websocket.disconnect":
                        pass

    async def write(self, batch: list[Frame]) -> None:
        """The session's frames as socket.io packets; remembers how far the client got."""
        texts: list[str] = []
        for frame in batch:
            if frame.type == CONNECTED:
                ttl = str(max(1, self.grant.expires_at - int(time.time())))
                texts += [frames.CONNECT_FRAME, frames.event("trouter.connected", {"ttl": ttl, "dur": "0"})]
            elif frame.type == HEARTBEAT:
                texts.append(frames.HEARTBEAT_FRAME)
            elif frame.type == DISCONNECT:
                reason = frame.data.get("reason")
                if reason in UNAUTHORIZED:  # otherwise closing the socket says it all
                    texts.append(frames.disconnect("unauthorized"))
            else:
                body = notification(frame.type, frame.data, self.grant.user_id)
                if body is not None:
                    self._request_id += 1
                    cv = f"{self._cv}.{self._request_id}"
                    texts.append(frames.request(self._request_id, self._messaging_url, body, cv))
        if texts:
            await self._send(texts)
        positions = [frame.id for frame in batch if frame.id is not None]
        if positions:
            self.cursors.remember(self.grant.endpoint_id, self.grant.user_id, max(positions))
            if time.monotonic() - self._shared_at >= SHARE_SECONDS:
                self._shared_at = time.monotonic()
                await self.cursors.share(self.grant.endpoint_id, self.grant.user_id)

    async def read(self) -> None:
        """Ack the client's events until it disconnects (`0::` or a closed socket)."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                packet = frames.decode(message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace"))
                if packet is None:
                    continue
                if packet.type == frames.DISCONNECT:
                    return
                if packet.type == frames.MESSAGE and '"status":200' not in packet.data:
                    log.debug("signaling: client of %s answered %s", self.grant.user_id, packet.data[:200])
                reply = frames.ack(packet)
                if reply is not None:
                    await self._send([reply])
