"""The event bus interface and its in-memory backend (single process).

A bus gives every published event a stream position (`StreamId`), keeps a bounded backlog for
replay, and hands each event, in stream order, to the `Hub` of every node. The chat rules only call
`publish`; the event endpoints only use `hub`, `replay` and `hub.position`. The identity rules call
`revoke`, which travels the same way so that every node ends the streams of a revoked token before
it delivers anything published after the revocation.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
from typing import Any

import msgspec

from hubbub.server.events.hub import Delivery, Event, Hub, Revocation
from hubbub.server.events.ids import IdClock, StreamId, now_ms

log = logging.getLogger("hubbub.events")


class EventBus(abc.ABC):
    """Carries events from the node that produced them to every node's subscribers.

    Guarantees (both backends): ids strictly increase in publish order as seen by every node;
    every node dispatches in id order; `replay` returns exactly the events after a given id, or
    says that some of them are no longer kept.
    """

    def __init__(self, *, backlog: int, max_queue: int) -> None:
        self.backlog = backlog
        self.hub = Hub(max_queue)

    @abc.abstractmethod
    async def publish(self, event: Event) -> None:
        """Send an event to its recipients on every node. Never raises for a backend outage:
        the data behind the event is already committed, so the request that caused it succeeds."""

    @abc.abstractmethod
    async def replay(self, user_id: str, after: StreamId) -> list[Delivery] | None:
        """The kept events for `user_id` with ids after `after`, in order; None when the backlog no
        longer reaches back to `after` (the client must catch up through the REST API)."""

    @abc.abstractmethod
    async def revoke(self, revocation: Revocation) -> None:
        """Tell every node (this one at once) that tokens were revoked or an identity deleted: each
        ends the affected streams and forgets the cached generation. Call it after the change is
        committed. Never raises for a backend outage (see `publish`)."""

    shares_bookmarks = False
    """Whether bookmarks reach other nodes (and outlive this process): Redis yes, memory no."""

    async def save_bookmarks(self, bookmarks: dict[str, str], ttl_seconds: int) -> None:  # noqa: B027 - a hook
        """Keep small named positions where every node can read them (`load_bookmark`), for
        `ttl_seconds`: for clients that cannot name their own resume point (a Trouter endpoint).
        The memory bus has one node, which keeps them itself. Never raises for a backend outage."""

    async def load_bookmark(self, name: str) -> str | None:
        """A bookmark saved by any node, if it is still kept; None also when the backend is down."""
        return None

    async def drop_bookmark(self, name: str) -> None:  # noqa: B027 - a hook
        """Forget a bookmark on every node. Never raises for a backend outage."""

    @property
    def revocation_epoch(self) -> int | None:
        """While every revocation on any node is sure to reach this node: a number that changes
        whenever that stops being sure (e.g. the bus lost its connection). None when revocations are
        not shared (one process, or the backend is unreachable): caches must then expire by age."""
        return None

    async def start(self) -> None:  # noqa: B027 - a hook: only a bus with a backend to connect to overrides it
        """Connect to the backend.

        Ending the open streams when the server stops is not the bus's business: the process's
        owner does it (`hubbub serve` runs the app's stop hooks, which drain `hub`, before
        uvicorn closes connections; the lifespan shutdown comes too late for that)."""

    async def ping(self) -> None:  # noqa: B027 - a hook: only a bus with a backend overrides it
        """Raise when the backend does not answer (`/health/ready`); the memory bus always answers."""

    async def close(self) -> None:
        """End every stream and disconnect."""
        self.hub.shut_down()


_Kept = tuple[StreamId, str, str, tuple[str, ...], bytes]
"""A backlog entry: id, type, thread id, recipients, JSON payload."""
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])


class MemoryBus(EventBus):
    """In-process bus for a single node: ids from an `IdClock`, the backlog in a deque."""

    def __init__(self, *, backlog: int = 10_000, max_queue: int = 1_000) -> None:
        super().__init__(backlog=backlog, max_queue=max_queue)
        start = StreamId(now_ms(), 0)
        self._clock = IdClock(start)
        self._kept: collections.deque[_Kept] = collections.deque()
        self._boundary = start
        """The newest id that is not kept (dropped from the backlog, or the start of this process)."""
        self.hub.position = start

    async def publish(self, event: Event) -> None:
        self.hub.observer.published(event)
        payload = _encoder.encode(event.data)
        delivery = Delivery(self._clock.next(), event, payload)
        if len(self._kept) >= self.backlog:
            self._boundary = self._kept.popleft()[0]
        if self.backlog > 0:
            # Kept as a tuple of strings and bytes, which the garbage collector does not track: a
            # backlog of live dicts made every full collection walk it (40 ms pauses at 10,000).
            self._kept.append((delivery.id, event.type, event.thread_id, event.recipients, payload))
        else:
            self._boundary = delivery.id
        self.hub.dispatch(delivery)

    async def revoke(self, revocation: Revocation) -> None:
        self.hub.revoke(revocation)

    async def replay(self, user_id: str, after: StreamId) -> list[Delivery] | None:
        if after != self._boundary and not self._keeps(after):
            return None
        return [
            Delivery(id, Event(type, thread_id, recipients, _decoder.decode(payload)), payload)
            for id, type, thread_id, recipients, payload in self._kept
            if id > after and user_id in recipients
        ]

    def _keeps(self, event_id: StreamId) -> bool:
        if not self._kept or event_id < self._kept[0][0] or event_id > self._kept[-1][0]:
            return False
        low, high = 0, len(self._kept) - 1
        while low <= high:  # deque indexing is O(n) in the middle, still fine for a bounded backlog
            mid = (low + high) // 2
            found = self._kept[mid][0]
            if found == event_id:
                return True
            if found < event_id:
                low = mid + 1
            else:
                high = mid - 1
        return False


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it to finish."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def first_done(*tasks: asyncio.Task[Any]) -> set[asyncio.Task[Any]]:
    """Wait until one task ends, cancel the others (and wait for them), return the finished ones."""
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return done
