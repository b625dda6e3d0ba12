"""SQLite engine: WAL mode, one writer thread with group commit, a checkpointer thread, a pool of
reader threads.

A use case hands the engine a transaction *body* (an async function of a `Connection`). On SQLite
every statement is synchronous, so the body never really suspends: the writer thread drives the
coroutine to completion itself, in one hop, without the event loop. The writer takes every body
waiting in its queue, runs them in one transaction (again each in a SAVEPOINT of its own when one
fails, so that it rolls back alone), and commits the batch once: one durable commit for many
concurrent requests (group commit). Callers are
answered only after that COMMIT returns, so a success still means the data survives a crash.

The writer has a thread even on one core: running each loop iteration's bodies on the event loop
itself, as one batch per iteration, was measured at 8 % fewer sends per second and 9 % more CPU per
send (W1, `bench.compare`, 6 rounds, server on one core).

Work that a write may leave for later (`defer`: the search index's new rows) runs on the writer
too, in transactions of its own between batches: every `_DEFERRED_JOBS` writes, `_DEFERRED_SECONDS`
after the last one, and for `catch_up`, which queues behind every write committed before it.

Readers use their own connections on their own threads and, with WAL, see every committed write
without blocking the writer. The checkpointer copies the WAL into the database file on a connection
of its own, so that no commit waits for a checkpoint's copying and syncing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from hubbub.server.errors import Unavailable
from hubbub.server.store.engine import IGNORED, Connection, Database, Row, refused_value

T = TypeVar("T")
Body = Callable[[Connection], Awaitable[T]]
log = logging.getLogger("hubbub.store")
_PLACEHOLDER = re.compile(r"\$(\d+)")
_MAX_BATCH = 256
_CHECKPOINT_JOBS = 1000
"""Write jobs (about 8 WAL pages each for a send) between two checkpoints. A checkpoint copies each
distinct page once and syncs twice, so a longer WAL copies a page that many commits rewrote (a
thread's newest leaves, the index's segment pages) once instead of several times: 8,000 pages
against SQLite's default of 1,000 saved about 5 µs of writer CPU per send."""
_CHECKPOINT_SECONDS = 1.0
"""A checkpoint also runs this long after a write, when fewer than `_CHECKPOINT_JOBS` came."""
_DEFERRED_JOBS = 1000
"""Write jobs after which the writer runs the deferred work (`defer`: the search index's new rows),
between two batches. In batches of 1,000 sends the index costs about 2.5 µs a send, against 14-15
in every send's own transaction."""
_DEFERRED_SECONDS = 0.5
"""The deferred work also runs this long after the last write, when fewer than `_DEFERRED_JOBS` came."""
_VERSIONS = "SELECT data_version, schema_version FROM pragma_data_version, pragma_schema_version"
"""`data_version` changes when another connection (another process) commits; `schema_version` when
anyone changes the schema."""
_MEMBER_TRIGGERS = [
    f"CREATE TEMP TRIGGER IF NOT EXISTS hubbub_members_{event.lower()} AFTER {event} ON main.participants"
    f" BEGIN {body} END"
    for event, body in (
        ("INSERT", "SELECT hubbub_members_changed(NEW.thread_id);"),
        ("UPDATE", "SELECT hubbub_members_changed(OLD.thread_id); SELECT hubbub_members_changed(NEW.thread_id);"),
        ("DELETE", "SELECT hubbub_members_changed(OLD.thread_id);"),
    )
]
"""The writer connection's own triggers (TEMP: no other connection has them) that drop a thread's
kept members (`Connection.active_members`) whenever a statement changes its participants."""
_REFUSED = (OverflowError, UnicodeEncodeError, sqlite3.DataError)
"""What sqlite3 raises for a value it cannot bind: an int past 64 bits, a lone surrogate, a huge blob."""


@functools.lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it (`_checkpoint_loop`)
    return conn


