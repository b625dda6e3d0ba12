"""Sync real-time notifications: runs an `EventStream` on a daemon thread and calls `on()` handlers there.

Hand-written, not generated (a thread here, a task in `_async/notifier.py`); the stream itself is
generated from `_async/realtime.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from hubbub._sdk._sync.realtime import EventStream
from hubbub._sdk.events import ChatEvent, HandlerRegistry, logger, notification_name

STOP_TIMEOUT_SECONDS = 5.0


class RealtimeNotifier:
    """Calls the registered handlers from a background thread (handlers must be thread-safe)."""

    def __init__(self, make_stream: Callable[[str | None], EventStream], handlers: HandlerRegistry) -> None:
        """`make_stream(last_event_id)` opens a stream; `handlers` are the client's `on()` handlers."""
        self._make_stream = make_stream
        self._handlers = handlers
        self._stream: EventStream | None = None
        self._thread: threading.Thread | None = None
        self._last_event_id: str | None = None
        self._connected = False
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()` (or a fatal error)."""
        return self._thread is not None and self._thread.is_alive() and self._stream is not None

    def start(self) -> None:
        """Start listening (a no-op if already listening); resumes after the last event seen before a stop."""
        with self._lock:
            if self.running:
                return
            stream = self._make_stream(self._last_event_id)
            self._stream = stream
            self._thread = threading.Thread(
                target=self._run, args=(stream,), name="hubbub-realtime-notifications", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop listening; `realTimeNotificationDisconnected` fires (on this thread) if the stream was connected."""
        with self._lock:
            thread, stream = self._thread, self._stream
            self._thread = self._stream = None
        if stream is not None:
            stream.abort()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_SECONDS)
        if self._connected:
            self._connected = False
            self._dispatch(ChatEvent("disconnect", None, {"reason": "stopped"}))

    def _run(self, stream: EventStream) -> None:
        try:
            for event in stream:
                if self._stream is not stream:
                    break  # stopped: no handler runs after stop()
                self._last_event_id = stream.last_event_id
                if event.type == "connected":
                    self._connected = True
                elif event.type == "disconnect":
                    self._connected = False
                self._dispatch(event)
        except Exception as exc:
            logger.error("real-time notifications stopped: %r", exc)
            if self._stream is stream:
                self._connected = False
                self._dispatch(ChatEvent("disconnect", None, {"reason": "error", "error": str(exc)}))
        finally:
            stream.close()

    def _dispatch(self, event: ChatEvent) -> None:
        name = notification_name(event)
        if name is None:
            return
        if name != event.type:
            event = replace(event, type=name)  # handlers see the name they registered for
        for handler in self._handlers.handlers(name):
            try:
                handler(event)
            except Exception:
                logger.exception("a %s handler failed", name)
