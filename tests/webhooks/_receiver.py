"""`Receiver`: the webhook receiver process (`receiver_app.py`) and a small client for the tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from _services import LOOPBACK, ServiceFailed, free_port, log_tail, port_open, service_env, stop_process

APP = Path(__file__).with_name("receiver_app.py")


class Receiver:
    """A real receiver process on loopback; every path on it is a webhook endpoint of its own."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url(""), trust_env=False, timeout=10)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(APP), str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=service_env()
            )
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServiceFailed(f"webhook receiver did not start:\n{log_tail(self.log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def control(self, path: str, **rule: Any) -> None:
        self.http.post("/_control", json={"path": path, **rule}).raise_for_status()

    def received(self, path: str) -> list[dict[str, Any]]:
        return list(self.http.get("/_received", params={"path": path}).json()["events"])

    def handshakes(self, path: str) -> int:
        return int(self.http.get("/_received", params={"path": path}).json()["handshakes"])

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least `count` events on `path`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.received(path)
            if len(events) >= count or time.monotonic() > deadline:
                return events
            time.sleep(0.1)