def drive(awaitable: Awaitable[T]) -> T:
    """Run an awaitable that never suspends (all its awaits are on `_DirectConnection`)."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    steps.close()
    raise RuntimeError("a SQLite transaction body awaited something other than the database")


class _DirectConnection(Connection):
    """Runs statements right away on the calling thread; its coroutines complete without suspending."""

    engine = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            return self._conn.execute(_to_sqlite(sql), args).rowcount
        except _REFUSED as exc:
            raise refused_value(exc) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(_to_sqlite(sql), rows)
        except _REFUSED as exc:
            raise refused_value(exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = self._conn.execute(_to_sqlite(sql), args).fetchall()
        except _REFUSED as exc:
            raise refused_value(exc) from exc
        return rows


async def _catch_up(conn: Connection) -> None:
    """The body of a `catch_up` job: never run; the writer answers it once the deferred work is done."""


class _Job:
    __slots__ = ("body", "future", "loop")

    def __init__(self, body: Body[Any], future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.body, self.future, self.loop = body, future, loop


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, error in outcomes:
        _settle(job.future, result, error)


def _answer(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Hand outcomes to their event loops from the writer thread: one wake-up per loop, not per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle_all, settled)


class SqliteDatabase(Database):
    engine = "sqlite"

    def __init__(self, path: Path, synchronous: str, readers: int = 4) -> None:
        self._path = path
        self._synchronous = synchronous
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer_thread: threading.Thread | None = None
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="hubbub-sqlite-reader")
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._closed = False
        self._checkpointer_thread: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        self._written = 0
        """Write jobs since the checkpointer last started (the writer counts, the checkpointer resets)."""
        self._finish_checkpoint = False
        """The checkpointer copied the bulk while writes went on: the writer copies the rest."""
        self._deferred: list[Body[bool]] = []
        self._members: dict[str, tuple[str, ...]] = {}
        """The writer connection's `active_members` (only the writer thread touches it)."""
        self._versions: tuple[int, int] | None = None
        """`_VERSIONS` when the writer last made `_members` true; None: make it true again."""
        self._since_deferred = 1
        """Write jobs since the deferred work last ran; 1 at the start, for what the last process left."""

    @classmethod
    async def connect(cls, path: Path, *, synchronous: str = "NORMAL") -> SqliteDatabase:
        db = cls(path, synchronous.upper())
        writer = await asyncio.get_running_loop().run_in_executor(None, _open, path, db._synchronous)
        db._writer_thread = threading.Thread(
            target=db._write_loop, args=(writer,), name="hubbub-sqlite-writer", daemon=True
        )
        db._writer_thread.start()
        checkpointer = await asyncio.get_running_loop().run_in_executor(None, _open, path, db._synchronous)
        db._checkpointer_thread = threading.Thread(
            target=db._checkpoint_loop, args=(checkpointer,), name="hubbub-sqlite-checkpointer", daemon=True
        )
        db._checkpointer_thread.start()
        return db

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._checkpoint_due.set()
        for thread in (self._checkpointer_thread, self._writer_thread):  # the writer's close checkpoints last
            if thread is not None:
                await asyncio.get_running_loop().run_in_executor(None, thread.join)
        self._reader_pool.shutdown(wait=True)
        for conn in self._readers:
            conn.close()
        self._readers.clear()

    # -- writes --------------------------------------------------------------------------------------

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        direct = _DirectConnection(conn)
        conn.create_function("hubbub_members_changed", 1, self._members_changed)
        while True:
            try:
                job = self._jobs.get(timeout=_DEFERRED_SECONDS) if self._deferred_due() else self._jobs.get()
            except queue.Empty:  # a while since the last write: the deferred work now
                self._run_deferred(conn, direct, [])
                continue
            if job is None:
                break
            batch = [job]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            waiting = [job for job in batch if job.body is _catch_up]
            if waiting:
                batch = [job for job in batch if job.body is not _catch_up]
            if batch:
                # Counted before the callers hear of their commit: a `catch_up` they make next must
                # see that deferred work is due.
                self._since_deferred += len(batch)
                self._run_batch(conn, direct, batch)
                self._written += len(batch)
            if waiting or (self._deferred and self._since_deferred >= _DEFERRED_JOBS):
                self._run_deferred(conn, direct, waiting, to_the_end=stop)
            if self._finish_checkpoint:
                self._finish_checkpoint = False
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # the writer must go on: the next pass tries again
                    log.warning("SQLite checkpoint failed (the next one retries): %s", exc)
            if self._written >= _CHECKPOINT_JOBS:
                self._checkpoint_due.set()
            if stop:
                break
        if self._deferred_due():  # stopping: nothing left for the next start
            self._run_deferred(conn, direct, [], to_the_end=True)
        conn.close()

    def _checkpoint_loop(self, conn: sqlite3.Connection) -> None:
        """Checkpoint the WAL on a connection and thread of its own, so that copying pages into the
        database file and the two syncs never hold up a commit (with the writer doing it, a send
        that came during a checkpoint waited for all of it: W1's p99.9 doubled at 8,000 pages).

        A checkpoint copies the frames committed when it started; the WAL starts over from its
        beginning only once every frame is copied. Under steady writes new frames keep coming, so
        after each pass the writer copies the few that came meanwhile (`_finish_checkpoint`), after
        its next batch: that keeps the WAL at about `_CHECKPOINT_JOBS` sends' pages."""
        while not self._closed:
            self._checkpoint_due.wait(_CHECKPOINT_SECONDS)
            self._checkpoint_due.clear()
            if self._closed or not self._written:
                continue
            self._written = 0
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                log.warning("SQLite checkpoint failed (the next one retries): %s", exc)
                continue
            if self._written:  # commits came during the pass: the WAL restarts once they are copied too
                self._finish_checkpoint = True
        conn.close()

    # -- the writer's kept members -------------------------------------------------------------------
    #
    # Every send reads its thread's active participants, for the membership check and the event's
    # recipients. The writer keeps them per thread (`active_members` of its connection) instead:
    # - a statement on the writer's connection that changes participants drops the thread's entry
    #   (`_MEMBER_TRIGGERS`), committed or not;
    # - a rollback drops them all, since an entry may have been read from undone changes;
    # - each write transaction starts with `_begin`, which drops them all when another connection
    #   (another worker process, a command) committed since the last one (`data_version`), and
    #   puts the triggers back when the schema changed (a migration that recreated the table).
    # Until the participants table exists and has the triggers, nothing is kept.

    def _members_changed(self, thread_id: object) -> None:
        if isinstance(thread_id, str):
            self._members.pop(thread_id, None)

    def _forget_members(self, direct: _DirectConnection) -> None:
        """After a rollback: drop every kept entry; the next `_begin` checks the triggers again
        (creating them may have been undone)."""
        self._members.clear()
        self._versions = None
        direct.active_members = None

    def _begin(self, conn: sqlite3.Connection, direct: _DirectConnection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        data_version, schema_version = conn.execute(_VERSIONS).fetchone()
        versions = (data_version, schema_version)
        if versions == self._versions:
            return
        self._members.clear()
        if self._versions is None or self._versions[1] != schema_version:
            direct.active_members = None
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'participants'").fetchone():
                for sql in _MEMBER_TRIGGERS:
                    conn.execute(sql)
                direct.active_members = self._members
        self._versions = versions

    def _rollback(self, conn: sqlite3.Connection, direct: _DirectConnection) -> None:
        """End the transaction, if one is open, and drop the kept members. A failed `ROLLBACK` is
        left for the next `BEGIN` to report."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        self._forget_members(direct)

    def _run_batch(self, conn: sqlite3.Connection, direct: _DirectConnection, batch: list[_Job]) -> None:
        observer = self.observer
        started = time.perf_counter() if observer is not IGNORED else 0.0
        if observer is not IGNORED:
            observer.connections(1)
        try:
            outcomes = self._run_together(conn, direct, batch)
            if outcomes is None:
                outcomes = self._run_apart(conn, direct, batch)
        except sqlite3.Error as exc:
            log.exception("SQLite write batch failed")
            self._rollback(conn, direct)
            failure = Unavailable(f"Database error: {exc}")
            outcomes = [(job, None, failure) for job in batch]
        if observer is not IGNORED:
            observer.connections(-1)
            observer.transaction("write", time.perf_counter() - started)
            observer.batch(len(batch))
        _answer(outcomes)

    def _deferred_due(self) -> bool:
        return bool(self._deferred) and self._since_deferred > 0

    def _run_deferred(
        self, conn: sqlite3.Connection, direct: _DirectConnection, waiting: list[_Job], *, to_the_end: bool = False
    ) -> None:
        """Run each deferred body, one transaction at a time, while it has more to do and no write
        is waiting (or `to_the_end`). `waiting` holds `catch_up` jobs: answered when every body is
        done, or put back behind the writes that came meanwhile, for the next pass to finish.

        The count of writes since the last pass drops to 0 only once the pass is done: a
        `catch_up` made meanwhile must wait for it (its job queues behind it), not find nothing due."""
        unfinished, failure = False, None
        for body in self._deferred:
            more = True
            while more:
                started = time.perf_counter()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    more = drive(body(direct))
                    conn.execute("COMMIT")
                except Exception as exc:  # the writes go on; the next pass tries again
                    log.exception("SQLite deferred write failed")
                    self._rollback(conn, direct)
                    failure, more = Unavailable(f"Database error: {exc}"), False
                    break
                self._written += 1
                if self.observer is not IGNORED:
                    self.observer.transaction("write", time.perf_counter() - started)
                if more and not to_the_end and not self._jobs.empty():
                    unfinished = True
                    break
        if unfinished:  # due again after the next batch
            self._since_deferred = _DEFERRED_JOBS
            for job in waiting:
                self._jobs.put(job)
            return
        self._since_deferred = 0 if failure is None else 1  # a failed pass is tried again
        if waiting:
            _answer([(job, None, failure) for job in waiting])

    def _run_together(
        self, conn: sqlite3.Connection, direct: _DirectConnection, batch: list[_Job]
    ) -> list[tuple[_Job, Any, BaseException | None]] | None:
        """The batch in one transaction with no savepoint per job: the common case, where no job
        fails. A savepoint per job costs little by itself, but makes the full-text index flush its
        pending terms at each one (14 µs a send, measured while sends wrote the index; edits still
        do). When a job raises, everything is rolled back and None returned, for `_run_apart` to do
        again; a batch of one job just failed."""
        self._begin(conn, direct)
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        for job in batch:
            try:
                result = drive(job.body(direct))
            except Exception as exc:
                self._rollback(conn, direct)
                return [(job, None, exc)] if len(batch) == 1 else None
            outcomes.append((job, result, None))
        conn.execute("COMMIT")
        return outcomes

    def _run_apart(
        self, conn: sqlite3.Connection, direct: _DirectConnection, batch: list[_Job]
    ) -> list[tuple[_Job, Any, BaseException | None]]:
        """The batch again, each job in a savepoint of one transaction: a job that raises is undone
        alone. Bodies are functions of the database only, so running one twice is safe."""
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        self._begin(conn, direct)
        for job in batch:
            conn.execute("SAVEPOINT job")
            try:
                result = drive(job.body(direct))
            except Exception as exc:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                self._members.clear()  # the triggers were made before the savepoint: still there
                outcomes.append((job, None, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((job, result, None))
        conn.execute("COMMIT")
        return outcomes

    async def write(self, body: Body[T]) -> T:
        if self._closed:
            raise Unavailable("The database is closed.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(body, future, loop))
        return await future

    async def defer(self, body: Body[bool]) -> None:
        self._deferred.append(body)
        await self.catch_up()  # what the last process left (the writer may be idle: it is woken)

    async def catch_up(self) -> None:
        if not self._deferred_due():
            return
        if self._closed:
            raise Unavailable("The database is closed.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._jobs.put(_Job(_catch_up, future, loop))
        await future

    # -- reads ---------------------------------------------------------------------------------------

    def _reader(self) -> _DirectConnection:
        direct: _DirectConnection | None = getattr(self._local, "direct", None)
        if direct is None:
            conn = _open(self._path, self._synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._readers.append(conn)
            direct = self._local.direct = _DirectConnection(conn)
        return direct

    async def read(self, body: Body[T]) -> T:
        if self._closed:
            raise Unavailable("The database is closed.")

        observer = self.observer

        def call() -> T:
            if observer is IGNORED:
                return drive(body(self._reader()))
            observer.connections(1)
            started = time.perf_counter()
            try:
                return drive(body(self._reader()))
            finally:
                observer.connections(-1)
                observer.transaction("read", time.perf_counter() - started)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._reader_pool, call)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"Database error: {exc}") from exc

    async def _run_script(self, tx: Connection, sql: str) -> None:
        # Statements end at a `;` that completes one (sqlite3.complete_statement), so a trigger
        # body's inner `;` does not split it.
        statement = ""
        for line in sql.splitlines():
            statement += line.split("--", 1)[0] + "\n"
            if sqlite3.complete_statement(statement):
                if statement.strip().strip(";").strip():
                    await tx.execute(statement)
                statement = ""
        if statement.strip():
            await tx.execute(statement)
