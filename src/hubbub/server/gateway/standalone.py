"""`hubbub gateway`: the simple REST API alone, in front of any ACS-compatible endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubbub.server.api.cors import cors_middleware
from hubbub.server.gateway.endpoints import Gateway, error_response, routes
from hubbub.server.gateway.upstream import Upstream


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"No endpoint {request.method} {request.url.path}." if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, message)


def create_gateway_app(
    endpoint: str,
    access_key: str,
    *,
    admin_key: str | None = None,
    ca_file: str | None = None,
    cors_origins: str = "*",
) -> Starlette:
    """The gateway app for `endpoint` (http or https) and its access key. Tokens are checked by
    using them against the endpoint (docs/gateway.md); `ca_file` adds a CA for https. Pages on
    `cors_origins` (`*`: any) may call it (api/cors.py)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        upstream = Upstream(endpoint.rstrip("/"), access_key, ca_file=ca_file)
        app.state.gateway = Gateway(upstream, admin_key=admin_key)
        try:
            yield
        finally:
            await upstream.close()

    return Starlette(
        routes=[Route("/health", _health, methods=["GET"]), *routes],
        lifespan=lifespan,
        middleware=[cors_middleware(cors_origins)],
        exception_handlers={HTTPException: _http_error},
    )
