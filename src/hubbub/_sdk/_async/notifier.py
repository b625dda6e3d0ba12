"""Async real-time notifications: runs an `AsyncEventStream` as a task and calls `on()` handlers.

Hand-written (a task here, a thread in `_sync/notifier.py`); the stream itself is generated.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from dataclasses import replace

from hubbub._sdk._async.realtime import AsyncEventStream
from hubbub._sdk.events import ChatEvent, HandlerRegistry, logger, notification_name


class AsyncRealtimeNotifier:
    """Calls the registered handlers (plain or async callables) on the running event loop."""

    def __init__(self, make_stream: Callable[[str | None], AsyncEventStream], handlers: HandlerRegistry) -> None:
        """`make_stream(last_event_id)` opens a stream; `handlers` are the client's `on()` handlers."""
        self._make_stream = make_stream
        self._handlers = handlers
        self._stream: AsyncEventStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_event_id: str | None = None
        self._connected = False

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()` (or a fatal error)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start listening (a no-op if already listening); resumes after the last event seen before a stop."""
        if self.running:
            return
        self._stream = self._make_stream(self._last_event_id)
        self._task = asyncio.ensure_future(self._run(self._stream))

    async def stop(self) -> None:
        """Stop listening; `realTimeNotificationDisconnected` fires if the stream was connected."""
        task, stream = self._task, self._stream
        self._task = self._stream = None
        if stream is not None:
            stream.abort()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connected:
            self._connected = False
            await self._dispatch(ChatEvent("disconnect", None, {"reason": "stopped"}))

    async def _run(self, stream: AsyncEventStream) -> None:
        try:
            async for event in stream:
                self._last_event_id = stream.last_event_id
                if event.type == "connected":
                    self._connected = True
                elif event.type == "disconnect":
                    self._connected = False
                await self._dispatch(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("real-time notifications stopped: %r", exc)
            self._connected = False
            await self._dispatch(ChatEvent("disconnect", None, {"reason": "error", "error": str(exc)}))
        finally:
            await stream.aclose()

    async def _dispatch(self, event: ChatEvent) -> None:
        name = notification_name(event)
        if name is None:
            return
        if name != event.type:
            event = replace(event, type=name)  # handlers see the name they registered for
        for handler in self._handlers.handlers(name):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("a %s handler failed", name)
