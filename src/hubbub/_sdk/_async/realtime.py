"""The async event stream: reconnection, resume and dead-connection detection over SSE or a WebSocket.

`AsyncEventStream` is the reconnect loop; it reads frames from one of two connections with the same
small interface (`url`, `is_open`, `open()`, `receive()`, `interrupt()`, `drop()`, `aclose()`):
`AsyncSseConnection` (httpx, `GET /chat/events`) and `AsyncWebSocketConnection` (the websockets
library, `GET /chat/events/ws`). A connection turns its library's errors into `ConnectFailed`,
`StreamRefused` and `StreamEnded` (see `hubbub._sdk.events`).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus, WebSocketException

from hubbub._sdk._async.auth import AsyncBearerAuth
from hubbub._sdk.concurrency import async_sleep
from hubbub._sdk.errors import ResponseView, error_for_response
from hubbub._sdk.events import (
    DEFAULT_HEARTBEAT_SECONDS,
    EVENTS_PATH,
    IDENTITY_DELETED,
    RETRYABLE_STATUSES,
    SSE,
    TOKEN_REJECTED_REASONS,
    WEBSOCKET,
    Backoff,
    ChatEvent,
    ConnectFailed,
    RealtimeTransport,
    SseParser,
    StreamEnded,
    StreamRefused,
    check_realtime_transport,
    disconnect_reason,
    heartbeat_of,
    identity_deleted_error,
    logger,
    read_timeout_for,
)
from hubbub._sdk.options import ClientOptions
from hubbub._sdk.websocket import (
    MAX_FRAME_BYTES,
    SUBPROTOCOLS,
    async_ws_receive,
    frame_of,
    handshake_headers,
    refusal,
    resume_url,
    socket_of,
    ssl_context,
    websocket_url,
)


class AsyncEventStream:
    """Iterates over one user's events, reconnecting (with backoff) and resuming from the last id.

    Yields `ChatEvent`s: `connected` after every (re)connection, the chat events, `resyncRequired`,
    and `disconnect` (from the server, or with reason `connectionLost` when the stream dropped).
    Heartbeats are not yielded. A stream without data for 3 heartbeat intervals is reconnected.
    Raises the azure-core error when the server refuses the stream for good (401, 403, 400).
    After `disconnect` / `tokenExpired` or `tokenRevoked` the credential replaces the token (its
    `token_refresher`) before the reconnection; after `identityDeleted` the stream raises
    `ClientAuthenticationError` instead of reconnecting.
    `realtime_transport` is `"sse"` (Server-Sent Events) or `"websocket"`; both behave the same.
    """

    def __init__(
        self,
        endpoint: str,
        options: ClientOptions,
        auth: AsyncBearerAuth,
        *,
        last_event_id: str | None = None,
        reconnect: bool = True,
        realtime_transport: RealtimeTransport = SSE,
    ) -> None:
        """Prepare the stream; nothing connects until the first event is asked for."""
        self.realtime_transport = check_realtime_transport(realtime_transport)
        self._connection: AsyncSseConnection | AsyncWebSocketConnection
        if self.realtime_transport == WEBSOCKET:
            self._connection = AsyncWebSocketConnection(endpoint, options)
        else:
            self._connection = AsyncSseConnection(endpoint, options)
        self.url = self._connection.url
        self.last_event_id = last_event_id
        self.heartbeat_seconds = DEFAULT_HEARTBEAT_SECONDS
        self._options = options
        self._auth = auth
        self._reconnect = reconnect
        self._backoff = Backoff()
        self._closed = False
        self._ended = False
        self._disconnect_seen = False
        self._authorization: str | None = None
        """The Authorization header of the current (or last) connection."""
        self._rejected: str | None = None
        """An Authorization header the server rejected, for the credential to replace before reconnecting."""
        self._final_error: ClientAuthenticationError | None = None
        """Raised by the next `__anext__` instead of reconnecting."""

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> ChatEvent:
        while True:
            if self._final_error is not None and not self._closed:
                error, self._final_error, self._ended = self._final_error, None, True
                await self._connection.drop()
                raise error
            if self._closed or self._ended:
                await self._connection.drop()
                raise StopAsyncIteration
            if not self._connection.is_open:
                await self._connect()
                continue
            try:
                event = await self._connection.receive(read_timeout_for(self.heartbeat_seconds))
            except StreamEnded as ended:
                await self._connection.drop()
                if self._closed:
                    raise StopAsyncIteration from None
                if not self._reconnect:
                    self._ended = True
                if self._disconnect_seen:
                    continue
                logger.info("event stream dropped (%s); reconnecting from %s", ended, self.last_event_id)
                return ChatEvent("disconnect", None, {"reason": ended.reason})
            if event is None:
                continue
            if event.id is not None:
                self.last_event_id = event.id
            if event.type == "heartbeat":
                continue
            if event.type == "connected":
                self.heartbeat_seconds = heartbeat_of(event, self.heartbeat_seconds)
                self._backoff.reset()
            elif event.type == "disconnect":
                self._disconnect_seen = True
                reason = disconnect_reason(event)
                if reason in TOKEN_REJECTED_REASONS:
                    self._rejected = self._authorization
                elif reason == IDENTITY_DELETED:
                    self._final_error = identity_deleted_error()
            return event

    async def _headers(self) -> dict[str, str]:
        """The request headers of a (re)connection, with a token fresh from the credential."""
        headers = {"User-Agent": self._options.user_agent_header(), **self._options.headers}
        headers = {name: value for name, value in headers.items() if name.lower() != "authorization"}
        if self._rejected is not None:
            rejected, self._rejected = self._rejected, None
            await self._auth.refresh(rejected)
        headers["Authorization"] = self._authorization = await self._auth.authorization()
        return headers

    async def _connect(self) -> None:
        """Open the stream (retrying with backoff); leave the connection open, or raise."""
        while not self._closed:
            headers = await self._headers()
            try:
                await self._connection.open(headers, self.last_event_id, read_timeout_for(self.heartbeat_seconds))
            except ConnectFailed as exc:
                if not self._reconnect:
                    raise ServiceRequestError(str(exc), error=exc.error) from exc.error
                delay = self._backoff.next_delay()
                logger.info("event stream connection failed (%r); retrying in %.1fs", exc.error, delay)
                await async_sleep(delay)
                continue
            except StreamRefused as refused:
                if refused.response.status_code not in RETRYABLE_STATUSES or not self._reconnect:
                    raise error_for_response(refused.response) from None
                delay = self._backoff.next_delay()
                logger.info("event stream refused with %s; retrying in %.1fs", refused.response.status_code, delay)
                await async_sleep(delay)
                continue
            self._disconnect_seen = False
            return

    def abort(self) -> None:
        """End the stream now, from any thread or task: the reader wakes up and stops iterating."""
        self._closed = True
        self.interrupt()

    def interrupt(self) -> None:
        """Cut the current connection (from any thread or task); the iterator reconnects and resumes."""
        self._connection.interrupt()

    async def aclose(self) -> None:
        """Stop iterating and release the connection."""
        self._closed = True
        await self._connection.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.aclose()


def _shutdown(sock: Any) -> None:
    """Shut a socket down for reading and writing (safe from any thread): its reader sees the end."""
    shutdown = getattr(sock, "shutdown", None)  # a socket, or asyncio's TransportSocket
    if callable(shutdown):
        with contextlib.suppress(OSError):
            shutdown(socket.SHUT_RDWR)


class AsyncSseConnection:
    """Server-Sent Events over httpx: `GET /chat/events`, `Last-Event-ID` to resume.

    Uses the client's httpx options, `transport` included. The read timeout is the httpx read
    timeout of the request, fixed when the stream opens.
    """

    def __init__(self, endpoint: str, options: ClientOptions) -> None:
        """Nothing connects until `open()`."""
        self.url = endpoint.rstrip("/") + EVENTS_PATH
        self._options = options
        self._client: httpx.AsyncClient | None = None
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self._parser = SseParser()

    @property
    def is_open(self) -> bool:
        """True from a successful `open()` until `drop()`."""
        return self._lines is not None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                transport=self._options.transport, verify=self._options.ssl_verify(), follow_redirects=False
            )
        return self._client

    async def open(self, headers: Mapping[str, str], last_event_id: str | None, read_timeout: float) -> None:
        """Open the stream; raises `ConnectFailed` or `StreamRefused`."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **headers}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(read_timeout, connect=self._options.connection_timeout)
        request = self._http().build_request("GET", self.url, headers=headers, timeout=timeout)
        try:
            response = await self._http().send(request, stream=True)
        except httpx.TransportError as exc:
            raise ConnectFailed(exc) from exc
        if response.status_code != 200:
            content = await response.aread()
            await response.aclose()
            view = ResponseView(response.status_code, response.headers, content, method="GET", url=self.url)
            raise StreamRefused(view)
        self._response, self._lines, self._parser = response, response.aiter_lines(), SseParser()

    async def receive(self, read_timeout: float) -> ChatEvent | None:
        """Read one line: the frame it completes, or None; raises `StreamEnded`."""
        if self._lines is None:
            raise StreamEnded("streamEnded")
        try:
            line = await self._lines.__anext__()
        except StopAsyncIteration:
            raise StreamEnded("streamEnded") from None
        except (httpx.HTTPError, OSError) as exc:
            raise StreamEnded("connectionLost", exc) from exc
        return self._parser.feed(line)

    def interrupt(self) -> None:
        """Shut the connection's socket down (from any thread); `receive()` then ends."""
        response = self._response
        if response is not None:
            network_stream: Any = response.extensions.get("network_stream")
            _shutdown(network_stream.get_extra_info("socket") if network_stream is not None else None)

    async def drop(self) -> None:
        """Close the current response (the next `open()` reconnects)."""
        response, self._response, self._lines = self._response, None, None
        if response is not None:
            with contextlib.suppress(httpx.HTTPError, OSError):  # already broken
                await response.aclose()

    async def aclose(self) -> None:
        """Close the response and the connection pool."""
        await self.drop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class AsyncWebSocketConnection:
    """A WebSocket with the websockets library: `GET /chat/events/ws`, `?lastEventId=` to resume.

    `ws://` for an `http://` endpoint, `wss://` (verified per `connection_verify`/`connection_cert`)
    for `https://`. The client's httpx `transport` does not apply. The read timeout is per message.
    """

    def __init__(self, endpoint: str, options: ClientOptions) -> None:
        """Nothing connects until `open()`."""
        self.url = websocket_url(endpoint)
        self._options = options
        self._ssl: ssl.SSLContext | None = None
        self._ws: ClientConnection | None = None
        self._context = contextlib.AsyncExitStack()  # websockets wants its connections used as context managers

    @property
    def is_open(self) -> bool:
        """True from a successful `open()` until `drop()`."""
        return self._ws is not None

    async def open(self, headers: Mapping[str, str], last_event_id: str | None, read_timeout: float) -> None:
        """Open the WebSocket; raises `ConnectFailed` or `StreamRefused` (the upgrade's error response)."""
        url = resume_url(self.url, last_event_id)
        additional_headers, user_agent = handshake_headers(headers)
        if self._ssl is None:
            self._ssl = ssl_context(self.url, self._options)  # a bad CA path raises here, as it does for SSE
        try:
            self._ws = await self._context.enter_async_context(
                connect(
                    url,
                    additional_headers=additional_headers,
                    user_agent_header=user_agent,
                    subprotocols=SUBPROTOCOLS,
                    ssl=self._ssl,
                    open_timeout=self._options.connection_timeout,
                    max_size=MAX_FRAME_BYTES,
                )
            )
        except InvalidStatus as exc:
            raise StreamRefused(refusal(exc, url)) from exc
        except (OSError, WebSocketException) as exc:  # TimeoutError and ssl.SSLError are OSErrors
            raise ConnectFailed(exc) from exc

    async def receive(self, read_timeout: float) -> ChatEvent | None:
        """Read one message: its frame, or None; raises `StreamEnded` (also after `read_timeout` of silence)."""
        ws = self._ws
        if ws is None:
            raise StreamEnded("streamEnded")
        try:
            message = await async_ws_receive(ws, read_timeout)
        except ConnectionClosedOK as exc:
            raise StreamEnded("streamEnded", exc) from exc
        except (ConnectionClosed, OSError) as exc:  # TimeoutError included: a dead connection
            self.interrupt()  # so that closing it does not wait for a closing handshake that never comes
            raise StreamEnded("connectionLost", exc) from exc
        return frame_of(message)

    def interrupt(self) -> None:
        """Shut the connection's socket down (from any thread); `receive()` then ends."""
        ws = self._ws
        if ws is not None:
            _shutdown(socket_of(ws))

    async def drop(self) -> None:
        """Close the WebSocket (the next `open()` reconnects)."""
        context, self._context, self._ws = self._context, contextlib.AsyncExitStack(), None
        with contextlib.suppress(WebSocketException, OSError):  # already broken
            await context.aclose()

    async def aclose(self) -> None:
        """Close the WebSocket."""
        await self.drop()
