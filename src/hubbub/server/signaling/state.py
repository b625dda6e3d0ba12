"""This node's signaling state: the signer, and where each client endpoint's stream left off.

The Trouter client has no resume cursor, but it keeps one endpoint id (`epid`, its registrationId)
for the life of its `ChatClient`, across reconnects. The node remembers, per endpoint id, the last
stream position it delivered; when the client comes back (a new allocation and WebSocket), the
session replays from there what the bus backlog still holds, so a dropped connection loses nothing
and receives nothing twice. The memory is per node: a client that comes back to another node
resumes from the position of its new allocation instead (nothing twice, but the gap is lost).
"""

from __future__ import annotations

import collections
import time

from starlette.requests import HTTPConnection

from hubbub.server.events.ids import StreamId
from hubbub.server.service import service_of
from hubbub.server.signaling.credentials import Signer

CURSOR_SECONDS = 3600.0
"""How long a disconnected endpoint's position is kept (the backlog rarely reaches further back)."""
CURSORS_KEPT = 100_000


class Cursors:
    """Endpoint id → (user id, last delivered position, when), oldest first, bounded."""

    def __init__(self, ttl: float = CURSOR_SECONDS, kept: int = CURSORS_KEPT) -> None:
        self._ttl = ttl
        self._kept = kept
        self._entries: collections.OrderedDict[str, tuple[str, StreamId, float]] = collections.OrderedDict()

    def remember(self, endpoint_id: str, user_id: str, position: StreamId) -> None:
        self._entries[endpoint_id] = (user_id, position, time.monotonic())
        self._entries.move_to_end(endpoint_id)
        while len(self._entries) > self._kept:
            self._entries.popitem(last=False)

    def resume_point(self, endpoint_id: str, user_id: str) -> StreamId | None:
        """Where this user's endpoint left off, if it was here recently."""
        entry = self._entries.get(endpoint_id)
        if entry is None or entry[0] != user_id or time.monotonic() - entry[2] > self._ttl:
            return None
        return entry[1]

    def forget(self, endpoint_id: str, user_id: str) -> None:
        entry = self._entries.get(endpoint_id)
        if entry is not None and entry[0] == user_id:
            del self._entries[endpoint_id]


class Signaling:
    def __init__(self, key_bytes: bytes) -> None:
        self.signer = Signer(key_bytes)
        self.cursors = Cursors()


def signaling_of(conn: HTTPConnection) -> Signaling:
    """The app's signaling state, made on first use from the service's access key."""
    state = conn.app.state
    signaling: Signaling | None = getattr(state, "signaling", None)
    if signaling is None:
        signaling = state.signaling = Signaling(service_of(conn).key_bytes)
    return signaling
