"""The ASGI middleware that sees every request and WebSocket: request id, log context, metrics, CORS.

It runs outside the router and the endpoints and changes nothing they do, except that it echoes the
client's `x-ms-client-request-id` on the response, as ACS does (the Azure SDKs send one with every
request and log it; the same id is then on every log line of the request, `logs.py`), and that it
hands requests from a browser (those with an `Origin`) to Starlette's `CORSMiddleware`
(`api/cors.py` says which origins and headers). It reads the headers once for all of these: every
layer around the router costs each request a few microseconds (W1 measures them).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.server import logs
from hubbub.server.metrics import Metrics
from hubbub.server.operations import STREAM_TRANSPORTS, operation_of

CLIENT_REQUEST_ID = b"x-ms-client-request-id"
MAX_REQUEST_ID = 128
"""Longer client ids are cut: the id goes into every log line."""

access_log = logging.getLogger("hubbub.access")


def _read_headers(scope: Scope) -> tuple[str | None, bool]:
    """(the client's request id, whether an `Origin` header came), in one pass over the headers."""
    client_id, origin = None, False
    for name, value in scope.get("headers", ()):
        if name == CLIENT_REQUEST_ID:
            text = value.decode("latin-1").strip()[:MAX_REQUEST_ID]
            client_id = text if text.isprintable() and text else None
        elif name == b"origin":
            origin = True
    return client_id, origin


def _echoing(send: Send, client_id: str) -> Send:
    """`send`, with the client's request id added to the response headers (as ACS echoes it)."""
    echo = (CLIENT_REQUEST_ID, client_id.encode("latin-1"))

    async def echoing_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), echo]}
        await send(message)

    return echoing_send


class Instrumentation:
    """Request id and log context for every request; metrics when `metrics` is given; one access
    log line per request when `access_lines` (the JSON log format); CORS (`cors`: the options of
    `api.cors.cors_options`) for HTTP requests that carry an `Origin`."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None = None,
        access_lines: bool = False,
        cors: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.browser_app = app if cors is None else CORSMiddleware(app, **cors)
        self.metrics = metrics
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client_id, origin = _read_headers(scope)
        app = self.browser_app if origin and scope["type"] == "http" else self.app
        context = logs.RequestContext(client_id, scope=scope)
        reset = logs.current.set(context)
        if self.metrics is None and not self.access_lines:
            # Nothing to count or log per request: only the log context and the id's echo, with
            # no wrapper around `send` unless there is an id to echo (W1: 2 µs a request less).
            try:
                await app(scope, receive, send if client_id is None else _echoing(send, client_id))
            finally:
                logs.current.reset(reset)
            return
        started = time.perf_counter()
        metrics = self.metrics
        transport: str | None = None
        echo = [(CLIENT_REQUEST_ID, client_id.encode("latin-1"))] if client_id else []

        async def instrumented_send(message: Message) -> None:
            nonlocal transport
            kind = message["type"]
            if kind == "http.response.start":
                context.status = message["status"]
                if echo:
                    message = {**message, "headers": [*message.get("headers", ()), *echo]}
                if metrics is not None and context.status == 200:
                    transport = STREAM_TRANSPORTS.get(context.operation or "")
                    if transport is not None:
                        metrics.streams.labels(transport).inc()
            elif kind == "websocket.accept":
                context.status = 101
                if metrics is not None:
                    transport = STREAM_TRANSPORTS.get(context.operation or "")
                    if transport is not None:
                        metrics.streams.labels(transport).inc()
            elif kind == "websocket.close" and context.status is None:
                context.status = 403  # closed before the handshake completed: the server answers 403
            await send(message)

        try:
            await app(scope, receive, instrumented_send)
        except BaseException:
            if context.status is None:
                context.status = 500
            raise
        finally:
            if metrics is not None or self.access_lines:  # else there is nothing to count or log
                self._record(scope, context, transport, time.perf_counter() - started)
            logs.current.reset(reset)

    def _record(self, scope: Scope, context: logs.RequestContext, transport: str | None, seconds: float) -> None:
        operation = context.operation or operation_of(scope)
        status = context.status or (500 if scope["type"] == "http" else 1000)
        metrics = self.metrics
        if metrics is not None:
            if transport is not None:
                metrics.streams.labels(transport).dec()
            metrics.count_request(operation, status, None if operation in STREAM_TRANSPORTS else seconds)
        if self.access_lines:
            access_log.info(
                "%s %s %d %.1f ms",
                scope.get("method", "WEBSOCKET"),
                operation,
                status,
                seconds * 1000,
                extra={"status": status, "duration": round(seconds, 6), "method": scope.get("method", "WEBSOCKET")},
            )
