"""Optional per-operation rate limits with the ACS limit table (spec §12). Off by default.

Fixed windows per (operation, scope key): simple, cheap and close enough to the service's
behaviour for clients to exercise their 429 handling. Each node counts on its own.
"""

from __future__ import annotations

import math
import time

from hubbub.server.errors import TooManyRequests

# operation -> list of (scope, limit, window seconds); scope "user", "thread" or "user+thread".
LIMITS: dict[str, list[tuple[str, int, int]]] = {
    "create_thread": [("user", 10, 10)],
    "delete_thread": [("user", 10, 10)],
    "update_thread": [("thread", 5, 10)],
    "participants_change": [("thread", 10, 10), ("thread", 30, 60)],
    "get_thread": [("user", 50, 10)],
    "list_threads": [("user", 50, 10)],
    "get_message": [("user+thread", 50, 10), ("thread", 250, 10)],
    "list_messages": [
        ("user+thread", 50, 10),
        ("user+thread", 200, 60),
        ("thread", 250, 10),
        ("thread", 400, 60),
    ],
    "search_messages": [("user", 20, 10), ("user", 100, 60)],
    "list_read_receipts": [("user+thread", 5, 10), ("thread", 100, 10)],
    "list_participants": [("user+thread", 10, 10), ("thread", 250, 10)],
    "message_change": [("thread", 10, 10), ("thread", 30, 60)],
    "send_read_receipt": [("user+thread", 10, 10), ("user+thread", 30, 60)],
    "send_typing": [("user+thread", 5, 10), ("user+thread", 15, 60), ("thread", 10, 10), ("thread", 30, 60)],
    "create_identity": [("resource", 1000, 30)],
    "delete_identity": [("resource", 500, 30)],
    "issue_token": [("resource", 1000, 30)],
    "revoke_tokens": [("resource", 500, 30)],
}


class RateLimiter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._counters: dict[tuple[str, str, int, int], int] = {}
        self._last_sweep = 0.0

    def check(self, operation: str, *, user: str = "", thread: str = "") -> None:
        """Count one call; raise `TooManyRequests` (with the seconds to wait) when over a limit."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_sweep > 60:
            self._sweep(now)
        keys = {"user": user, "thread": thread, "user+thread": f"{user}|{thread}", "resource": ""}
        hits = []
        for scope, limit, window in LIMITS.get(operation, []):
            bucket = int(now // window)
            key = (operation, f"{scope}:{keys[scope]}:{window}", window, bucket)
            count = self._counters.get(key, 0)
            if count >= limit:
                raise TooManyRequests(retry_after=max(1, math.ceil((bucket + 1) * window - now)))
            hits.append(key)
        for key in hits:
            self._counters[key] = self._counters.get(key, 0) + 1

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        self._counters = {k: v for k, v in self._counters.items() if (k[3] + 1) * k[2] > now}
