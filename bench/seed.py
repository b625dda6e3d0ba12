"""Direct SQL seeding for the history (W3) and growth (W4) workloads, with the server stopped.

Rows follow Hubbub's schema (store/schema/0001_init.sql) and the conventions of chat.py and the
store modules: times are epoch microseconds, a message id is epoch milliseconds increasing within
its thread, `seq` runs 1..N per thread, and `threads.last_seq` / `last_message_id` /
`last_message_at` describe the newest message. Readers get a participants row with visible_from 0.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

Progress = Callable[[int], None]

THREAD_COLUMNS = ("id", "topic", "created_at", "created_by", "last_seq", "last_message_id", "last_message_at")
PARTICIPANT_COLUMNS = ("thread_id", "user_id", "display_name", "added_at", "visible_from")
MESSAGE_COLUMNS = (
    "thread_id",
    "id",
    "seq",
    "type",
    "sender_id",
    "sender_display_name",
    "content",
    "created_at",
    "version",
)
IDENTITY_COLUMNS = ("id", "created_at")
FILLER = "The quick brown fox jumps over the lazy dog while the benchmark fills the table."
RARE_WORD = "zanzibar"
"""W6's rare word: in one W4 message of every `RARE_EVERY` (W6's common word, "fox", is in all)."""
RARE_EVERY = 10_000


class Writer:
    """Bulk inserts into one engine. SQLite: executemany in big transactions; PostgreSQL: COPY."""

    def __init__(self, sqlite_path: Path | None = None, postgres_url: str | None = None) -> None:
        self.sqlite_path, self.postgres_url = sqlite_path, postgres_url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> Writer:
        if self.postgres_url:
            import asyncpg

            self._loop = asyncio.new_event_loop()
            self._pg = self._loop.run_until_complete(asyncpg.connect(self.postgres_url))
        else:
            assert self.sqlite_path is not None
            self._sqlite = sqlite3.connect(self.sqlite_path, isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=OFF")
            self._sqlite.execute("PRAGMA cache_size=-262144")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            # The server must start on a database that is on disk, as a restarted server's would
            # be, not one whose seeded pages (800 MB for W4) are still dirty in the page cache: the
            # server's first checkpoint would write them back, and its fdatasync on the writer
            # thread held every send for 0.3-0.4 s (W4's max latency 380-392 ms, the "W4 stall").
            # The checkpoint below does not do it: with synchronous=OFF, the automatic checkpoints
            # during the seeding copied the WAL into the database file without syncing, and a
            # checkpoint with nothing left to copy syncs nothing. So the file is synced here.
            self._index_sqlite()
            self._sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite.close()
            assert self.sqlite_path is not None
            with open(self.sqlite_path, "rb") as synced:
                os.fsync(synced.fileno())
        if self._pg is not None and self._loop is not None:
            self._loop.run_until_complete(self._pg.execute("ANALYZE"))
            self._loop.run_until_complete(self._pg.close())
            self._loop.close()

    def _index_sqlite(self) -> None:
        """Put the seeded messages into the search index, as the server's writer does after sends
        (`store.search.index_pending`), so that the server starts with nothing left to index."""
        from hubbub.server.store.search import index_pending
        from hubbub.server.store.sqlite import _DirectConnection, drive

        assert self._sqlite is not None
        direct, more = _DirectConnection(self._sqlite), True
        while more:
            self._sqlite.execute("BEGIN")
            more = drive(index_pending(direct, batch=100_000))
            self._sqlite.execute("COMMIT")

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
        progress: Progress | None = None,
        batch: int = 50_000,
    ) -> None:
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                self._flush(table, columns, chunk)
                if progress:
                    progress(len(chunk))
                chunk = []
        if chunk:
            self._flush(table, columns, chunk)
            if progress:
                progress(len(chunk))

    def _flush(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if self._sqlite is not None:
            marks = ", ".join("?" for _ in columns)
            self._sqlite.execute("BEGIN")
            self._sqlite.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            self._sqlite.execute("COMMIT")
        else:
            assert self._loop is not None
            self._loop.run_until_complete(self._pg.copy_records_to_table(table, records=rows, columns=list(columns)))

    def scalar(self, sql: str) -> Any:
        if self._sqlite is not None:
            return self._sqlite.execute(sql).fetchone()[0]
        assert self._loop is not None
        return self._loop.run_until_complete(self._pg.fetchval(sql))


def _thread_id() -> str:
    return f"19:{uuid.uuid4().hex}@thread.v2"


def seed_history(writer: Writer, reader: str, messages: int, progress: Progress | None = None) -> str:
    """One thread with `messages` text messages from `reader`, who can see all of them."""
    thread_id = _thread_id()
    base_ms = time.time_ns() // 1_000_000 - messages - 60_000
    created = base_ms * 1000
    last_id = base_ms + messages - 1
    writer.insert(
        "threads", THREAD_COLUMNS, [(thread_id, "W3 history", created, reader, messages, last_id, last_id * 1000)]
    )
    writer.insert("participants", PARTICIPANT_COLUMNS, [(thread_id, reader, "reader", created, 0)])

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(messages):
            mid = base_ms + i
            yield (thread_id, mid, i + 1, "text", reader, "reader", f"history {i + 1}: {FILLER}", mid * 1000, mid)

    writer.insert("messages", MESSAGE_COLUMNS, rows(), progress)
    return thread_id


def seed_growth(
    writer: Writer,
    *,
    threads: int,
    messages: int,
    identities: int = 1000,
    members: int = 10,
    progress: Progress | None = None,
) -> tuple[list[str], list[str]]:
    """`messages` messages spread evenly over `threads` threads of `members` participants each;
    returns (thread ids, user ids). Thread t's members are users[(t * members + j) % identities].

    Messages are interleaved in time across threads (message g belongs to thread g % threads), as
    many concurrent conversations would leave them; they are inserted thread by thread. One in
    `RARE_EVERY` holds `RARE_WORD` (for W6's search).
    """
    now_ms = time.time_ns() // 1_000_000
    base_ms = now_ms - messages - 120_000
    users = [f"8:acs:bench-growth_{uuid.uuid4()}" for _ in range(identities)]
    writer.insert("identities", IDENTITY_COLUMNS, [(u, base_ms * 1000) for u in users])
    per_thread = messages // threads
    ids = [_thread_id() for _ in range(threads)]
    last = base_ms + (per_thread - 1) * threads
    writer.insert(
        "threads",
        THREAD_COLUMNS,
        [
            (tid, f"W4 growth {t}", base_ms * 1000, users[t % identities], per_thread, last + t, (last + t) * 1000)
            for t, tid in enumerate(ids)
        ],
    )
    writer.insert(
        "participants",
        PARTICIPANT_COLUMNS,
        [
            (tid, users[(t * members + j) % identities], f"member {j}", base_ms * 1000, base_ms * 1000)
            for t, tid in enumerate(ids)
            for j in range(members)
        ],
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        for t, tid in enumerate(ids):
            for k in range(per_thread):
                mid = base_ms + k * threads + t
                sender = users[(t * members + k % members) % identities]
                rare = f"{RARE_WORD} " if (t * per_thread + k) % RARE_EVERY == 0 else ""
                yield (tid, mid, k + 1, "text", sender, None, f"growth {k}: {rare}{FILLER}", mid * 1000, mid)

    writer.insert("messages", MESSAGE_COLUMNS, rows(), progress)
    return ids, users


def raw_sqlite_insert_ceiling(path: Path, rows: int, deadline: float) -> dict[str, Any]:
    """Rows/s for single-row INSERT + COMMIT with the server's pragmas (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE m (thread_id TEXT NOT NULL, id INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " content TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (thread_id, id))"
    )
    conn.execute("CREATE INDEX m_created ON m (thread_id, created_at)")
    thread = _thread_id()
    start = time.perf_counter()
    done = 0
    for i in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO m VALUES (?, ?, ?, ?, ?)", (thread, i, i, FILLER, i))
        conn.execute("COMMIT")
        done += 1
        if done % 1000 == 0 and time.perf_counter() - start > deadline:
            break
    elapsed = time.perf_counter() - start
    conn.close()
    return {"rows": done, "seconds": round(elapsed, 3), "rows_per_s": round(done / elapsed, 1)}
