"""`python -m bench.statement`: what PostgreSQL spends on Hubbub's batched send statement.

W1 on PostgreSQL sends each worker's queued messages as one statement (`store.group_commit`, the
statement `store.messages._SEND_MANY_IN_ONE_STATEMENT`): its cost per statement and per row decide
how much a batch of 4 costs next to a batch of 16, which is what 2 workers pay when W1's
connections split between them (README). This runs the statement alone on one connection of a
throwaway PostgreSQL 15 cluster (as `python -m bench --engine postgres` starts it, schema applied
by `hubbub migrate`), in W1's shape: 10 threads of 10 participants, senders taking turns, 100,000
messages already there, then `ANALYZE`. The figure is the backend's own CPU time from `/proc`.
Two baselines run the same way: `SELECT 1` (a round trip) and a one-row `UPDATE` that commits (a
write transaction). Then statements of 8 sends on two connections at once, into the same threads
(what 2 workers do when W1's connections split 8/8: each statement waits for the other's row
locks) and into threads apart, against one connection alone; the figure is CPU per row, both
backends together.

It then adds `--grow` threads (1,000 by default) of 10 participants each and measures again: on
the same connection, whose prepared statement keeps the generic plan made while the tables were
small; on a new connection; after `ANALYZE`; and after `ANALYZE` with `plan_cache_mode` forced to
the generic plan and to custom plans. PostgreSQL's own choice (`auto`) makes a custom plan on every
execution once the tables are that size, which the last two rows tell apart. (Forcing the generic
plan on the server's grouped statements was tried and reverted: on tables as even as these it
halves the statement's cost, but W7, after W2's threads of 250 participants, lost 10-15 %.)

    .venv/bin/python -m bench.statement            # about 30 s; run as root (initdb via runuser)

Prints a table and writes `bench/results/<date>-statement.json` (`--out` for another directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from rich.console import Console
from rich.table import Table

from bench import processes, report
from hubbub.server.store.messages import _SEND_MANY_IN_ONE_STATEMENT

RESULTS = Path(__file__).parent / "results"
THREADS, PER_THREAD = 10, 10
SEEDED = 100_000
BATCHES = (1, 4, 16)


def _cpu(*conns: Any) -> float:
    """The CPU seconds the backends of `conns` have used so far."""
    return sum(sum(processes.cpu_by_thread(conn.get_server_pid()).values()) for conn in conns)


async def per_call(conn: Any, calls: int, run: Any) -> float:
    """The backend's CPU microseconds per call of `run(i)`."""
    before = _cpu(conn)
    for i in range(calls):
        await run(i)
    return round((_cpu(conn) - before) * 1e6 / calls, 1)


