"""SQLite engine: WAL mode, one writer thread, a small pool of reader threads.

All writes go through one connection on one thread, so transactions never see SQLITE_BUSY; an
asyncio lock keeps one transaction open at a time. Readers use their own connections and, thanks
to WAL, see every committed write without blocking the writer.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from hubbub.server.errors import Unavailable
from hubbub.server.store.engine import Connection, Database, Row

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class _SqliteConnection(Connection):
    """Runs statements on one sqlite3 connection, each call hopping to that connection's thread."""

    def __init__(self, run: Callable[[Callable[[sqlite3.Connection], Any]], Any]) -> None:
        self._run = run

    async def execute(self, sql: str, *args: Any) -> int:
        query = _to_sqlite(sql)
        result: int = await self._run(lambda c: c.execute(query, args).rowcount)
        return result

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        query = _to_sqlite(sql)
        await self._run(lambda c: c.executemany(query, rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        query = _to_sqlite(sql)
        result: list[Row] = await self._run(lambda c: c.execute(query, args).fetchall())
        return result


class SqliteDatabase(Database):
    engine = "sqlite"

    def __init__(self, path: Path, synchronous: str, readers: int = 4) -> None:
        self._path = path
        self._synchronous = synchronous
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="hubbub-sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="hubbub-sqlite-reader")
        self._writer: sqlite3.Connection | None = None
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._write_lock = asyncio.Lock()
        self._tx = _SqliteConnection(self._on_writer)
        self._reads = _SqliteConnection(self._on_reader)

    @classmethod
    async def connect(cls, path: Path, *, synchronous: str = "NORMAL") -> SqliteDatabase:
        db = cls(path, synchronous.upper())
        db._writer = await asyncio.get_running_loop().run_in_executor(db._writer_pool, _open, path, db._synchronous)
        return db

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            await loop.run_in_executor(self._writer_pool, self._writer.close)
            self._writer = None
        for conn in self._readers:
            conn.close()
        self._readers.clear()
        self._writer_pool.shutdown(wait=False)
        self._reader_pool.shutdown(wait=False)

    async def _on_writer(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        writer = self._writer
        if writer is None:
            raise Unavailable("The database is closed.")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer_pool, fn, writer)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"Database error: {exc}") from exc

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _open(self._path, self._synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._readers.append(conn)
        return conn

    async def _on_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            return fn(self._reader())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._reader_pool, call)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"Database error: {exc}") from exc

    # Statements outside a transaction: reads go to the reader pool, writes to the writer.
    async def execute(self, sql: str, *args: Any) -> int:
        async with self._write_lock:
            return await self._tx.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._write_lock:
            await self._tx.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._reads.fetch(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            await self._on_writer(lambda c: c.execute("BEGIN IMMEDIATE"))
            try:
                yield self._tx
            except BaseException:
                await asyncio.shield(self._on_writer(lambda c: c.execute("ROLLBACK")))
                raise
            await asyncio.shield(self._on_writer(lambda c: c.execute("COMMIT")))

    def _migration_lock(self) -> Any:
        return self.transaction()

    async def _run_script(self, tx: Connection, sql: str) -> None:
        code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
        for statement in code.split(";"):
            if statement.strip():
                await tx.execute(statement)
