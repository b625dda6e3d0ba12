"""`create_app(settings)`: routes, lifespan, and the one table that maps errors to responses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hubbub import wire
from hubbub.server import datadir, errors, gateway
from hubbub.server.api import activity, events, identities, messages, participants, threads
from hubbub.server.api.http import json_response
from hubbub.server.chat import ChatService
from hubbub.server.events import EventBus, bus_for_settings
from hubbub.server.identity import IdentityService
from hubbub.server.membership import ParticipantService
from hubbub.server.messaging import MessageService
from hubbub.server.ratelimit import RateLimiter
from hubbub.server.settings import Settings
from hubbub.server.store import Database, open_database
from hubbub.server.tokens import TokenService

log = logging.getLogger("hubbub")

STATUS: dict[type[errors.HubbubError], int] = {
    errors.PayloadTooLarge: 413,
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
}
HTTP_CODES = {404: "NotFound", 405: "MethodNotAllowed", 400: "BadRequest", 413: "RequestEntityTooLarge"}


@dataclasses.dataclass
class Hubbub:
    """The running service: settings plus the parts every endpoint uses."""

    settings: Settings
    db: Database
    bus: EventBus
    tokens: TokenService
    identity: IdentityService
    chat: ChatService
    messages: MessageService
    participants: ParticipantService
    limiter: RateLimiter
    key_bytes: bytes


def _status_for(exc: errors.HubbubError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def hubbub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.HubbubError)
    headers = {}
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(int(exc.retry_after))
    elif isinstance(exc, errors.Unavailable):
        headers["Retry-After"] = "1"
    return json_response(wire.error_body(exc.code, exc.message, exc.target), _status_for(exc), headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "BadRequest")
    message = (
        exc.detail
        if exc.status_code not in (404, 405)
        else (
            f"No operation {request.method} {request.url.path}."
            if exc.status_code == 404
            else f"{request.method} is not allowed on {request.url.path}."
        )
    )
    return json_response(wire.error_body(code, message), exc.status_code, dict(exc.headers or {}))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(wire.error_body("InternalError", "The server failed to handle the request."), 500)


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def _retention_loop(service: Hubbub) -> None:
    while True:
        await asyncio.sleep(service.settings.retention_interval_seconds)
        try:
            deleted = await service.chat.delete_expired_threads()
            if deleted:
                log.info("retention: deleted %d expired thread(s)", deleted)
        except Exception:
            log.exception("retention sweep failed; retrying next interval")


async def start_service(settings: Settings) -> Hubbub:
    access_key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    db = await open_database(settings)
    bus = bus_for_settings(settings)
    await bus.start()
    tokens = TokenService(access_key)
    rules: dict[str, Any] = {
        "retention_day_seconds": settings.retention_day_seconds,
        "idempotency_ttl_seconds": settings.idempotency_ttl_seconds,
    }
    return Hubbub(
        settings=settings,
        db=db,
        bus=bus,
        tokens=tokens,
        identity=IdentityService(db, tokens, cache_seconds=settings.identity_cache_seconds, bus=bus),
        chat=ChatService(db, bus, settings.limits, **rules),
        messages=MessageService(db, bus, settings.limits, **rules),
        participants=ParticipantService(db, bus, settings.limits, **rules),
        limiter=RateLimiter(settings.rate_limit),
        key_bytes=base64.b64decode(access_key),
    )


async def end_event_streams(app: Starlette, timeout: float = 2.0) -> None:
    """Send every open event stream its `disconnect` / `serverShutdown` frame and wait (at most
    `timeout`) until they are closed. The server calls this before it closes connections itself:
    uvicorn closes open WebSockets (code 1012, no frame of ours) as the first step of its shutdown."""
    service: Hubbub | None = getattr(app.state, "hubbub", None)
    if service is not None:
        await service.bus.hub.drain(timeout)


def create_app(settings: Settings) -> Starlette:
    """The ASGI application. Nothing happens at import or construction; the lifespan connects."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = await start_service(settings)
        app.state.hubbub = service
        if settings.gateway:
            app.state.gateway = gateway.mounted_gateway(service)
        sweeper = asyncio.create_task(_retention_loop(service))
        # Everything loaded so far (modules, routes, caches) lives as long as the process: keep it
        # out of the garbage collector's full passes, which would otherwise walk it each time.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if settings.gateway:
                await app.state.gateway.upstream.close()
            await service.bus.close()
            await service.db.close()

    routes: list[BaseRoute] = [
        # Starlette tries routes in order: the busiest first.
        *messages.routes,
        *activity.routes,
        *participants.routes,
        *threads.routes,
        *identities.routes,
        *events.routes,
        Route("/health", health, methods=["GET"]),
    ]
    if settings.gateway:  # after the ACS API; the page's mount at `/` catches what is left
        routes += [*gateway.routes, Mount("/", StaticFiles(packages=[("hubbub.server", "web")], html=True))]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            errors.HubbubError: hubbub_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
    )
