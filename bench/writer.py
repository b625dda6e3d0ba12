"""`python -m bench.writer`: the SQLite writer's CPU per send, on an empty and on a W4-sized database.

What W4 measures through HTTP, without HTTP and without the event loop, so that a change to the
writer can be measured in a few seconds and with little noise on a busy machine: the statements a
send runs (`UPDATE threads … RETURNING`, `INSERT INTO messages`) in group commits of `--batch`
sends, on a connection opened as the server opens its writer (`store.sqlite._open`: WAL,
synchronous=NORMAL), the search index's new rows every `_DEFERRED_JOBS` sends in a transaction of
their own (`store.search.index_pending`, as the server's writer runs it), and a checkpoint every
`_CHECKPOINT_JOBS` sends as the server's checkpointer makes them, so the WAL starts over as the
server's does. The figure is the thread's CPU time per send (user + system: the WAL writes are
system time), with the index's transactions, without the checkpoints, which the server runs on a
thread of their own.

Each case runs on a fresh copy of its database, synced first (a copy whose pages are still dirty in
the page cache costs the writer more, as W4 did before the seeder synced). The databases hold
Hubbub's schema and are seeded as W4 seeds (`seed.seed_growth`), then kept in `--dir` for the next
run at the same schema version (their names carry it). Cases: empty / W4-sized, each with the index
as the server keeps it ("indexed after"), with the index written by a trigger in each send's
transaction as before schema 0005 ("indexed in the send"), and without the index; `--sql` adds a
statement run on each connection first (a PRAGMA, an FTS5 setting) as one more variant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench import processes, seed
from hubbub.server.store.engine import schema_files
from hubbub.server.store.search import index_pending
from hubbub.server.store.sqlite import _CHECKPOINT_JOBS, _DEFERRED_JOBS, _DirectConnection, _open, drive

_UPDATE = (
    "UPDATE threads SET last_seq = last_seq + 1, last_message_id = ?, last_message_at = ? WHERE id = ?"
    " RETURNING last_seq"
)
_INSERT = (
    "INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,"
    " created_at, version, plain_text) VALUES (?, ?, ?, 'text', 'u', 'w1', ?, NULL, ?, ?, NULL)"
)
_IN_THE_SEND = """
CREATE TEMP TRIGGER message_index_insert AFTER INSERT ON main.messages
WHEN NEW.type IN ('text', 'html') AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO message_index (rowid, body, scope, thread_id, message_id)
    VALUES (NEW.rowid, CASE NEW.type WHEN 'html' THEN COALESCE(NEW.plain_text, NEW.content) ELSE NEW.content END,
            't' || hex(NEW.thread_id), NEW.thread_id, NEW.id);
END
"""
"""The insert trigger of schema 0003, which schema 0005 replaced by `index_pending`."""


def create(path: Path, messages: int, threads: int) -> None:
    """A database with Hubbub's schema and, if `messages`, W4's seed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for _, sql in schema_files("sqlite"):
        conn.executescript(sql)
    conn.close()
    if messages:
        with seed.Writer(sqlite_path=path) as writer:
            seed.seed_growth(writer, threads=threads, messages=messages)


def run(source: Path, work: Path, sends: int, batch: int, setup: list[str], index_after: bool) -> float:
    """Writer CPU µs per send: `sends` sends over 10 new threads, `batch` per commit; with
    `index_after`, the index's new rows every `_DEFERRED_JOBS` sends."""
    db = work / "run.db"
    shutil.copy(source, db)
    fd = os.open(db, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    conn = _open(db, "NORMAL")
    for sql in setup:
        conn.execute(sql)
    now_ms = time.time_ns() // 1_000_000
    thread_ids = [f"19:{uuid.uuid4().hex}@thread.v2" for _ in range(10)]
    conn.executemany(
        "INSERT INTO threads (id, topic, created_at, created_by, last_message_at) VALUES (?, 'writer', ?, 'u', ?)",
        [(t, now_ms * 1000, now_ms * 1000) for t in thread_ids],
    )
    cpu, checkpointed, indexed = 0.0, 0, 0
    direct = _DirectConnection(conn)
    started = time.thread_time()
    for first in range(0, sends, batch):
        conn.execute("BEGIN IMMEDIATE")
        for i in range(first, min(first + batch, sends)):
            thread_id, message_id = thread_ids[i % 10], now_ms + i
            seq = conn.execute(_UPDATE, (message_id, message_id * 1000, thread_id)).fetchone()[0]
            conn.execute(_INSERT, (thread_id, message_id, seq, f"w1 message {i}", message_id * 1000, message_id))
        conn.execute("COMMIT")
        if index_after and (first + batch - indexed >= _DEFERRED_JOBS or first + batch >= sends):
            conn.execute("BEGIN IMMEDIATE")
            drive(index_pending(direct))
            conn.execute("COMMIT")
            indexed = first + batch
        if first + batch - checkpointed >= _CHECKPOINT_JOBS:
            # The server's checkpointer runs on a thread of its own: not the writer's CPU, but its
            # effect is, since the next commits write over the start of the WAL again instead of
            # appending to an ever longer file (new blocks ext4 zeroes first).
            cpu += time.thread_time() - started
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            checkpointed = first + batch
            started = time.thread_time()
    cpu += time.thread_time() - started
    conn.close()
    processes.remove_sqlite(db)
    return cpu / sends * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hubbub-bench-writer")
    parser.add_argument("--messages", type=int, default=1_200_000, help="the big database's messages")
    parser.add_argument("--threads", type=int, default=10_000, help="the big database's threads")
    parser.add_argument("--sends", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=8, help="sends per commit (the writer's group commit)")
    parser.add_argument("--rounds", type=int, default=3, help="the cases take turns this many times")
    parser.add_argument("--sql", action="append", default=[], help="a statement run first, as a variant")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    # Named by schema version: a database kept from a run before a schema change is not reused.
    version = max(number for number, _ in schema_files("sqlite"))
    sources = {
        "empty": args.dir / f"empty-v{version}.db",
        f"{args.messages:,} messages": args.dir / f"big-{args.messages}-v{version}.db",
    }
    for (name, path), messages in zip(sources.items(), (0, args.messages), strict=True):
        if not path.exists():
            print(f"creating the {name} database in {path} ...", flush=True)
            create(path, messages, args.threads)
    variants: dict[str, tuple[list[str], bool]] = {
        "indexed after": ([], True),
        "indexed in the send": ([_IN_THE_SEND], False),
        "no index": ([], False),
    } | ({"indexed after + --sql": (args.sql, True)} if args.sql else {})
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        for _ in range(args.rounds):
            for name, path in sources.items():
                for variant, (setup, index_after) in variants.items():
                    us = run(path, Path(work), args.sends, args.batch, setup, index_after)
                    results.setdefault(f"{name}, {variant}", []).append(us)
    print(f"writer CPU per send (µs), {args.sends:,} sends in commits of {args.batch}, {args.rounds} rounds:")
    for case, values in results.items():
        print(f"  {case:40} median {statistics.median(values):6.1f}   range {min(values):.1f}-{max(values):.1f}")


if __name__ == "__main__":
    main()
