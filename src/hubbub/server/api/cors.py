"""CORS: let pages on other origins call the chat, identity, event, gateway and signaling APIs.

The official JS SDK runs in the page of the app that uses it, so every call it makes is cross-origin:
the chat and identity REST API, the real-time discovery, Trouter allocation, socket.io handshake and
registrar (docs/signaling.md), the event streams and the gateway. Each of those sends headers that
are not CORS-safelisted (`Authorization`, `X-Skypetoken`, `x-ms-*`, `repeatability-request-id`), so
the browser first sends a preflight, which this middleware answers.

Credentials (cookies, client certificates) are never allowed: these APIs authenticate with a token
the page sends explicitly, so an origin gains nothing from the browser's ambient credentials, and a
wildcard origin is safe. `HUBBUB_CORS_ORIGINS` narrows the origins anyway (defence in depth).
WebSocket upgrades are not subject to CORS and pass through untouched.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

ALLOWED_HEADERS = (
    # chat REST (core-rest-pipeline): bearer token, request id, browser user agent, idempotency
    "authorization",
    "content-type",
    "accept",
    "x-ms-client-request-id",
    "x-ms-useragent",
    "x-ms-return-client-request-id",
    "repeatability-request-id",
    "repeatability-first-sent",
    "traceparent",
    "tracestate",
    # identity REST (HMAC-SHA256 signed requests, @azure/communication-common)
    "x-ms-date",
    "x-ms-content-sha256",
    # Trouter allocation, socket.io handshake, registrar
    "x-skypetoken",
    "ms-cv",
    # event streams and the gateway
    "last-event-id",
    "x-admin-key",
)
"""Request headers a browser client may send. Listed one by one: a `*` would not cover
`Authorization` (Fetch standard), and an explicit list documents what the clients send."""

EXPOSED_HEADERS = (
    "location",
    "retry-after",
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "x-ms-client-request-id",
    "x-ms-request-id",
    "ms-cv",
    "repeatability-result",
    "www-authenticate",
    "x-trouter-skypetoken-deprecated",
)
"""Response headers the SDKs read (retries, errors, the created resource, Trouter token failures)."""

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PREFLIGHT_MAX_AGE = 600


def allowed_origins(setting: str | None) -> list[str]:
    """`*`, or the comma-separated origins of `HUBBUB_CORS_ORIGINS` (empty: no cross-origin calls)."""
    origins = [origin.strip().rstrip("/") for origin in (setting or "").split(",") if origin.strip()]
    return ["*"] if "*" in origins else origins


class Cors:
    """Starlette's `CORSMiddleware` for requests that carry an `Origin`; the rest (SDKs outside a
    browser, same-origin pages) go straight on, which is also what it does with them."""

    def __init__(self, app: ASGIApp, *args: Any, **options: Any) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, *args, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await self.cors(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def cors_options(setting: str | None) -> dict[str, Any]:
    """Starlette `CORSMiddleware` options for `HUBBUB_CORS_ORIGINS`: the headers the clients send
    and read, and never credentials."""
    return {
        "allow_origins": allowed_origins(setting),
        "allow_methods": list(ALLOWED_METHODS),
        "allow_headers": list(ALLOWED_HEADERS),
        "expose_headers": list(EXPOSED_HEADERS),
        "allow_credentials": False,
        "max_age": PREFLIGHT_MAX_AGE,
    }


def cors_middleware(setting: str | None) -> Middleware:
    """The CORS layer of an app without `Instrumentation` (the standalone gateway); it must wrap
    every route, so it goes first. `hubbub serve` gets the same through `Instrumentation`, which
    already reads every request's headers and so spares the request a layer."""
    return Middleware(Cors, **cors_options(setting))
