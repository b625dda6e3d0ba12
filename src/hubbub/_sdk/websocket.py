"""What the WebSocket event transport needs besides the websockets library calls themselves.

The URL (`http` -> `ws`, `https` -> `wss`, `?lastEventId=`), the TLS context (the one httpx would
use for the same options, so SSE and WebSocket trust the same certificates), the handshake
headers, and the refusal of an upgrade as a `ResponseView` are I/O-free and shared.

`async_ws_receive`/`ws_receive` are the one call that differs between websockets' asyncio and
sync clients beyond `await` (a receive with a timeout), written for both by hand like
`concurrency.py`; `scripts/unasync.py` maps the async name onto the sync one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection as AsyncClientConnection
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection as SyncClientConnection
from websockets.typing import Data, Subprotocol

from .errors import ResponseView
from .events import WS_EVENTS_PATH, ChatEvent, frame_from_json
from .options import ClientOptions

#: Offered on every connection (docs/events.md: the server selects it whenever it is offered).
SUBPROTOCOLS = [Subprotocol("hubbub.events.v1")]
#: The largest frame accepted; far above any chat event, so a big one never loops reconnecting.
MAX_FRAME_BYTES = 16 * 2**20


def websocket_url(endpoint: str) -> str:
    """The WebSocket events URL of a chat endpoint: `http(s)://host/base` -> `ws(s)://host/base/chat/events/ws`."""
    parts = urlsplit(endpoint.rstrip("/"))
    scheme = "wss" if parts.scheme.lower() == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + WS_EVENTS_PATH, "", ""))


def resume_url(url: str, last_event_id: str | None) -> str:
    """`url` with `?lastEventId=` when there is an id to resume after."""
    return f"{url}?{urlencode({'lastEventId': last_event_id})}" if last_event_id else url


def ssl_context(url: str, options: ClientOptions) -> ssl.SSLContext | None:
    """The TLS context for a `wss://` URL (None for `ws://`): what httpx builds for `ssl_verify()`.

    Verification on (the default) trusts certifi's bundle, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when
    set; `connection_verify` a CA bundle path, or `connection_cert`, gives that context; False
    turns verification off.
    """
    if not url.startswith("wss:"):
        return None
    return httpx.create_ssl_context(verify=options.ssl_verify())


def handshake_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The request headers without `User-Agent`, and its value (websockets sets that one itself)."""
    rest = {name: value for name, value in headers.items() if name.lower() != "user-agent"}
    user_agent = next((value for name, value in headers.items() if name.lower() == "user-agent"), None)
    return rest, user_agent


def refusal(error: InvalidStatus, url: str) -> ResponseView:
    """The HTTP response that refused the upgrade (status, headers, ACS error body)."""
    response = error.response
    return ResponseView(response.status_code, response.headers, bytes(response.body), method="GET", url=url)


def frame_of(message: Data) -> ChatEvent | None:
    """The frame in one WebSocket message (text; binary is read as UTF-8)."""
    return frame_from_json(message.decode("utf-8", "replace") if isinstance(message, bytes) else message)


def socket_of(ws: AsyncClientConnection | SyncClientConnection) -> Any:
    """The connection's socket, to shut it down from any thread (asyncio's `TransportSocket` or a socket)."""
    if isinstance(ws, SyncClientConnection):
        return ws.socket
    return ws.transport.get_extra_info("socket")


async def async_ws_receive(ws: AsyncClientConnection, seconds: float) -> Data:
    """The next message, or `TimeoutError` after `seconds` (cancelling `recv()` is safe)."""
    async with asyncio.timeout(seconds):
        return await ws.recv()


def ws_receive(ws: SyncClientConnection, seconds: float) -> Data:
    """The next message, or `TimeoutError` after `seconds`."""
    return ws.recv(timeout=seconds)
