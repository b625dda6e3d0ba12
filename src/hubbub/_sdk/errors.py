"""Turn an unexpected HTTP status into the `azure.core.exceptions` error the official SDKs raise.

The tree users catch (all from azure-core, so code written for the official SDK keeps working)::

    AzureError
    ├── ServiceRequestError            the request never reached the service (connect error, TLS)
    ├── ServiceResponseError           the connection broke while waiting for the response (timeouts)
    └── HttpResponseError              the service answered with an unexpected status
        ├── ClientAuthenticationError  401
        ├── ResourceNotFoundError      404
        ├── ResourceExistsError        409
        └── ResourceNotModifiedError   304
        (403, 429, 400, 5xx, ... are plain HttpResponseError)

Every `HttpResponseError` carries `.status_code`, `.reason`, `.response` and `.error`, the
`ODataV4Format` view of the ACS error body (`{"error": {"code", "message", ...}}`, spec §7).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)

_ERROR_MAP: dict[int, type[HttpResponseError]] = {
    304: ResourceNotModifiedError,
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
}


class ErrorModel:
    """The parsed `CommunicationErrorResponse` body, exposed as the error's `.model` like autorest does.

    :ivar error: The `ChatError`-like dict view of `error` (`code`, `message`, `target`, ...).
    """

    def __init__(self, error: Mapping[str, Any] | None) -> None:
        """Wrap the `error` object of the response body (None if there was none)."""
        self.error = dict(error) if error is not None else None


class ResponseView:
    """The small part of a response that azure-core's exceptions read.

    `HttpResponseError` needs `status_code`, `reason` and `text()`; `headers`, `request` and
    `content_type` are there for users who inspect `e.response`.
    """

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        method: str = "",
        url: str = "",
    ) -> None:
        """Capture the status, headers and body of a finished response."""
        self.status_code = status_code
        self.headers = dict(headers)
        self.content = content
        self.method = method
        self.url = url
        try:
            self.reason: str | None = HTTPStatus(status_code).phrase
        except ValueError:
            self.reason = None
        self.content_type = self.headers.get("content-type") or self.headers.get("Content-Type")

    @property
    def request(self) -> str:
        """The request this answers, as `METHOD url` (azure-core only ever prints it)."""
        return f"{self.method} {self.url}"

    def text(self, encoding: str | None = None) -> str:
        """The body decoded as text (UTF-8 unless told otherwise)."""
        return self.content.decode(encoding or "utf-8", errors="replace")

    def body(self) -> bytes:
        """The raw body bytes."""
        return self.content

    def json(self) -> Any:
        """The body parsed as JSON; raises `ValueError` if it is not JSON."""
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<ResponseView {self.status_code} {self.method} {self.url}>"


def error_for_response(response: ResponseView) -> HttpResponseError:
    """The exception the official SDK raises for this unexpected status (see the module docstring)."""
    model: ErrorModel | None = None
    try:
        parsed = json.loads(response.content) if response.content else None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            model = ErrorModel(parsed["error"])
    except ValueError:
        model = None
    error_type = _ERROR_MAP.get(response.status_code, HttpResponseError)
    return error_type(response=response, model=model)


def decode_error(response: ResponseView, message: str) -> DecodeError:
    """The error for a success response whose body is not the JSON the operation expects."""
    return DecodeError(message=message, response=response)
