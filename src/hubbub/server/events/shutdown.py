"""Notice that `hubbub serve` is stopping before uvicorn waits for open connections.

uvicorn's graceful shutdown first waits for every open response to finish and only then runs the
lifespan shutdown. An event stream never finishes on its own, so without this hook SIGTERM would
hang until the process is killed. uvicorn installs its `Server.handle_exit` with `signal.signal`
while it serves; we chain onto it (and only onto it: in any other host, e.g. tests running the app
in-process, this does nothing) and restore it afterwards.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _is_uvicorn_handler(handler: Any) -> bool:
    return isinstance(getattr(handler, "__self__", None), uvicorn.Server)


def on_server_exit(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` on the event loop when uvicorn is told to exit; returns an undo function."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        previous = installed.get(signum)
        if callable(previous):
            previous(signum, frame)

    for sig in _SIGNALS:
        previous = signal.getsignal(sig)
        if _is_uvicorn_handler(previous):
            installed[sig] = previous
            signal.signal(sig, handler)

    def undo() -> None:
        for sig, previous in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo
