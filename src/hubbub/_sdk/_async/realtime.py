"""The async event stream: SSE over httpx, with reconnection, resume and dead-connection detection."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
from azure.core.exceptions import ServiceRequestError

from hubbub._sdk._async.auth import AsyncBearerAuth
from hubbub._sdk.concurrency import async_sleep
from hubbub._sdk.errors import ResponseView, error_for_response
from hubbub._sdk.events import (
    DEFAULT_HEARTBEAT_SECONDS,
    EVENTS_PATH,
    RETRYABLE_STATUSES,
    Backoff,
    ChatEvent,
    SseParser,
    heartbeat_of,
    logger,
    read_timeout_for,
)
from hubbub._sdk.options import ClientOptions


class AsyncEventStream:
    """Iterates over one user's events, reconnecting (with backoff) and resuming from the last id.

    Yields `ChatEvent`s: `connected` after every (re)connection, the chat events, `resyncRequired`,
    and `disconnect` (from the server, or with reason `connectionLost` when the stream dropped).
    Heartbeats are not yielded. A stream without data for 3 heartbeat intervals is reconnected.
    Raises the azure-core error when the server refuses the stream for good (401, 403, 400).
    """

    def __init__(
        self,
        endpoint: str,
        options: ClientOptions,
        auth: AsyncBearerAuth,
        *,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> None:
        """Prepare the stream; nothing connects until the first event is asked for."""
        self.url = endpoint.rstrip("/") + EVENTS_PATH
        self.last_event_id = last_event_id
        self.heartbeat_seconds = DEFAULT_HEARTBEAT_SECONDS
        self._options = options
        self._auth = auth
        self._reconnect = reconnect
        self._backoff = Backoff()
        self._client: httpx.AsyncClient | None = None
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self._parser = SseParser()
        self._closed = False
        self._ended = False
        self._disconnect_seen = False

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> ChatEvent:
        while True:
            if self._closed or self._ended:
                await self._drop()
                raise StopAsyncIteration
            if self._lines is None:
                await self._connect()
                continue
            try:
                line = await self._lines.__anext__()
            except (StopAsyncIteration, httpx.HTTPError, OSError) as exc:
                await self._drop()
                if self._closed:
                    raise StopAsyncIteration from None
                if not self._reconnect:
                    self._ended = True
                if self._disconnect_seen:
                    continue
                reason = "streamEnded" if isinstance(exc, StopAsyncIteration) else "connectionLost"
                logger.info("event stream dropped (%s: %r); reconnecting from %s", reason, exc, self.last_event_id)
                return ChatEvent("disconnect", None, {"reason": reason})
            event = self._parser.feed(line)
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
            return event

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                transport=self._options.transport, verify=self._options.ssl_verify(), follow_redirects=False
            )
        return self._client

    async def _connect(self) -> None:
        """Open the stream (retrying with backoff); leave `_lines` set, or raise."""
        while not self._closed:
            headers = {
                "Accept": "text/event-stream",
                "Cache-Control": "no-cache",
                "User-Agent": self._options.user_agent_header(),
                **self._options.headers,
            }
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            timeout = httpx.Timeout(read_timeout_for(self.heartbeat_seconds), connect=self._options.connection_timeout)
            request = self._http().build_request("GET", self.url, headers=headers, timeout=timeout)
            await self._auth.apply(request)
            try:
                response = await self._http().send(request, stream=True)
            except httpx.TransportError as exc:
                if not self._reconnect:
                    raise ServiceRequestError(str(exc) or type(exc).__name__, error=exc) from exc
                delay = self._backoff.next_delay()
                logger.info("event stream connection failed (%r); retrying in %.1fs", exc, delay)
                await async_sleep(delay)
                continue
            if response.status_code == 200:
                self._response = response
                self._lines = response.aiter_lines()
                self._parser = SseParser()
                self._disconnect_seen = False
                return
            content = await response.aread()
            await response.aclose()
            view = ResponseView(response.status_code, response.headers, content, method="GET", url=self.url)
            if view.status_code not in RETRYABLE_STATUSES or not self._reconnect:
                raise error_for_response(view)
            delay = self._backoff.next_delay()
            logger.info("event stream refused with %s; retrying in %.1fs", view.status_code, delay)
            await async_sleep(delay)

    async def _drop(self) -> None:
        """Close the current response (the next event reconnects)."""
        response, self._response, self._lines = self._response, None, None
        if response is not None:
            with contextlib.suppress(httpx.HTTPError, OSError):  # already broken
                await response.aclose()

    def abort(self) -> None:
        """End the stream now, from any thread or task: the reader wakes up and stops iterating."""
        self._closed = True
        self.interrupt()

    def interrupt(self) -> None:
        """Cut the current connection (from any thread or task); the iterator reconnects and resumes."""
        response = self._response
        if response is None:
            return
        network_stream: Any = response.extensions.get("network_stream")
        sock = network_stream.get_extra_info("socket") if network_stream is not None else None
        shutdown = getattr(sock, "shutdown", None)  # a socket, or asyncio's TransportSocket
        if callable(shutdown):
            with contextlib.suppress(OSError):
                shutdown(socket.SHUT_RDWR)

    async def aclose(self) -> None:
        """Stop iterating and release the connection."""
        self._closed = True
        await self._drop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.aclose()
