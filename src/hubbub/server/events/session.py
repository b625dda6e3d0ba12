"""One client's event stream, independent of the transport (WebSocket or Server-Sent Events).

The order of a session is what makes resuming exact: subscribe first (so nothing published from
now on is missed), then replay the backlog after the client's last id, then pass on live events
whose ids are newer than the last one sent (the replay and the live queue may overlap; ids decide).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from hubbub.server.errors import Unavailable
from hubbub.server.events import shapes
from hubbub.server.events.bus import EventBus
from hubbub.server.events.hub import SEND_TIMEOUT, TOKEN_EXPIRED, Delivery, SubscriberClosed
from hubbub.server.events.ids import StreamId

_encoder = msgspec.json.Encoder()

# Frame types the server adds to the ACS event names (see docs/events.md).
CONNECTED = "connected"
RESYNC_REQUIRED = "resyncRequired"
HEARTBEAT = "heartbeat"
DISCONNECT = "disconnect"


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """One message to a client: `{"id": ..., "type": ..., "data": {...}}` on both transports."""

    type: str
    id: StreamId | None
    data: dict[str, Any]
    encoded: bytes | None = None
    """The JSON text, when built without going through `data`; `data` then lacks `recipient`."""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "data": self.data}
        if self.id is not None:
            body["id"] = str(self.id)
        return body

    def json(self) -> bytes:
        if self.encoded is not None:
            return self.encoded
        return _encoder.encode(self.body())

    def sse(self) -> bytes:
        """The frame as one Server-Sent Event: `id:` (so EventSource resumes by itself), `event:`,
        and the same JSON object as on the WebSocket as `data:` (JSON never contains a newline)."""
        head = f"id: {self.id}\n" if self.id is not None else ""
        return f"{head}event: {self.type}\ndata: ".encode() + self.json() + b"\n\n"


_encoded_payloads: collections.OrderedDict[StreamId, bytes] = collections.OrderedDict()
_PAYLOAD_CACHE = 1024


@functools.lru_cache(maxsize=65_536)
def _recipient_json(user_id: str) -> bytes:
    return _encoder.encode(shapes.identifier_kind(user_id))


def _payload_json(delivery: Delivery) -> bytes:
    """The event's JSON payload without its closing brace, encoded once for all its recipients."""
    encoded = _encoded_payloads.get(delivery.id)
    if encoded is None:
        encoded = _encoder.encode(delivery.event.data)[:-1]
        _encoded_payloads[delivery.id] = encoded
        if len(_encoded_payloads) > _PAYLOAD_CACHE:
            _encoded_payloads.popitem(last=False)
    return encoded


def event_frame(delivery: Delivery, user_id: str) -> Frame:
    """A chat event as one subscriber sees it: the payload plus its own `recipient`.

    A message to a 250-member thread goes out 250 times; the payload is encoded once and only the
    recipient is spliced in per connection.
    """
    payload = _payload_json(delivery)
    separator = b"," if len(payload) > 1 else b""
    encoded = (
        b'{"type":'
        + _encoder.encode(delivery.event.type)
        + b',"data":'
        + payload
        + separator
        + b'"recipient":'
        + _recipient_json(user_id)
        + b'},"id":"'
        + str(delivery.id).encode()
        + b'"}'
    )
    return Frame(delivery.event.type, delivery.id, delivery.event.data, encoded)


Write = Callable[[Frame], Awaitable[None]]


class EventSession:
    """Subscribe, replay or ask for a resync, then live events and heartbeats until something ends it."""

    def __init__(
        self,
        bus: EventBus,
        user_id: str,
        *,
        last_id: StreamId | None,
        heartbeat: float,
        expires_at: float | None = None,
        send_timeout: float | None = None,
    ) -> None:
        self.bus = bus
        self.user_id = user_id
        self.last_id = last_id
        self.heartbeat = heartbeat
        self.expires_at = expires_at
        self.send_timeout = send_timeout if send_timeout is not None else max(2 * heartbeat, 10.0)

    async def run(self, write: Write) -> str:
        """Write frames until the stream ends; return why it ended (the reason of the last frame).

        A write that takes longer than `send_timeout` ends the session without a last frame (the
        client is not reading; the transport is closed by the caller).
        """
        hub = self.bus.hub
        subscriber = hub.subscribe(self.user_id)
        try:
            sent = hub.position
            for frame in await self._opening(sent):
                if not await self._send(write, frame):
                    return SEND_TIMEOUT
                if frame.id is not None and frame.id > sent:
                    sent = frame.id
            while True:
                try:
                    delivery = await subscriber.next(self._wait())
                except SubscriberClosed as closed:
                    await self._send(write, Frame(DISCONNECT, None, {"reason": closed.reason}))
                    return closed.reason
                if delivery is None:
                    if self.expires_at is not None and time.time() >= self.expires_at:
                        await self._send(write, Frame(DISCONNECT, None, {"reason": TOKEN_EXPIRED}))
                        return TOKEN_EXPIRED
                    frame = Frame(HEARTBEAT, max(sent, hub.position), {})
                elif delivery.id > sent:
                    frame = event_frame(delivery, self.user_id)
                else:
                    continue  # already sent during the replay
                if not await self._send(write, frame):
                    return SEND_TIMEOUT
                sent = max(sent, frame.id or sent)
        finally:
            hub.unsubscribe(subscriber)

    async def _opening(self, start: StreamId) -> list[Frame]:
        """`connected`, then either the replayed events or `resyncRequired`."""
        hello = {"userId": self.user_id, "heartbeatSeconds": self.heartbeat}
        if self.last_id is None:
            return [Frame(CONNECTED, start, {**hello, "resumed": False})]
        try:
            replayed = await self.bus.replay(self.user_id, self.last_id)
            reason = "backlogExceeded"
        except Unavailable:
            replayed, reason = None, "backlogUnavailable"
        if replayed is None:
            return [
                Frame(CONNECTED, start, {**hello, "resumed": False}),
                Frame(RESYNC_REQUIRED, start, {"lastEventId": str(self.last_id), "reason": reason}),
            ]
        return [
            Frame(CONNECTED, self.last_id, {**hello, "resumed": True}),
            *(event_frame(d, self.user_id) for d in replayed),
        ]

    def _wait(self) -> float:
        if self.expires_at is None:
            return self.heartbeat
        return max(0.0, min(self.heartbeat, self.expires_at - time.time()))

    async def _send(self, write: Write, frame: Frame) -> bool:
        try:
            async with asyncio.timeout(self.send_timeout):
                await write(frame)
        except TimeoutError:
            return False
        return True
