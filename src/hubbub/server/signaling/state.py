"""This node's signaling state: the signer, and where each client endpoint's stream left off.

The Trouter client has no resume cursor, but it keeps one endpoint id (`epid`, its registrationId)
for the life of its `ChatClient`, across reconnects. The node remembers, per endpoint id, the last
stream position it delivered; when the client comes back (a new allocation and WebSocket), the
session replays from there what the bus backlog still holds, so a dropped connection loses nothing
and receives nothing twice.

The position is also saved on the bus as a bookmark (Redis: a key with a TTL), when the socket
closes and at most once a second while it delivers, so a client that comes back to another node,
or to this one after a restart, resumes from it too. A node that dies without closing its sockets
leaves a bookmark up to a second old: the client then gets up to a second of events twice rather
than a gap (at least once). The memory bus has no other node, and its backlog ends with the process.
"""

from __future__ import annotations

import collections
import time

from starlette.requests import HTTPConnection

from hubbub.server.events.bus import EventBus
from hubbub.server.events.ids import StreamId
from hubbub.server.service import service_of
from hubbub.server.signaling.credentials import Signer

CURSOR_SECONDS = 3600.0
"""How long a disconnected endpoint's position is kept (the backlog rarely reaches further back)."""
CURSORS_KEPT = 100_000
SHARE_SECONDS = 1.0
"""How often at most a delivering socket saves its position on the bus."""


class Cursors:
    """Endpoint id → (user id, last delivered position, when), oldest first, bounded."""

    def __init__(self, bus: EventBus | None = None, ttl: float = CURSOR_SECONDS, kept: int = CURSORS_KEPT) -> None:
        self._bus = bus
        self._ttl = ttl
        self._kept = kept
        self._entries: collections.OrderedDict[str, tuple[str, StreamId, float]] = collections.OrderedDict()

    def remember(self, endpoint_id: str, user_id: str, position: StreamId) -> None:
        self._entries[endpoint_id] = (user_id, position, time.monotonic())
        self._entries.move_to_end(endpoint_id)
        while len(self._entries) > self._kept:
            self._entries.popitem(last=False)

    def _local(self, endpoint_id: str, user_id: str) -> StreamId | None:
        entry = self._entries.get(endpoint_id)
        if entry is None or entry[0] != user_id or time.monotonic() - entry[2] > self._ttl:
            return None
        return entry[1]

    async def resume_point(self, endpoint_id: str, user_id: str) -> StreamId | None:
        """Where this user's endpoint left off: the later of this node's memory and the bookmark
        any node saved on the bus (the client may have been on another node since)."""
        local = self._local(endpoint_id, user_id)
        if self._bus is None or not self._bus.shares_bookmarks:
            return local
        saved = await self._bus.load_bookmark(_bookmark(endpoint_id, user_id))
        try:
            shared = StreamId.parse(saved) if saved else None
        except ValueError:
            shared = None
        if shared is None:
            # Dropped (the client stopped, on whichever node), expired, or Redis is down, when its
            # backlog could not be replayed either: start at the new allocation.
            return None
        return shared if local is None else max(local, shared)

    async def share(self, endpoint_id: str, user_id: str) -> None:
        """Save this endpoint's remembered position on the bus, for every node (never raises)."""
        position = self._local(endpoint_id, user_id)
        if self._bus is not None and position is not None:
            await self._bus.save_bookmarks({_bookmark(endpoint_id, user_id): str(position)}, int(self._ttl))

    async def forget(self, endpoint_id: str, user_id: str) -> None:
        """The client stopped on purpose: its next start begins at its new allocation, on any node."""
        entry = self._entries.get(endpoint_id)
        if entry is not None and entry[0] == user_id:
            del self._entries[endpoint_id]
        if self._bus is not None:
            await self._bus.drop_bookmark(_bookmark(endpoint_id, user_id))


def _bookmark(endpoint_id: str, user_id: str) -> str:
    return f"trouter:{user_id}:{endpoint_id}"


class Signaling:
    def __init__(self, key_bytes: bytes, bus: EventBus | None = None) -> None:
        self.signer = Signer(key_bytes)
        self.cursors = Cursors(bus)


def signaling_of(conn: HTTPConnection) -> Signaling:
    """The app's signaling state, made on first use from the service's access key."""
    state = conn.app.state
    signaling: Signaling | None = getattr(state, "signaling", None)
    if signaling is None:
        service = service_of(conn)
        signaling = state.signaling = Signaling(service.key_bytes, service.bus)
    return signaling
