"""A small HTTP/1.1 keep-alive client on raw asyncio streams, and a bounded closed-loop load runner.

Written for the load generator not to be the bottleneck: requests are pre-encoded bytes, responses
are parsed just enough to find the status and the body (Content-Length or chunked). Every loop is
bounded twice: by a request count and by a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

Request = bytes
"""A complete, encoded HTTP/1.1 request (request line, headers, body)."""


def encode_request(
    method: str, target: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Request:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH", "DELETE"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.authority = f"{host}:{port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None

    async def send(self, request: Request) -> tuple[int, bytes]:
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        pos = lower.find(b"content-length:")
        if pos >= 0:
            end = lower.index(b"\r\n", pos)
            length = int(head[pos + 15 : end])
            body = await self._reader.readexactly(length) if length else b""
        elif b"transfer-encoding: chunked" in lower:
            body = await self._read_chunked()
        else:
            body = b""
        if b"connection: close" in lower:
            await self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        expect: int | tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        """Send one request; return the parsed JSON body (None when empty). Raise HttpError otherwise."""
        status, data = await self.send(encode_request(method, target, self.authority, headers, body))
        ok = (expect,) if isinstance(expect, int) else expect
        if status not in ok:
            raise HttpError(status, data)
        return json.loads(data) if data else None


@dataclasses.dataclass
class LoadResult:
    """What a closed-loop run measured. Times are seconds; latencies are per request."""

    requests: int
    errors: int
    elapsed: float
    latencies: list[float]
    completions: list[float]
    """Completion time of each successful request, relative to the start."""
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.elapsed if self.elapsed else 0.0


async def run_closed_loop(
    host: str,
    port: int,
    make_request: Callable[[int], Request],
    *,
    total: int,
    connections: int,
    deadline: float,
    progress: Callable[[int], None] | None = None,
    ok: tuple[int, ...] = (200, 201, 204),
    before_close: Callable[[], None] | None = None,
    stagger: float = 0.0,
) -> LoadResult:
    """Send `total` requests over `connections` keep-alive connections, each waiting for its answer.

    Stops early at `deadline` seconds. `make_request(i)` builds the i-th request. `before_close`
    runs once the requests are done, while the connections are still open. With `stagger`, the
    connections open one by one, that many seconds apart, instead of all at once.
    """
    conns = [Connection(host, port) for _ in range(connections)]
    if stagger:
        for conn in conns:
            await conn.open()
            await asyncio.sleep(stagger)
    else:
        await asyncio.gather(*(c.open() for c in conns))
    latencies: list[float] = []
    completions: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(total))
    errors = 0
    clock = time.perf_counter
    start = clock()
    stop_at = start + deadline

    async def worker(conn: Connection) -> None:
        nonlocal errors
        for i in counter:
            if clock() > stop_at:
                return
            request = make_request(i)
            t0 = clock()
            try:
                status, _ = await conn.send(request)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                errors += 1
                statuses[-1] = statuses.get(-1, 0) + 1
                await conn.close()
                continue
            t1 = clock()
            statuses[status] = statuses.get(status, 0) + 1
            if status in ok:
                latencies.append(t1 - t0)
                completions.append(t1 - start)
            else:
                errors += 1
            if progress is not None:
                progress(1)

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = clock() - start
    if before_close is not None:
        before_close()
    await asyncio.gather(*(c.close() for c in conns))
    done = sum(statuses.values())
    return LoadResult(done, errors, elapsed, latencies, completions, statuses)


def percentiles(values: list[float], points: tuple[float, ...] = (50, 90, 99, 99.9)) -> dict[str, float]:
    """Percentiles in milliseconds (nearest-rank), keyed "p50", "p99", "p99.9"."""
    if not values:
        return {f"p{p:g}": float("nan") for p in points}
    ordered = sorted(values)
    out = {}
    for p in points:
        rank = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        out[f"p{p:g}"] = round(ordered[rank] * 1000, 3)
    out["mean"] = round(sum(ordered) / len(ordered) * 1000, 3)
    out["max"] = round(ordered[-1] * 1000, 3)
    return out
