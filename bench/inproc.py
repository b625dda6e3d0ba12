"""`python -m bench.inproc`: W1's sends driven straight into the ASGI application, in one process.

No sockets and no HTTP parser: 16 tasks (`--connections`) call the app with a send_message
request each, over and over, and the figure is the process's CPU per send, split into the event loop's thread and the
others (the SQLite threads). It isolates what Hubbub's own code costs from what uvicorn and the
kernel cost, with far less noise than a run over loopback, so small changes can be measured:
`--rounds` alternates nothing, it repeats, and prints each round and the median.

    .venv/bin/python -m bench.inproc --rounds 5 --sends 4000
    .venv/bin/python -m bench.inproc --engine postgres --redis   # throwaway PostgreSQL and Redis
    .venv/bin/python -m bench.inproc --engine postgres --redis --connections 8   # one of 2 workers, split

PostgreSQL and Redis run on the same cores as this process (as the bench's server side does), so
their CPU is not in the figures: `--engine postgres` measures Hubbub's side of the PostgreSQL path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench import processes
from hubbub.server.app import create_app
from hubbub.server.domain import Participant
from hubbub.server.settings import Settings

USERS, THREADS, PER_THREAD, CONNECTIONS = 100, 10, 10, 16


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def _scope(path: str, token: str, length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"api-version=2024-03-07",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"authorization", b"Bearer " + token.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


async def _run(sends: int, rounds: int, urls: dict[str, str], connections: int = CONNECTIONS) -> list[dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="hubbub-inproc-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            http_port=None,
            https_port=None,
            webhooks=False,
            database_url=urls.get("database_url"),
            redis_url=urls.get("redis_url"),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            service = app.state.hubbub
            users = []
            for _ in range(USERS):
                user_id, issued = await service.identities.create_identity(["chat"])
                users.append((user_id, issued.token))
            jobs = []
            for t in range(THREADS):
                members = users[t * PER_THREAD : (t + 1) * PER_THREAD]
                created = await service.threads.create_thread(
                    members[0][0],
                    topic=f"bench {t}",
                    participants=[Participant(user_id=u) for u, _ in members],
                    request_id=None,
                )
                for _, token in members:
                    jobs.append((f"/chat/threads/{created.thread.id}/messages", token))
            body = b'{"content":"hello from the in-process bench","senderDisplayName":"bench","type":"text"}'
            scopes = [_scope(path, token, len(body)) for path, token in jobs]
            results = []
            for number in range(rounds + 1):  # round 0 warms up
                count = 0

                async def worker(offset: int, share: int) -> None:
                    nonlocal count
                    for i in range(share):
                        status = await _call(app, scopes[(offset + i * connections) % len(scopes)], body)
                        if status != 201:
                            raise RuntimeError(f"send answered {status}")
                        count += 1

                n = sends // 5 if number == 0 else sends
                loop_cpu, cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
                await asyncio.gather(*(worker(c, n // connections) for c in range(connections)))
                loop_cpu, cpu, wall = (
                    time.thread_time() - loop_cpu,
                    time.process_time() - cpu,
                    time.perf_counter() - wall,
                )
                if number:
                    results.append(
                        {
                            "per_second": count / wall,
                            "cpu_us": cpu / count * 1e6,
                            "loop_us": loop_cpu / count * 1e6,
                            "threads_us": (cpu - loop_cpu) / count * 1e6,
                        }
                    )
                    r = results[-1]
                    print(
                        f"round {number}: {r['per_second']:8,.0f}/s  CPU {r['cpu_us']:5.1f} µs/send"
                        f" (event loop {r['loop_us']:5.1f}, other threads {r['threads_us']:5.1f})",
                        flush=True,
                    )
            return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=4000, help="sends per round (default 4000)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after one warm-up (default 5)")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="events through a throwaway Redis")
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help=f"concurrent senders (default {CONNECTIONS}, W1's); fewer is what one of 2 workers sees when W1 splits",
    )
    args = parser.parse_args()
    cores = frozenset(os.sched_getaffinity(0))
    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hubbub-inproc-logs-")))
        urls: dict[str, str] = {}
        if args.engine == "postgres":
            urls["database_url"] = stack.enter_context(processes.postgres_cluster(logs, cores))
        if args.redis:
            urls["redis_url"] = stack.enter_context(processes.redis_server(logs, cores))
        results = uvloop.run(_run(args.sends, args.rounds, urls, args.connections))
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"median: {med['per_second']:,.0f}/s  CPU {med['cpu_us']:.1f} µs/send"
        f" (event loop {med['loop_us']:.1f}, other threads {med['threads_us']:.1f})"
    )


if __name__ == "__main__":
    main()
