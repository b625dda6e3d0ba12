"""This node's subscribers: who is connected, and the bounded queue of each connection.

Both bus backends hand every event to `Hub.dispatch` in stream order; the hub puts it in the queue
of each connection of each recipient without ever waiting. A connection that cannot keep up fills
its queue and is closed with `queueOverflow` instead of slowing down the publisher or other clients;
its client reconnects with its last id and gets the rest from the replay backlog. Revocations come
the same way (`Hub.revoke`), so a revoked connection is closed before any later event reaches it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

from hubbub.server.events.ids import ORIGIN, StreamId

log = logging.getLogger("hubbub.events")


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One chat event, named and shaped as the ACS JS SDK's `events.ts`.

    `recipients` are the user ids that receive it; `data` is the JSON payload.
    """

    type: str
    thread_id: str
    recipients: tuple[str, ...]
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """An event with the stream position the bus gave it."""

    id: StreamId
    event: Event
    payload: bytes
    """`event.data` as JSON, encoded once for every connection it goes to."""


# Why a connection ends. Each value is sent to the client in the final `disconnect` frame.
QUEUE_OVERFLOW = "queueOverflow"
SERVER_SHUTDOWN = "serverShutdown"
BUS_INTERRUPTED = "busInterrupted"
TOKEN_EXPIRED = "tokenExpired"
TOKEN_REVOKED = "tokenRevoked"
IDENTITY_DELETED = "identityDeleted"
SEND_TIMEOUT = "sendTimeout"

_REVOKED_KEPT = 10_000
"""Revocations remembered per node, so a stream that authenticated just before a revocation reached
this node, and subscribes just after, is still closed (see `Hub.subscribe`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Revocation:
    """Every token of `user_id` older than `generation` stopped working; no generation: the identity
    was deleted. Carried by the bus to every node, in stream order with the events."""

    user_id: str
    generation: int | None

    @property
    def reason(self) -> str:
        return IDENTITY_DELETED if self.generation is None else TOKEN_REVOKED

    def ends(self, generation: int | None) -> bool:
        """Whether a token of `generation` (None: unknown) is no longer valid after this."""
        return self.generation is None or generation is None or generation < self.generation


class HubObserver:
    """Told what the bus and hub do, for metrics (`server/metrics.py`). This one ignores it all.

    Called on the event loop in the publish and dispatch paths: an implementation must not block.
    """

    def published(self, event: Event) -> None:
        """This node published `event`."""

    def delivered(self, count: int) -> None:
        """One event was queued for `count` connections."""

    def overflowed(self) -> None:
        """A connection's queue was full: it is being closed (`queueOverflow`)."""

    def bus_lag(self, seconds: float) -> None:
        """An event reached this node from the shared bus `seconds` after the bus took it (Redis)."""


IGNORE = HubObserver()


