"""HMAC-SHA256 request signing for the identity API (spec §3.1), and connection-string parsing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from urllib.parse import urlsplit

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


def parse_connection_string(conn_str: str | None) -> tuple[str, str]:
    """Split `endpoint=...;accesskey=...` into (endpoint URL, access key).

    Unlike the official SDK, the endpoint keeps its scheme, so `endpoint=http://...` stays http.
    An endpoint without a scheme gets `https://`. Raises `ValueError` for a malformed string.
    """
    if conn_str is None:
        raise ValueError("Connection string is undefined.")
    endpoint = None
    access_key = None
    for element in conn_str.split(";"):
        key, _, value = element.strip().partition("=")
        if key.lower() == "endpoint":
            endpoint = value.rstrip("/")
        elif key.lower() == "accesskey":
            access_key = value
    if not endpoint or not access_key:
        raise ValueError(
            "Invalid connection string. You can get the connection string from your resource page in the "
            "Azure Portal. The format should be as follows: endpoint=https://<ResourceUrl>/;accesskey=<KeyValue>"
        )
    if not endpoint.lower().startswith("http"):
        endpoint = "https://" + endpoint
    return endpoint, access_key


def rfc1123_now() -> str:
    """The current UTC time as `x-ms-date` wants it: `Sat, 21 Nov 2026 18:35:14 GMT`."""
    return dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S ") + "GMT"


def sign_request(method: str, url: str, body: bytes, access_key: str, *, date: str | None = None) -> dict[str, str]:
    """The four headers that authenticate one request with the resource's access key.

    `url` must be the exact URL sent: the signature covers its path and query as they go on the
    wire, and its host (with the port, if the URL has one).
    """
    parts = urlsplit(url)
    path_and_query = parts.path + ("?" + parts.query if parts.query else "")
    utc_now = date or rfc1123_now()
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    string_to_sign = f"{method.upper()}\n{path_and_query}\n{utc_now};{parts.netloc};{content_hash}"
    digest = hmac.new(base64.b64decode(access_key), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode("ascii")
    return {
        "x-ms-date": utc_now,
        "x-ms-content-sha256": content_hash,
        "x-ms-return-client-request-id": "true",
        "Authorization": f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}",
    }
