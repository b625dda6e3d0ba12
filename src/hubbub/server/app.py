"""`create_app(settings)`: routes, the lifespan that starts the service, and the stop hooks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hubbub.server import gateway, health, signaling
from hubbub.server.api import (
    activity,
    admin,
    events,
    identities,
    messages,
    participants,
    search,
    subscriptions,
    threads,
)
from hubbub.server.api.cors import cors_options
from hubbub.server.api.direct import DirectRoutes
from hubbub.server.api.errors import EXCEPTION_HANDLERS
from hubbub.server.api.http import json_response
from hubbub.server.instrumentation import Instrumentation
from hubbub.server.service import Hubbub, start_service
from hubbub.server.settings import Settings

log = logging.getLogger("hubbub")
STREAM_DRAIN_SECONDS = 2.0
"""How long stopping waits for the open event streams to send their last frame and close."""

StopHook = Callable[[], Awaitable[None]]


async def health_check(request: Request) -> Response:
    return json_response({"status": "ok"})


async def _retention_loop(service: Hubbub) -> None:
    while True:
        await asyncio.sleep(service.settings.retention_interval_seconds)
        try:
            deleted = await service.threads.delete_expired_threads()
            if deleted:
                log.info("retention: deleted %d expired thread(s)", deleted)
        except Exception:
            log.exception("retention sweep failed; retrying next interval")


async def before_shutdown(app: Starlette) -> None:
    """Run the hooks the lifespan registered for a stopping server, in order.

    The server (`runner.py`) calls this when it is told to stop, before it closes connections
    itself: uvicorn closes open WebSockets (code 1012, no frame of ours) as the first step of its
    shutdown, and then waits for open responses, which an event stream never finishes on its own.
    The hook ends every event stream with its `disconnect` / `serverShutdown` frame first.
    """
    hooks: list[StopHook] = getattr(app.state, "stop_hooks", [])
    for hook in hooks:
        await hook()


def create_app(settings: Settings) -> Starlette:
    """The ASGI application. Nothing happens at import or construction; the lifespan connects."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = await start_service(settings)
        app.state.hubbub = service
        if metrics is not None:
            service.bus.hub.observer = metrics.observer
            service.db.observer = metrics.database
            service.webhooks.observer = metrics.webhooks
        app.state.stop_hooks = [functools.partial(service.bus.hub.drain, STREAM_DRAIN_SECONDS)]
        if settings.gateway:
            app.state.gateway = gateway.mounted_gateway(service)
        sweeper = asyncio.create_task(_retention_loop(service))
        flusher = asyncio.create_task(metrics.flush_periodically()) if metrics is not None else None
        service.webhooks.start()  # with HUBBUB_WEBHOOKS=false it only follows the subscriptions
        # Everything loaded so far (modules, routes, caches) lives as long as the process: keep it
        # out of the garbage collector's full passes, which would otherwise walk it each time.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in (sweeper, flusher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if metrics is not None:
                metrics.flush()
            await service.webhooks.stop()
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
        *search.routes,
        *identities.routes,
        *events.routes,
        *signaling.routes,
        *admin.routes,
        *subscriptions.routes,
        Route("/health", health_check, methods=["GET"]),
        *health.routes,
    ]
    metrics = None
    if settings.metrics:
        from hubbub.server import metrics as prometheus  # imports prometheus_client: only when on

        metrics = prometheus.Metrics()
        routes += prometheus.routes
    if settings.gateway:  # after the ACS API; the page's mount at `/` catches what is left
        routes += [*gateway.routes, Mount("/", StaticFiles(packages=[("hubbub.server", "web")], html=True))]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(
                Instrumentation,
                metrics=metrics,
                access_lines=settings.log_format == "json",
                cors=cors_options(settings.cors_origins),
            ),
            # The sends, typing and receipts skip Starlette's routing layers (W1: see the module).
            Middleware(DirectRoutes, routes=[*messages.routes, *activity.routes], prefix="/chat/threads/"),
        ],
        exception_handlers=dict(EXCEPTION_HANDLERS),
    )
    app.state.metrics = metrics
    return app
