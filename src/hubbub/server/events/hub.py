"""This node's subscribers: who is connected, and the bounded queue of each connection.

Both bus backends hand every event to `Hub.dispatch` in stream order; the hub puts it in the queue
of each connection of each recipient without ever waiting. A connection that cannot keep up fills
its queue and is closed with `queueOverflow` instead of slowing down the publisher or other clients;
its client reconnects with its last id and gets the rest from the replay backlog.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
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
SEND_TIMEOUT = "sendTimeout"


class SubscriberClosed(Exception):
    """The subscription ended; `reason` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscriber:
    """One connection's bounded queue. Filled by `Hub.dispatch`, drained by the connection."""

    def __init__(self, user_id: str, max_queue: int) -> None:
        self.user_id = user_id
        self.max_queue = max_queue
        self.reason: str | None = None
        self._queue: collections.deque[Delivery] = collections.deque()
        self._ready = asyncio.Event()

    def offer(self, delivery: Delivery) -> None:
        """Queue without waiting; a full queue ends the subscription (the backlog has the rest)."""
        if self.reason is not None:
            return
        if len(self._queue) >= self.max_queue:
            log.info("events: closing a slow connection of %s (queue of %d full)", self.user_id, self.max_queue)
            self.close(QUEUE_OVERFLOW)
            return
        self._queue.append(delivery)
        self._ready.set()

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
        self._by_user: dict[str, set[Subscriber]] = {}

    def subscribe(self, user_id: str) -> Subscriber:
        """Register a connection; it receives every event dispatched from now on (ids > `position`)."""
        subscriber = Subscriber(user_id, self.max_queue)
        if self.closed:
            subscriber.close(SERVER_SHUTDOWN)
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
        for user_id in delivery.event.recipients:
            for subscriber in self._by_user.get(user_id, ()):
                subscriber.offer(delivery)

    def close_all(self, reason: str) -> None:
        """End every connection (they may reconnect with their last id)."""
        for subscribers in list(self._by_user.values()):
            for subscriber in list(subscribers):
                subscriber.close(reason)

    def shut_down(self) -> None:
        """The server is stopping: end every stream now so the server need not wait for them."""
        self.closed = True
        self.close_all(SERVER_SHUTDOWN)

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._by_user.values())
