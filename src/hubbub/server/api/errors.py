"""The one table that turns errors into responses: a status, headers and an ACS error body.

Domain errors (`hubbub.server.errors`) know nothing about HTTP; here each class gets its status.
The app's exception handlers and the WebSocket refusal (`api/events.py`) both answer through
`error_response`, so a refused upgrade carries the same status, body and `Retry-After`.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hubbub import wire
from hubbub.server import errors
from hubbub.server.api.http import json_response

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


def status_for(exc: errors.HubbubError) -> int:
    """The status of the nearest class in `STATUS`; 500 for a class the table does not know."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(exc: errors.HubbubError) -> Response:
    """The ACS error response for a domain error, with `Retry-After` when waiting helps."""
    headers = {}
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(int(exc.retry_after))
    elif isinstance(exc, errors.Unavailable):
        headers["Retry-After"] = "1"
    return json_response(wire.error_body(exc.code, exc.message, exc.target), status_for(exc), headers)


async def hubbub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.HubbubError)
    return error_response(exc)


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


EXCEPTION_HANDLERS = {
    errors.HubbubError: hubbub_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
"""For `Starlette(exception_handlers=...)`: the most specific class wins."""
