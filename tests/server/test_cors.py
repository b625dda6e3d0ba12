"""CORS: a page on another origin may call every API the browser SDKs use (api/cors.py).

The preflights are the ones Chromium sends for `@azure/communication-chat` 1.6.0 (captured in
docs/signaling.md §5.1) plus the identity client's HMAC headers; the browser test
(tests/browser/test_realtime.py) runs the real thing from another origin.
"""

from __future__ import annotations

import httpx
import pytest

from _services import HubbubServer, ServerFactory

PAGE = "https://app.example:3000"

PREFLIGHTS = [
    ("GET", "/chat/threads?api-version=2025-03-15", "authorization,x-ms-client-request-id,x-ms-useragent"),
    ("POST", "/chat/threads?api-version=2025-03-15", "authorization,content-type,repeatability-request-id"),
    ("PATCH", "/chat/threads/t/messages/1?api-version=2025-03-15", "authorization,content-type"),
    ("DELETE", "/chat/threads/t?api-version=2025-03-15", "authorization,x-ms-client-request-id"),
    ("POST", "/identities?api-version=2023-10-01", "authorization,content-type,x-ms-date,x-ms-content-sha256"),
    ("GET", "/chat/config/realTimeNotifications?api-version=2024-09-01", "authorization,x-ms-useragent"),
    ("POST", "/v4/a?epid=e", "x-skypetoken"),
    ("GET", "/socket.io/1/?t=1", "x-skypetoken"),
    ("POST", "/v3/registrations", "content-type,x-skypetoken"),
    ("DELETE", "/v3/registrations/e", "x-skypetoken"),
    ("GET", "/chat/events", "authorization,last-event-id"),
    ("POST", "/send_message", "authorization,content-type"),
]


def preflight(server: HubbubServer, method: str, path: str, headers: str, origin: str = PAGE) -> httpx.Response:
    return httpx.options(
        server.http_url + path,
        headers={"origin": origin, "access-control-request-method": method, "access-control-request-headers": headers},
        trust_env=False,
    )


@pytest.mark.parametrize(("method", "path", "headers"), PREFLIGHTS, ids=[f"{m} {p}" for m, p, _ in PREFLIGHTS])
def test_preflights_are_answered(server: HubbubServer, method: str, path: str, headers: str) -> None:
    answer = preflight(server, method, path, headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert set(headers.split(",")) <= allowed
    assert "authorization" in allowed  # named: a `*` would not cover it
    assert method in answer.headers["access-control-allow-methods"]


def test_responses_carry_the_origin_and_expose_what_sdks_read(server: HubbubServer) -> None:
    # An error answer too: the SDK must be able to read its status and body cross-origin.
    answer = httpx.get(
        server.http_url + "/chat/threads?api-version=2025-03-15", headers={"origin": PAGE}, trust_env=False
    )
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"location", "retry-after", "x-ms-client-request-id", "www-authenticate"} <= exposed
    assert "x-trouter-skypetoken-deprecated" in exposed


def test_configured_origins_only(server_factory: ServerFactory) -> None:
    server = server_factory("sqlite", env={"HUBBUB_CORS_ORIGINS": f"{PAGE}, https://other.example"})
    allowed = preflight(server, "GET", "/chat/threads", "authorization")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PAGE
    assert "origin" in allowed.headers.get("vary", "").lower()
    assert "access-control-allow-credentials" not in allowed.headers
    refused = preflight(server, "GET", "/chat/threads", "authorization", origin="https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    actual = httpx.get(server.http_url + "/health", headers={"origin": "https://evil.example"}, trust_env=False)
    assert actual.status_code == 200 and "access-control-allow-origin" not in actual.headers
