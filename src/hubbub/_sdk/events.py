"""Real-time events, I/O-free: the event object, an SSE parser, reconnect backoff and the handler registry.

The server's protocol is described in docs/events.md: frames `{"id", "type", "data"}` over SSE
(`GET /chat/events`) or a WebSocket (`GET /chat/events/ws`, one frame per text message); the first
frame is `connected`, `heartbeat` frames keep a quiet stream alive, `resyncRequired` says the
backlog no longer reaches back to the id we resumed from, `disconnect` is the last frame before
the server closes.

The transports (`_async/realtime.py`) report to the shared reconnect loop with three exceptions:
`ConnectFailed` (no stream: worth retrying), `StreamRefused` (the server answered with an error
status) and `StreamEnded` (an open stream is over).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from azure.core.exceptions import ClientAuthenticationError

from .errors import ResponseView

logger = logging.getLogger("hubbub.chat.realtime")

EVENTS_PATH = "/chat/events"
WS_EVENTS_PATH = "/chat/events/ws"

RealtimeTransport = Literal["sse", "websocket"]
#: Server-Sent Events over httpx (the default: it goes through the client's httpx `transport`).
SSE: RealtimeTransport = "sse"
#: A WebSocket through the websockets library.
WEBSOCKET: RealtimeTransport = "websocket"
REALTIME_TRANSPORTS: tuple[RealtimeTransport, ...] = (SSE, WEBSOCKET)

#: The ten chat events (the names of the ACS JS SDK's `models/events.ts`).
CHAT_EVENTS = (
    "chatMessageReceived",
    "chatMessageEdited",
    "chatMessageDeleted",
    "typingIndicatorReceived",
    "readReceiptReceived",
    "chatThreadCreated",
    "chatThreadDeleted",
    "chatThreadPropertiesUpdated",
    "participantsAdded",
    "participantsRemoved",
)
CONNECTED = "realTimeNotificationConnected"
DISCONNECTED = "realTimeNotificationDisconnected"
RESYNC_REQUIRED = "resyncRequired"
#: Every name `ChatClient.on()` accepts.
EVENT_NAMES = frozenset((*CHAT_EVENTS, CONNECTED, DISCONNECTED, RESYNC_REQUIRED))

DEFAULT_HEARTBEAT_SECONDS = 15.0
#: A stream is dead after this many heartbeat intervals without any data.
DEAD_AFTER_HEARTBEATS = 3.0
#: Statuses worth reconnecting after (the others are the caller's problem: bad token, bad id).
RETRYABLE_STATUSES = frozenset((408, 429, 500, 502, 503, 504))
#: `disconnect` reasons that say the stream's token no longer works: the stream has the credential
#: replace that token (its `token_refresher`), then reconnects; a refused new token ends the stream.
TOKEN_REJECTED_REASONS = frozenset(("tokenExpired", "tokenRevoked"))
#: The `disconnect` reason after which no token of the user works: the stream ends, no reconnection.
IDENTITY_DELETED = "identityDeleted"


def check_realtime_transport(value: object) -> RealtimeTransport:
    """`value` if it names a transport (`"sse"`, `"websocket"`); else `ValueError`."""
    for transport in REALTIME_TRANSPORTS:
        if value == transport:
            return transport
    raise ValueError(f"realtime_transport must be one of {list(REALTIME_TRANSPORTS)}, not {value!r}")


class ConnectFailed(Exception):
    """A transport could not open a stream (connection, TLS, timeout or handshake error)."""

    def __init__(self, error: BaseException) -> None:
        """Wrap the transport library's `error`."""
        super().__init__(str(error) or type(error).__name__)
        self.error = error


class StreamRefused(Exception):
    """The server answered the stream request with an error status (the upgrade was refused)."""

    def __init__(self, response: ResponseView) -> None:
        """Keep the response, for `error_for_response`."""
        super().__init__(f"event stream refused with {response.status_code}")
        self.response = response


