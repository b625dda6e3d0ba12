"""The busiest chat routes, answered without Starlette's exception and routing layers.

Starlette takes each request through `ExceptionMiddleware`, the router's scan, `request_response`
and two `wrap_app_handling_exceptions`, each of which wraps `send` again. For the bench's bare
send-shaped endpoint that is 6-7 µs of its 30-31 (the same endpoint dispatched this way: 24 µs),
and Hubbub's send paid it on every message: W1 went from 97.8 to 89.5 µs of server CPU a send
(`bench.compare`, 4 rounds in turns: +8.9 % sends/s) when the sends, typing and receipts moved here.

`DirectRoutes` is a middleware inside `Instrumentation`, so request ids, the log context, CORS and
metrics are what they were. For a path under `prefix` it tries the routes it was given, with
Starlette's own `Route.matches` (the same path parameters, and the same `scope["route"]` that
`operations.operation_of` names), calls the route's endpoint, and turns what it raises into a
response with the app's own exception handlers (`api/errors.py`), as Starlette's
`ExceptionMiddleware` would. Anything else goes on to the app's router unchanged: other paths, and
a known path with a method the routes do not take (the router answers its 405). An unexpected
exception goes up to `ServerErrorMiddleware`, as it does from the router.

The prefix test is only a shortcut: behind a proxy's `root_path` the paths do not start with it,
and those requests take the router, with the same answers.

The routes must be plain `Route`s of `async def endpoint(request)` functions, without route-level
middleware: those are the only parts of a `Route` this skips.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hubbub.server.api.errors import EXCEPTION_HANDLERS

_HANDLERS = {cls: handler for cls, handler in EXCEPTION_HANDLERS.items() if cls is not Exception}
"""The app's handlers that Starlette's `ExceptionMiddleware` would apply (the one for `Exception`
is `ServerErrorMiddleware`'s, outside this middleware)."""
_HANDLED: tuple[type[Exception], ...] = tuple(_HANDLERS)


class DirectRoutes:
    def __init__(self, app: ASGIApp, routes: Sequence[Route], prefix: str) -> None:
        for route in routes:
            if not route.path.startswith(prefix) or not inspect.iscoroutinefunction(route.endpoint):
                raise ValueError(f"route {route.path}: not an async endpoint function under {prefix}")
        self.app = app
        self.routes = tuple(routes)
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["route"] = route
                    scope.update(child_scope)
                    await self._answer(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response: Response
        try:
            response = await route.endpoint(request)
        except _HANDLED as exc:  # the nearest class's handler, as `ExceptionMiddleware` picks it
            handler = next(_HANDLERS[cls] for cls in type(exc).__mro__ if cls in _HANDLERS)
            response = await handler(request, exc)
        await response(scope, receive, send)
