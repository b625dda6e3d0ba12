"""The ASGI middleware that sees every request and WebSocket: request id, log context, metrics.

It runs outside the router and the endpoints and changes nothing they do, except that it echoes the
client's `x-ms-client-request-id` on the response, as ACS does (the Azure SDKs send one with every
request and log it; the same id is then on every log line of the request, `logs.py`).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.server import logs
from hubbub.server.metrics import Metrics
from hubbub.server.operations import STREAM_TRANSPORTS, operation_of

CLIENT_REQUEST_ID = b"x-ms-client-request-id"
MAX_REQUEST_ID = 128
"""Longer client ids are cut: the id goes into every log line."""

access_log = logging.getLogger("hubbub.access")


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == CLIENT_REQUEST_ID:
            text = value.decode("latin-1").strip()[:MAX_REQUEST_ID]
            return text if text.isprintable() and text else None
    return None


class Instrumentation:
    """Request id and log context for every request; metrics when `metrics` is given; one access
    log line per request when `access_lines` (the JSON log format)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None, access_lines: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client_id = _client_request_id(scope)
        context = logs.RequestContext(client_id, scope=scope)
        reset = logs.current.set(context)
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
            await self.app(scope, receive, instrumented_send)
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
            metrics.requests.labels(operation, str(status)).inc()
            if operation not in STREAM_TRANSPORTS:
                metrics.duration.labels(operation).observe(seconds)
        if self.access_lines:
            access_log.info(
                "%s %s %d %.1f ms",
                scope.get("method", "WEBSOCKET"),
                operation,
                status,
                seconds * 1000,
                extra={"status": status, "duration": round(seconds, 6), "method": scope.get("method", "WEBSOCKET")},
            )