class StreamEnded(Exception):
    """An open stream is over: `reason` is `streamEnded` (closed cleanly) or `connectionLost`."""

    def __init__(self, reason: str, error: BaseException | None = None) -> None:
        """Say why; `error` is the transport library's, if any."""
        super().__init__(reason if error is None else f"{reason}: {error!r}")
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class ChatEvent:
    """One frame of the event stream.

    :ivar str type: The frame type: one of the ten chat events, `connected`, `resyncRequired`,
        `disconnect` (also produced by the SDK, with reason `connectionLost`, when a stream drops).
    :ivar id: The stream position (opaque; None for `disconnect`).
    :vartype id: str or None
    :ivar dict data: The payload: for chat events the ACS JS SDK's event shape (`threadId`,
        `sender`, `message`, ...) plus `recipient`.

    `event["key"]` and `event.get("key")` read `data`.
    """

    type: str
    id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """`data.get(key, default)`."""
        return self.data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The frame as the server sent it: `{"id", "type", "data"}`."""
        return {"id": self.id, "type": self.type, "data": self.data}


def frame_from_json(text: str, sse_id: str | None = None, sse_event: str | None = None) -> ChatEvent | None:
    """Parse one JSON frame (None if it is not a frame); SSE `id:`/`event:` fill in missing fields."""
    try:
        value = json.loads(text)
    except ValueError:
        logger.warning("ignoring a non-JSON event frame: %.200s", text)
        return None
    if not isinstance(value, Mapping):
        return None
    frame_type = value.get("type") or sse_event
    if not isinstance(frame_type, str):
        return None
    frame_id = value.get("id") or sse_id or None
    data = value.get("data")
    return ChatEvent(frame_type, str(frame_id) if frame_id is not None else None, dict(data) if data else {})


class SseParser:
    """Turns the lines of a `text/event-stream` into frames (the WHATWG parsing rules, minus `retry`)."""

    def __init__(self) -> None:
        """Start between events."""
        self._data: list[str] = []
        self._id: str | None = None
        self._event: str | None = None

    def feed(self, line: str) -> ChatEvent | None:
        """Feed one line (without its line break); return a frame when a blank line completes one."""
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                self._event = None
                return None
            text, sse_id, sse_event = "\n".join(self._data), self._id, self._event
            self._data, self._event = [], None
            return frame_from_json(text, sse_id, sse_event)
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value or None
        elif name == "event":
            self._event = value
        return None


@dataclass
class Backoff:
    """Exponential reconnect delays with full jitter: `base * 2**n`, capped at `maximum`."""

    base: float = 0.5
    maximum: float = 30.0
    attempts: int = 0
    rng: Callable[[], float] = random.random

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the cap."""
        cap = min(self.maximum, self.base * (2**self.attempts))
        self.attempts = min(self.attempts + 1, 30)
        return float(cap / 2 + self.rng() * cap / 2)

    def reset(self) -> None:
        """A connection succeeded: start over from the base delay."""
        self.attempts = 0


def read_timeout_for(heartbeat_seconds: float) -> float:
    """Seconds without any data after which a stream counts as dead."""
    return max(DEAD_AFTER_HEARTBEATS * heartbeat_seconds, 3.0)


def heartbeat_of(event: ChatEvent, current: float) -> float:
    """The `heartbeatSeconds` a `connected` frame announces (else `current`)."""
    value = event.data.get("heartbeatSeconds")
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return current


def disconnect_reason(event: ChatEvent) -> str | None:
    """The reason of a `disconnect` frame (None for other frames)."""
    if event.type != "disconnect":
        return None
    reason = event.data.get("reason")
    return reason if isinstance(reason, str) else None


def identity_deleted_error() -> ClientAuthenticationError:
    """What a stream raises after `disconnect` / `identityDeleted`: no token of the user works any more."""
    return ClientAuthenticationError(
        message="The user's identity was deleted: the event stream ended and cannot be reopened."
    )


def notification_name(event: ChatEvent) -> str | None:
    """The `on()` name handlers of `event` are registered under (None for frames handlers don't see)."""
    if event.type == "connected":
        return CONNECTED
    if event.type == "disconnect":
        return DISCONNECTED
    if event.type in EVENT_NAMES:
        return event.type
    return None


Handler = Callable[[ChatEvent], Any]


class HandlerRegistry:
    """The handlers of `ChatClient.on()`/`off()`, by event name."""

    def __init__(self) -> None:
        """No handlers yet."""
        self._handlers: dict[str, list[Handler]] = {}

    def on(self, event_name: str, handler: Handler) -> None:
        """Call `handler(event)` for every `event_name` event."""
        if event_name not in EVENT_NAMES:
            raise ValueError(f"Unknown event name {event_name!r}; expected one of {sorted(EVENT_NAMES)}")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._handlers.setdefault(event_name, []).append(handler)

    def off(self, event_name: str, handler: Handler) -> None:
        """Stop calling `handler` for `event_name` (nothing happens if it was not registered)."""
        handlers = self._handlers.get(event_name, [])
        if handler in handlers:
            handlers.remove(handler)

    def handlers(self, event_name: str) -> list[Handler]:
        """A snapshot of the handlers of `event_name`."""
        return list(self._handlers.get(event_name, ()))
