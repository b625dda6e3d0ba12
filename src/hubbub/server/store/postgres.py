"""PostgreSQL engine on asyncpg: a connection pool; a write body runs in one transaction.

asyncpg prepares and caches each statement per connection, so repeated queries skip planning.
`write_grouped` statements (a send) commit in groups (`store/group_commit.py`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from hubbub.server.errors import Unavailable
from hubbub.server.store.engine import IGNORED, Connection, Database, Row, refused_value
from hubbub.server.store.group_commit import RunMany, StatementGroup

T = TypeVar("T")
_MIGRATION_LOCK_KEY = 0x4855_4242  # "HUBB": one migrating node at a time
_DRIVER_ERRORS = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shut down, starting up, terminated
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
"""A connection lost, not to be had, or in a state it cannot be used in. A connection that
PostgreSQL ended while idle (a restart, `pg_terminate_backend`) can fail its next query with any of
`ConnectionDoesNotExistError`, `AdminShutdownError` or asyncpg's `InternalClientError` ("cannot
switch to state 12; another operation (2) is in progress"), depending on when the notice arrives:
each is `Unavailable` (503), and the connection is ended so the pool does not hand it out again."""


def _end(conn: Any) -> None:
    """End a pooled connection that failed (`_DRIVER_ERRORS`): the pool opens a new one in its
    place. One that closed itself went back to the pool already, and cannot be ended again."""
    with contextlib.suppress(asyncpg.exceptions.InterfaceError):
        conn.terminate()


async def _end_transaction(conn: Any) -> None:
    """What a connection needs before it goes back to the pool.

    asyncpg's default reset runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`,
    one more round trip per request, for session state Hubbub never creates (no LISTEN, cursors,
    SET or session advisory locks; the migration lock is transaction-scoped).
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class _PgConnection(Connection):
    engine = "postgres"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            status: str = await self._conn.execute(sql, *args)
        except asyncpg.exceptions.DataError as exc:
            raise refused_value(exc) from exc
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetch_planned_per_call(self, sql: str, *args: Any) -> list[Row]:
        """`fetch` under `plan_cache_mode = force_custom_plan`, set for this transaction only.

        asyncpg runs every query as a prepared statement. After five executions PostgreSQL may
        switch a prepared statement to its generic plan, made without the parameter values, and
        keep it: after searches for rare words (which want the words' GIN index), a search for a
        word in every message took that plan too: 3.7 s instead of 31 ms on W6's database (1 M
        messages). Two more round trips (the SET, and a BEGIN/COMMIT pair outside a transaction)
        are small next to a search."""
        conn = self._conn
        if conn.is_in_transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            return await self.fetch(sql, *args)
        async with conn.transaction(readonly=True):
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            return await self.fetch(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except asyncpg.exceptions.DataError as exc:
            raise refused_value(exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = await self._conn.fetch(sql, *args)
        except asyncpg.exceptions.DataError as exc:
            raise refused_value(exc) from exc
        return rows


class PostgresDatabase(Database):
    engine = "postgres"
    data_modifying_with = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._groups: dict[str, StatementGroup] = {}
        self._batch_connections: list[Any] = []
        """Connections kept for the groups' batches (`_batches`) while no batch runs."""
        self._closing = False

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 20) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, reset=_end_transaction)
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable(f"Cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        self._closing = True
        while self._batch_connections:
            await self._pool.release(self._batch_connections.pop())
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self, kind: str) -> AsyncIterator[Any]:
        """A pooled connection, timed for the observer when there is one. A connection lost or not
        to be had, while taking it or while using it, is `Unavailable` (503) for every caller."""
        observer = self.observer
        timed = observer is not IGNORED
        started = time.perf_counter() if timed else 0.0
        if timed:
            observer.connections(1)
        try:
            async with self._pool.acquire() as conn:
                try:
                    yield conn
                except _DRIVER_ERRORS:
                    _end(conn)
                    raise
        except _DRIVER_ERRORS as exc:
            raise Unavailable(f"Database error: {exc}") from exc
        finally:
            if timed:
                observer.connections(-1)
                observer.transaction(kind, time.perf_counter() - started)

    async def write(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        async with self._connection("write") as conn, conn.transaction():
            return await body(_PgConnection(conn))

    async def execute(self, sql: str, *args: Any) -> int:
        # One statement is its own transaction: no BEGIN and COMMIT round trips.
        async with self._connection("write") as conn:
            return await _PgConnection(conn).execute(sql, *args)

    async def write_statement(self, sql: str, *args: Any) -> list[Row]:
        # One statement is its own transaction: no BEGIN and COMMIT round trips.
        async with self._connection("write") as conn:
            return await _PgConnection(conn).fetch(sql, *args)

    async def write_grouped(self, many_sql: str, one_sql: str, *args: Any) -> Row:
        group = self._groups.get(many_sql)
        if group is None:
            group = StatementGroup(many_sql, self._batches, self._run_one, batch_seen=self._batch_seen)
            self._groups[many_sql] = group
        return await group.run(one_sql, args)

    @contextlib.asynccontextmanager
    async def _batches(self) -> AsyncIterator[RunMany]:
        """A connection for a group's batches (`group_commit.Session`); each batch is one write
        transaction for the observer.

        The connection is kept for the next drainer rather than given back to the pool (until it
        fails, or the database closes): in W1 the drainer's queue empties with every batch (each
        sender waits for its answer), and taking a connection from the pool and giving it back cost
        2.4-3.3 µs a send (bench.inproc, PostgreSQL + Redis, 8 senders). At most one per group and
        drainer is kept (two groups, one drainer each): the pool has that many fewer for the rest."""
        observer = self.observer
        if observer is not IGNORED:
            observer.connections(1)
        failed = False
        try:
            try:
                conn = self._batch_connections.pop() if self._batch_connections else await self._pool.acquire()
            except _DRIVER_ERRORS as exc:
                raise Unavailable(f"Database error: {exc}") from exc

            async def run_many(sql: str, columns: list[list[Any]]) -> list[Row]:
                # Not `_PgConnection.fetch`: a refused value (DataError) stays a PostgresError,
                # which makes the group retry row by row.
                nonlocal failed
                started = time.perf_counter()
                try:
                    rows: list[Row] = await conn.fetch(sql, *columns)
                except _DRIVER_ERRORS as exc:
                    failed = True
                    _end(conn)
                    raise Unavailable(f"Database error: {exc}") from exc
                finally:
                    if observer is not IGNORED:
                        observer.transaction("write", time.perf_counter() - started)
                return rows

            try:
                yield run_many
            except BaseException:  # cancelled in the middle of a batch: the pool tidies it up
                failed = True
                raise
            finally:
                if failed or self._closing:
                    with contextlib.suppress(*_DRIVER_ERRORS):
                        await self._pool.release(conn)
                else:
                    self._batch_connections.append(conn)
        finally:
            if observer is not IGNORED:
                observer.connections(-1)

    async def _run_one(self, sql: str, args: Sequence[Any]) -> list[Row]:
        return await self.write_statement(sql, *args)

    def _batch_seen(self, size: int) -> None:
        self.observer.batch(size)

    async def read(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        async with self._connection("read") as conn:
            return await body(_PgConnection(conn))

    async def _lock_for_migration(self, tx: Connection) -> None:
        await tx.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")

    async def _run_script(self, tx: Connection, sql: str) -> None:
        if any(line.split("--", 1)[0].strip() for line in sql.splitlines()):  # asyncpg fails on no statement
            await tx.execute(sql)
