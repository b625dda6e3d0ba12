"""Domain errors. They know nothing about HTTP; `api/errors.py` maps each class to a status and an ACS body.

HubbubError
 ├── BadRequest          invalid input (400)
 │    └── PayloadTooLarge (413)
 ├── Unauthorized        no, bad, expired or revoked credentials (401)
 ├── Forbidden           authenticated but not allowed (403)
 ├── NotFound            no such thread, message or identity (404)
 ├── Conflict            (409)
 ├── TooManyRequests     rate limit hit; carries `retry_after` seconds (429)
 └── Unavailable         a backend (database, bus) is not answering (503)
"""

from __future__ import annotations


class HubbubError(Exception):
    """Base of every error the server turns into an ACS error response."""

    code = "InternalError"
    default_message = "The request failed."

    def __init__(self, message: str | None = None, *, target: str | None = None) -> None:
        self.message = message or self.default_message
        self.target = target
        super().__init__(self.message)


class BadRequest(HubbubError):
    code = "BadRequest"
    default_message = "The request is invalid."


class PayloadTooLarge(BadRequest):
    code = "RequestEntityTooLarge"
    default_message = "The request body is too large."


class Unauthorized(HubbubError):
    code = "Unauthorized"
    default_message = "Request is not authorized."


class Forbidden(HubbubError):
    code = "Forbidden"
    default_message = "User is not allowed to perform specified action."


class NotFound(HubbubError):
    code = "NotFound"
    default_message = "The requested resource was not found."


class Conflict(HubbubError):
    code = "Conflict"
    default_message = "The request conflicts with the current state."


class TooManyRequests(HubbubError):
    code = "TooManyRequests"
    default_message = "Rate limit exceeded."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(HubbubError):
    code = "ServiceUnavailable"
    default_message = "The server is currently unable to handle the request."