def _columns(threads: list[int], batch: int, i: int) -> list[list[Any]]:
    """The i-th statement's parameters: `batch` sends taking turns over `threads` and their senders."""
    now_us = int(time.time() * 1e6)
    sends = [i * batch + j for j in range(batch)]
    chosen = [threads[s % len(threads)] for s in sends]
    return [
        [f"t{t}" for t in chosen],
        [f"u{t}-{(s // len(threads)) % PER_THREAD}" for t, s in zip(chosen, sends, strict=True)],
        [now_us // 1000] * batch,
        [now_us] * batch,
        ["text"] * batch,
        ["w1"] * batch,
        ["hello from the statement benchmark"] * batch,
        [None] * batch,
        ["hello from the statement benchmark"] * batch,
    ]


async def _send(conn: Any, threads: list[int], batch: int, i: int) -> None:
    rows_back = await conn.fetch(_SEND_MANY_IN_ONE_STATEMENT, *_columns(threads, batch, i))
    assert all(row["id"] is not None for row in rows_back), "a send was refused"


async def send_batches(conn: Any, batch: int, rows: int) -> float:
    """The backend's CPU microseconds per statement for `rows` sends in statements of `batch`."""
    threads = list(range(THREADS))
    return await per_call(conn, max(1, rows // batch), lambda i: _send(conn, threads, batch, i))


TWO_AT_ONCE_BATCH = 8


async def two_at_once(url: str, conn: Any, rows: int) -> dict[str, float]:
    """PostgreSQL's CPU per row (both backends) for statements of 8 sends: on one connection, one
    after another; on two connections at once into the same threads (what 2 workers do when W1's
    connections split 8/8); on two at once into threads apart."""
    other = await asyncpg.connect(url)
    try:
        every, low, high = list(range(THREADS)), list(range(THREADS // 2)), list(range(THREADS // 2, THREADS))
        cases = {
            "one connection, one statement after another": [(conn, every)],
            "two connections at once, the same threads": [(conn, every), (other, every)],
            "two connections at once, threads apart": [(conn, low), (other, high)],
        }
        figures = {}
        for name, plan in cases.items():
            statements = rows // TWO_AT_ONCE_BATCH // len(plan)

            async def run(c: Any, threads: list[int], statements: int) -> None:
                for i in range(statements):
                    await _send(c, threads, TWO_AT_ONCE_BATCH, i)

            before = _cpu(conn, other)
            await asyncio.gather(*(run(c, threads, statements) for c, threads in plan))
            used = _cpu(conn, other) - before
            figures[name] = round(used * 1e6 / (statements * TWO_AT_ONCE_BATCH * len(plan)), 1)
        return figures
    finally:
        await other.close()


async def by_batch(conn: Any, rows: int) -> dict[str, float]:
    """`send_batches` for each of `BATCHES`, keyed by the batch size."""
    return {str(b): await send_batches(conn, b, rows) for b in BATCHES}


async def measure(url: str, rows: int, grow: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    now = int(time.time() * 1e6)
    await conn.executemany(
        "INSERT INTO threads (id, topic, created_at, created_by, last_seq, last_message_id, last_message_at)"
        " VALUES ($1, 'w1', $2, 'u0-0', 0, 0, 0)",
        [(f"t{t}", now) for t in range(THREADS)],
    )
    await conn.executemany(
        "INSERT INTO participants (thread_id, user_id, display_name, added_at, visible_from)"
        " VALUES ($1, $2, '', $3, 0)",
        [(f"t{t}", f"u{t}-{p}", now) for t in range(THREADS) for p in range(PER_THREAD)],
    )
    # 100,000 messages first, so that the rows each measurement adds (the search index's posting
    # lists grow with them) change the message table by a few per cent, not many times over, and
    # the cases after the growth differ from the first by the participants and threads alone.
    base_ms = now // 1000 - 10_000_000
    await conn.execute(
        "INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,"
        " created_at, version, plain_text)"
        " SELECT 't' || t, $1::bigint + k, k + 1, 'text', 'u' || t || '-0', 'w1', 'seeded message ' || g, NULL,"
        " ($1::bigint + k) * 1000, $1::bigint + k, 'seeded message ' || g"
        " FROM (SELECT g, g % $2::int AS t, g / $2::int AS k FROM generate_series(0, $3::int - 1) g) AS s",
        base_ms,
        THREADS,
        SEEDED,
    )
    last = SEEDED // THREADS
    await conn.execute(
        "UPDATE threads SET last_seq = $1, last_message_id = $2, last_message_at = $3",
        last,
        base_ms + last - 1,
        (base_ms + last - 1) * 1000,
    )
    await conn.execute("ANALYZE")
    figures: dict[str, Any] = {
        "select_1_us": await per_call(conn, rows, lambda i: conn.fetchval("SELECT 1")),
        "update_commit_us": await per_call(
            conn, rows, lambda i: conn.execute("UPDATE threads SET topic = $1 WHERE id = 't0'", f"w1-{i}")
        ),
    }
    small = await by_batch(conn, rows)
    figures["two_at_once_us_per_row"] = await two_at_once(url, conn, rows)
    await conn.execute(
        "INSERT INTO threads (id, topic, created_at, created_by, last_seq, last_message_id, last_message_at)"
        " SELECT 'g' || g, 'grown', 0, 'v0', 0, 0, 0 FROM generate_series(1, $1::int) g",
        grow,
    )
    await conn.execute(
        "INSERT INTO participants (thread_id, user_id, display_name, added_at, visible_from)"
        " SELECT 'g' || (g / 10 + 1), 'v' || g, '', 0, 0 FROM generate_series(0, $1::int * 10 - 1) g",
        grow,
    )
    grown = {"same connection": await by_batch(conn, rows)}
    await conn.close()

    async def on_new_connection(**settings: str) -> dict[str, float]:
        new = await asyncpg.connect(url, server_settings=settings)
        try:
            return await by_batch(new, rows)
        finally:
            await new.close()

    grown["new connection"] = await on_new_connection()
    analyze = await asyncpg.connect(url)
    await analyze.execute("ANALYZE")
    await analyze.close()
    grown["new connection after ANALYZE"] = await on_new_connection()
    grown["new connection after ANALYZE, generic plan"] = await on_new_connection(plan_cache_mode="force_generic_plan")
    grown["new connection after ANALYZE, custom plans"] = await on_new_connection(plan_cache_mode="force_custom_plan")
    figures["send_statement_us"] = {
        "100 participants": small,
        **{f"+{grow * 10:,} participants, {k}": v for k, v in grown.items()},
    }
    b1, b16 = small[str(BATCHES[0])], small[str(BATCHES[-1])]
    per_row = (b16 - b1) / (BATCHES[-1] - BATCHES[0])
    figures["fit_100_participants"] = {"per_statement_us": round(b1 - per_row, 1), "per_row_us": round(per_row, 1)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8000, help="sends per measurement (default 8000)")
    parser.add_argument("--grow", type=int, default=1000, help="threads of 10 participants added (default 1000)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON file")
    args = parser.parse_args()
    console = Console()
    machine = report.machine_info("postgres")
    cores = frozenset(os.sched_getaffinity(0))
    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hubbub-statement-logs-")))
        url = stack.enter_context(processes.postgres_cluster(logs, cores))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hubbub-statement-")))
        subprocess.run(
            processes.migrate_command(data_dir),
            check=True,
            capture_output=True,
            env={**os.environ, "HUBBUB_DATABASE_URL": url},
        )
        figures = uvloop.run(measure(url, args.rows, args.grow))
    table = Table(title=f"PostgreSQL CPU per statement (µs), {args.rows:,} sends per cell")
    table.add_column("case")
    for b in BATCHES:
        table.add_column(f"batch {b}", justify="right")
    for case, by_batch in figures["send_statement_us"].items():
        table.add_row(case, *(f"{by_batch[str(b)]:,.0f}" for b in BATCHES))
    console.print(table)
    two = Table(title=f"PostgreSQL CPU per row (µs), statements of {TWO_AT_ONCE_BATCH} sends, 100 participants")
    two.add_column("case")
    two.add_column("µs a row", justify="right")
    for case, value in figures["two_at_once_us_per_row"].items():
        two.add_row(case, f"{value:.1f}")
    console.print(two)
    fit = figures["fit_100_participants"]
    console.print(
        f"100 participants: {fit['per_statement_us']:.0f} µs a statement + {fit['per_row_us']:.1f} µs a row;"
        f" SELECT 1 {figures['select_1_us']:.0f} µs, one-row UPDATE with its commit"
        f" {figures['update_commit_us']:.0f} µs"
    )
    console.print(
        f"[dim]{machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']},"
        f" {machine.get('postgres', 'PostgreSQL')}, commit {machine['git_commit']}[/]"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{dt.date.today().isoformat()}-statement.json"
    result = {"date": dt.date.today().isoformat(), "machine": machine, "rows": args.rows, "grow": args.grow, **figures}
    out.write_text(json.dumps(result, indent=1) + "\n")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
