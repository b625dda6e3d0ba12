"""A `Call`: one HTTP request an SDK method makes, built without I/O, plus what to expect back.

Also the paging rules (spec §6): how a page's `nextLink` becomes the next request, and how a page
body splits into items and the continuation token.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlparse

import msgspec

from hubbub import wire

from .errors import ResponseView, decode_error, error_for_response

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json"
MERGE_PATCH_CONTENT_TYPE = "application/merge-patch+json"


@dataclass(frozen=True)
class Call:
    """One request: method, path under the endpoint (already percent-encoded), query, body.

    :ivar expected: The one success status the operation returns; anything else raises.
    :ivar safe: True when repeating the request cannot do anything twice (GET, DELETE, or a POST
        with an idempotency key), so the pipeline may retry it after the server might have acted.
    :ivar url: An absolute URL that replaces endpoint + path (used for `nextLink` pages).
    """

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    expected: int = 200
    safe: bool = False
    url: str | None = None

    def full_url(self, endpoint: str) -> str:
        """The absolute URL of this call for the given endpoint (a path prefix in it is kept)."""
        if self.url is not None:
            return self.url
        url = endpoint.rstrip("/") + self.path
        if self.params:
            url += "?" + urlencode(self.params, quote_via=quote, safe="")
        return url


def json_body(value: msgspec.Struct) -> bytes:
    """A `wire` request struct as the official SDK serializes its body: `json.dumps` (so the same
    bytes), None fields left out, date-times in `wire.format_request_datetime` form.
    """
    fields = msgspec.to_builtins(value, builtin_types=(dt.datetime,))
    return json.dumps({k: v for k, v in fields.items() if v is not None}, default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return wire.format_request_datetime(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def segment(value: str) -> str:
    """One path segment, percent-encoded like the official sync SDK (`quote(value, safe='')`)."""
    return quote(value, safe="")


def query(*pairs: tuple[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query parameters in the given order, skipping those whose value is None."""
    return tuple((name, str(value)) for name, value in pairs if value is not None)


def next_page_call(endpoint: str, next_link: str, api_version: str) -> Call:
    """The GET for a `nextLink` (spec §6): keep its path and query, force our `api-version`.

    A relative link is joined to the endpoint (keeping the endpoint's path prefix); an absolute
    one is used as it is.
    """
    parsed = urlparse(next_link)
    params: dict[str, list[str]] = {k: list(v) for k, v in parse_qs(parsed.query).items()}
    params["api-version"] = [api_version]
    query_text = urlencode([(k, v) for k, vs in params.items() for v in vs], quote_via=quote, safe="")
    if parsed.scheme and parsed.netloc:
        base = urljoin(next_link, parsed.path)
    else:
        base = endpoint.rstrip("/") + "/" + parsed.path.lstrip("/")
    return Call("GET", parsed.path, url=f"{base}?{query_text}", headers={"Accept": "*/*"}, safe=True)


def check(call: Call, response: ResponseView) -> None:
    """Raise the azure-core error for any status but the expected one (see `errors`)."""
    if response.status_code != call.expected:
        raise error_for_response(response)


def json_of(response: ResponseView) -> Any:
    """The parsed JSON body, or None for an empty body.

    Raises azure-core's `DecodeError` when the body is not JSON.
    """
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise decode_error(response, f"The response body is not JSON: {exc}") from exc


def page_of(response: ResponseView, parse_item: Callable[[Mapping[str, Any]], T]) -> tuple[str | None, list[T]]:
    """Split a collection page into (continuation token = `nextLink` or None, parsed items)."""
    body = json_of(response) or {}
    items: Iterable[Mapping[str, Any]] = body.get("value") or []
    return body.get("nextLink") or None, [parse_item(item) for item in items]