class SubscriberClosed(Exception):
    """The subscription ended; `reason` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscriber:
    """One connection's bounded queue. Filled by `Hub.dispatch`, drained by the connection."""

    def __init__(
        self, user_id: str, max_queue: int, generation: int | None = None, observer: HubObserver = IGNORE
    ) -> None:
        self.user_id = user_id
        self.observer = observer
        self.generation = generation
        """The token generation the connection authenticated with (None: not known)."""
        self.max_queue = max_queue
        self.reason: str | None = None
        self._queue: collections.deque[Delivery] = collections.deque()
        self._ready = asyncio.Event()

    def offer(self, delivery: Delivery) -> bool:
        """Queue without waiting (True when queued); a full queue ends the subscription (the backlog
        has the rest)."""
        if self.reason is not None:
            return False
        if len(self._queue) >= self.max_queue:
            log.info("events: closing a slow connection of %s (queue of %d full)", self.user_id, self.max_queue)
            self.observer.overflowed()
            self.close(QUEUE_OVERFLOW)
            return False
        self._queue.append(delivery)
        self._ready.set()
        return True

    def close(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self._queue.clear()
        self._ready.set()

    def wake(self) -> None:
        """Make a waiting `take()` return (with nothing, when nothing is queued)."""
        self._ready.set()

    async def take(self) -> list[Delivery]:
        """Everything queued, waiting until there is something or until `wake()` (then maybe nothing).

        Raises `SubscriberClosed` once the subscription has ended (queued events are dropped then:
        the client resumes from the last id it received). There is no timeout here, so waiting
        costs no timer; the session's watchdog wakes the subscriber when a heartbeat is due.
        """
        if self.reason is None and not self._queue:
            self._ready.clear()
            await self._ready.wait()
        if self.reason is not None:
            raise SubscriberClosed(self.reason)
        taken = list(self._queue)
        self._queue.clear()
        return taken


class Hub:
    """The connections of this node, indexed by user id, and this node's stream position."""

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.position: StreamId = ORIGIN
        """The id of the last event dispatched here: every later event is still to come."""
        self.closed = False
        self.observer: HubObserver = IGNORE
        """Told what happens, for metrics; the app sets it when metrics are on."""
        self._by_user: dict[str, set[Subscriber]] = {}
        self._revoked: dict[str, Revocation] = {}
        self._revocation_listeners: list[Callable[[Revocation], None]] = []
        self._streams = 0
        self._no_streams = asyncio.Event()
        self._no_streams.set()

    def subscribe(self, user_id: str, generation: int | None = None) -> Subscriber:
        """Register a connection; it receives every event dispatched from now on (ids > `position`).

        `generation` is the token's: a connection whose token was revoked after it was checked (the
        revocation reached this node in between) is closed at once.
        """
        subscriber = Subscriber(user_id, self.max_queue, generation, self.observer)
        revoked = self._revoked.get(user_id)
        if self.closed:
            subscriber.close(SERVER_SHUTDOWN)
        elif revoked is not None and revoked.ends(generation):
            subscriber.close(revoked.reason)
        self._by_user.setdefault(user_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._by_user.get(subscriber.user_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_user[subscriber.user_id]

    def dispatch(self, delivery: Delivery) -> None:
        """Hand one event to the connections of its recipients. Called in stream order, never blocks."""
        if delivery.id > self.position:
            self.position = delivery.id
        queued = 0
        for user_id in delivery.event.recipients:
            for subscriber in self._by_user.get(user_id, ()):
                queued += subscriber.offer(delivery)
        if queued:
            self.observer.delivered(queued)

    def serves_any(self, recipients: tuple[str, ...]) -> bool:
        """Whether a connection of one of `recipients` is on this node. A bus that receives events
        from other nodes skips decoding the others (`advance`): with several workers, every worker
        reads every event back."""
        by_user = self._by_user
        return any(user_id in by_user for user_id in recipients)

    def advance(self, event_id: StreamId) -> None:
        """An event in stream order that no connection on this node receives: only the position moves."""
        if event_id > self.position:
            self.position = event_id

    def on_revocation(self, listener: Callable[[Revocation], None]) -> None:
        """Call `listener` for every revocation this node learns of (e.g. to drop cached generations)."""
        self._revocation_listeners.append(listener)

    def revoke(self, revocation: Revocation) -> None:
        """End the connections whose tokens `revocation` invalidates; called in stream order, so
        nothing published after the revocation reaches them. Idempotent."""
        for listener in self._revocation_listeners:
            listener(revocation)
        known = self._revoked.pop(revocation.user_id, None)
        if known is not None and (known.generation is None or not revocation.ends(known.generation)):
            revocation = known  # an older or repeated revocation (or one after a deletion) changes nothing
        if len(self._revoked) >= _REVOKED_KEPT:
            del self._revoked[next(iter(self._revoked))]  # the oldest (dicts keep insertion order)
        self._revoked[revocation.user_id] = revocation
        for subscriber in list(self._by_user.get(revocation.user_id, ())):
            if revocation.ends(subscriber.generation):
                subscriber.close(revocation.reason)

    def close_all(self, reason: str) -> None:
        """End every connection (they may reconnect with their last id)."""
        for subscribers in list(self._by_user.values()):
            for subscriber in list(subscribers):
                subscriber.close(reason)

    def shut_down(self) -> None:
        """The server is stopping: end every stream now so the server need not wait for them."""
        self.closed = True
        self.close_all(SERVER_SHUTDOWN)

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Count one stream endpoint (from its start until its connection is closed) for `drain`."""
        self._streams += 1
        self._no_streams.clear()
        try:
            yield
        finally:
            self._streams -= 1
            if self._streams == 0:
                self._no_streams.set()

    async def drain(self, timeout: float) -> None:
        """`shut_down`, then wait (at most `timeout` seconds) until every stream has sent its last
        frame and closed. The server calls this before it closes connections itself."""
        self.shut_down()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._no_streams.wait()

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._by_user.values())
