"""HMAC-SHA256 request verification for the Identity API, exactly as the SDKs sign (spec §3.1).

The signed path is the raw request-target as received; the host may be signed with the default
port that the Host header leaves out.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import re

from hubbub.server.errors import Unauthorized

_AUTH = re.compile(r"^HMAC-SHA256\s+SignedHeaders=([^&]+)&Signature=(.+)$", re.IGNORECASE)
_EXPECTED_HEADERS = ["x-ms-date", "host", "x-ms-content-sha256"]


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(key: bytes, method: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    """The ACS HMAC signature of one request."""
    string_to_sign = f"{method.upper()}\n{path_and_query}\n{date};{host};{body_hash}"
    return base64.b64encode(hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).digest()).decode()


def verify_request(
    *,
    key: bytes,
    method: str,
    path_and_query: str,
    headers: dict[str, str],
    body: bytes,
    scheme: str,
    now: dt.datetime,
    max_skew_seconds: int,
) -> None:
    """Raise `Unauthorized` unless the request carries a valid, fresh HMAC signature."""
    authorization = headers.get("authorization", "")
    match = _AUTH.match(authorization.strip())
    if not match:
        raise Unauthorized("Missing or malformed HMAC-SHA256 Authorization header.")
    if [h.strip().lower() for h in match.group(1).split(";")] != _EXPECTED_HEADERS:
        raise Unauthorized("SignedHeaders must be x-ms-date;host;x-ms-content-sha256.")
    date = headers.get("x-ms-date") or headers.get("date") or ""
    try:
        signed_at = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError) as exc:
        raise Unauthorized("The x-ms-date header is missing or not an HTTP date.") from exc
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=dt.UTC)
    if abs((now - signed_at).total_seconds()) > max_skew_seconds:
        raise Unauthorized("The x-ms-date header is too far from the server's clock (stale or replayed request).")
    body_hash = headers.get("x-ms-content-sha256", "")
    if not hmac.compare_digest(body_hash, content_hash(body)):
        raise Unauthorized("The x-ms-content-sha256 header does not match the request body.")
    host = headers.get("host", "")
    hosts = [host]
    if host and ":" not in host.rsplit("]", 1)[-1]:
        hosts.append(f"{host}:{443 if scheme in ('https', 'wss') else 80}")
    given = match.group(2).strip()
    for candidate in hosts:
        expected = sign(key, method, path_and_query, date, candidate, body_hash)
        if hmac.compare_digest(given, expected):
            return
    raise Unauthorized("The HMAC signature is not valid.")
