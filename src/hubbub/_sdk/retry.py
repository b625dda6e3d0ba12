"""When to retry a request, and how long to wait first. No I/O: the pipelines ask, then sleep.

The rules follow azure-core's `RetryPolicy` (retry 408/429/500/502/503/504, exponential backoff,
honour `Retry-After`) with one fix: a request that is not safe to repeat (a POST without an
idempotency key) is only retried when the server cannot have acted on it — it was never sent
(connect error), or the server refused it and said when to come back (408, or 429/503 with
`Retry-After`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({429, 503})


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for, from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After`.

    `Retry-After` may be seconds or an HTTP date. Returns None when no header says anything usable.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lowered:
            try:
                return max(float(lowered[name]) / 1000, 0.0)
            except ValueError:
                pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how patiently to retry.

    :ivar total: Retries after the first attempt (azure-core's `retry_total`, default 3).
    :ivar backoff_factor: Backoff base in seconds; retry n waits `factor * 2**(n-1)`, the first 0.
    :ivar backoff_max: Upper bound of one computed backoff wait.
    """

    total: int = 3
    backoff_factor: float = 0.8
    backoff_max: float = 120.0

    def backoff(self, retry_number: int) -> float:
        """The computed wait before retry number `retry_number` (1-based)."""
        if retry_number <= 1:
            return 0.0
        return min(self.backoff_factor * (2.0 ** (retry_number - 1)), self.backoff_max)

    def delay_after_status(
        self, retries_done: int, status: int, headers: Mapping[str, str], *, safe: bool
    ) -> float | None:
        """Seconds to wait before retrying after this status, or None to give up and raise."""
        if retries_done >= self.total or status not in RETRY_STATUSES:
            return None
        retry_after = retry_after_seconds(headers)
        refused = status == 408 or (status in REFUSED_STATUSES and retry_after is not None)
        if not safe and not refused:
            return None
        if retry_after is not None:
            return retry_after
        return self.backoff(retries_done + 1)

    def delay_after_error(self, retries_done: int, *, sent: bool, safe: bool) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to give up.

        `sent` is False when the request cannot have reached the server (connect errors).
        """
        if retries_done >= self.total or (sent and not safe):
            return None
        return self.backoff(retries_done + 1)
