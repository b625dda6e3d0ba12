"""Stream positions: `<milliseconds>-<sequence>` ids, the same form as Redis Stream ids.

Both bus backends number events this way so a client never needs to know which one it talks to:
ids are opaque strings to clients, totally ordered on the server. Time-based ids also survive a
restart of the in-memory bus: a client's old id sorts before the new process's first event, so the
server can tell the client that it missed events instead of silently replaying the wrong ones.
"""

from __future__ import annotations

import time
from typing import NamedTuple


class StreamId(NamedTuple):
    """A position in the event stream; tuples compare in stream order."""

    ms: int
    seq: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    @classmethod
    def parse(cls, text: str | bytes) -> StreamId:
        """Parse `ms-seq`; raises `ValueError` for anything else (also bare or negative numbers)."""
        if isinstance(text, bytes):
            text = text.decode("ascii")
        ms, sep, seq = text.partition("-")
        if not sep or not ms.isdigit() or not seq.isdigit() or len(ms) > 20 or len(seq) > 20:
            raise ValueError(f"not a stream id: {text!r}")
        return cls(int(ms), int(seq))


ORIGIN = StreamId(0, 0)
"""The position before any event ever published."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdClock:
    """Hands out strictly increasing ids for the in-memory bus, like Redis's XADD `*`.

    The millisecond part follows the wall clock but never goes backwards; events within one
    millisecond (or while the clock is behind) get increasing sequence numbers.
    """

    def __init__(self, start: StreamId) -> None:
        self.last = start

    def next(self, ms: int | None = None) -> StreamId:
        ms = now_ms() if ms is None else ms
        self.last = StreamId(ms, 0) if ms > self.last.ms else StreamId(self.last.ms, self.last.seq + 1)
        return self.last
