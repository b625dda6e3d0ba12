"""The few primitives that differ between the async and sync clients, written for both by hand.

`scripts/unasync.py` maps each async name here onto its sync twin (`AsyncLock` -> `Lock`,
`AsyncTimer` -> `Timer`, `async_sleep` -> `sleep`), the way httpcore's `_synchronization.py` does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any


async def async_sleep(seconds: float) -> None:
    """Sleep without blocking the event loop."""
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Sleep the calling thread."""
    time.sleep(seconds)


class AsyncLock:
    """An asyncio lock that can also tell whether someone holds it."""

    def __init__(self) -> None:
        """Create an unlocked lock."""
        self._lock = asyncio.Lock()

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._lock.locked()

    async def __aenter__(self) -> AsyncLock:
        await self._lock.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


class Lock:
    """A thread lock that can also tell whether someone holds it."""

    def __init__(self) -> None:
        """Create an unlocked lock."""
        self._lock = threading.Lock()

    def locked(self) -> bool:
        """True while some thread holds the lock."""
        return self._lock.locked()

    def __enter__(self) -> Lock:
        self._lock.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


class AsyncTimer:
    """Runs a coroutine function once after `interval` seconds, as a task on the running loop."""

    def __init__(self, interval: float, callback: Callable[[], Awaitable[Any]]) -> None:
        """Prepare the timer; nothing runs until `start()`."""
        self._interval = interval
        self._callback = callback
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start counting down (needs a running event loop)."""
        self._task = asyncio.ensure_future(self._job())

    async def _job(self) -> None:
        await asyncio.sleep(self._interval)
        await self._callback()

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""
        if self._task is not None:
            self._task.cancel()
        self._task = None


class Timer:
    """Runs a function once after `interval` seconds, in a daemon thread."""

    def __init__(self, interval: float, callback: Callable[[], Any]) -> None:
        """Prepare the timer; nothing runs until `start()`."""
        self._timer = threading.Timer(min(interval, threading.TIMEOUT_MAX), callback)
        self._timer.daemon = True

    def start(self) -> None:
        """Start counting down."""
        self._timer.start()

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""
        self._timer.cancel()
