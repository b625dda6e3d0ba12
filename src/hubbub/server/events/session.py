"""One client's event stream, independent of the transport (WebSocket or Server-Sent Events).

The order of a session is what makes resuming exact: subscribe first (so nothing published from
now on is missed), then replay the backlog after the client's last id, then pass on live events
whose ids are newer than the last one sent (the replay and the live queue may overlap; ids decide).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from hubbub.server.errors import Unavailable
from hubbub.server.events import shapes
from hubbub.server.events.bus import EventBus
from hubbub.server.events.hub import SEND_TIMEOUT, TOKEN_EXPIRED, Delivery, Subscriber, SubscriberClosed
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


@functools.lru_cache(maxsize=65_536)
def _recipient_json(user_id: str) -> bytes:
    return _encoder.encode(shapes.identifier_kind(user_id))


def event_frame(delivery: Delivery, user_id: str) -> Frame:
    """A chat event as one subscriber sees it: the payload plus its own `recipient`.

    A message to a 250-member thread goes out 250 times; the payload is encoded once and only the
    recipient is spliced in per connection.
    """
    payload = delivery.payload[:-1]
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


Write = Callable[[list[Frame]], Awaitable[None]]
"""Sends frames to the client, in order (the SSE stream joins them into one write)."""


class _Watchdog:
    """One lazily re-armed timer per connection for heartbeats, token expiry and stuck writes.

    Frames are written far more often than heartbeats are due, so a write only records the time;
    the timer fires at the earliest deadline it knew of, and re-arms itself if a write moved it.
    """

    def __init__(self, session: EventSession, subscriber: Subscriber, task: asyncio.Task[Any]) -> None:
        self._loop = asyncio.get_running_loop()
        self._session = session
        self._subscriber = subscriber
        self._task = task
        now = self._loop.time()
        self.last_write = now
        self.writing_since: float | None = None
        self.timed_out = False
        self.heartbeat_due = False
        self.expired = False
        self.expiry = None if session.expires_at is None else now + (session.expires_at - time.time())
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _deadline(self) -> float:
        deadline = self.last_write + self._session.heartbeat
        if self.writing_since is not None:
            deadline = min(deadline, self.writing_since + self._session.send_timeout)
        if self.expiry is not None:
            deadline = min(deadline, self.expiry)
        return deadline

    def _arm(self) -> None:
        self._handle = self._loop.call_at(self._deadline(), self._fire)

    def _fire(self) -> None:
        now = self._loop.time()
        if self.writing_since is not None and now >= self.writing_since + self._session.send_timeout:
            self.timed_out = True
            self._task.cancel()
            return
        if self.expiry is not None and now >= self.expiry:
            self.expired, self.expiry = True, None
            self._subscriber.wake()
        if now >= self.last_write + self._session.heartbeat:
            self.heartbeat_due, self.last_write = True, now
            self._subscriber.wake()
        self._arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    async def send(self, write: Write, frames: list[Frame]) -> bool:
        """Write; False when the write took longer than `send_timeout` (the client is not reading)."""
        self.writing_since = self._loop.time()
        try:
            await write(frames)
        except asyncio.CancelledError:
            if not self.timed_out:
                raise
            self._task.uncancel()
            return False
        finally:
            self.writing_since = None
        self.last_write = self._loop.time()
        self.heartbeat_due = False
        return True


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
        generation: int | None = None,
        send_timeout: float | None = None,
    ) -> None:
        self.bus = bus
        self.user_id = user_id
        self.generation = generation
        """The token's generation: a revocation of it ends the session (`Hub.revoke`)."""
        self.last_id = last_id
        self.heartbeat = heartbeat
        self.expires_at = expires_at
        self.send_timeout = send_timeout if send_timeout is not None else max(2 * heartbeat, 10.0)

    async def run(self, write: Write) -> str:
        """Write frames until the stream ends; return why it ended (the reason of the last frame).

        Everything queued when the connection gets its turn goes out in one write. A write that
        takes longer than `send_timeout` ends the session without a last frame (the client is not
        reading; the transport is closed by the caller).
        """
        hub = self.bus.hub
        subscriber = hub.subscribe(self.user_id, self.generation)
        task = asyncio.current_task()
        assert task is not None
        watchdog = _Watchdog(self, subscriber, task)
        try:
            sent = hub.position
            opening = await self._opening(sent)
            if not await watchdog.send(write, opening):
                return SEND_TIMEOUT
            sent = max([sent, *(frame.id for frame in opening if frame.id is not None)])
            while True:
                try:
                    deliveries = await subscriber.take()
                except SubscriberClosed as closed:
                    await watchdog.send(write, [Frame(DISCONNECT, None, {"reason": closed.reason})])
                    return closed.reason
                # the replay and the live queue may overlap: ids decide
                frames = [event_frame(d, self.user_id) for d in deliveries if d.id > sent]
                if frames:
                    sent = frames[-1].id or sent
                elif watchdog.expired:
                    await watchdog.send(write, [Frame(DISCONNECT, None, {"reason": TOKEN_EXPIRED})])
                    return TOKEN_EXPIRED
                elif watchdog.heartbeat_due:
                    frames = [Frame(HEARTBEAT, max(sent, hub.position), {})]
                else:
                    continue
                if not await watchdog.send(write, frames):
                    return SEND_TIMEOUT
        finally:
            watchdog.cancel()
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
