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
from hubbub.server.store.group_commit import StatementGroup

T = TypeVar("T")
_MIGRATION_LOCK_KEY = 0x4855_4242  # "HUBB": one migrating node at a time
_DRIVER_ERRORS = (OSError, asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError)


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

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 20) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, reset=_end_transaction)
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable(f"Cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
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
                yield conn
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
            group = StatementGroup(many_sql, self._run_many, self._run_one, batch_seen=self._batch_seen)
            self._groups[many_sql] = group
        return await group.run(one_sql, args)

    async def _run_many(self, sql: str, columns: list[list[Any]]) -> list[Row]:
        # Not `_PgConnection.fetch`: a refused value (DataError) stays a PostgresError, which makes the
        # group retry row by row.
        async with self._connection("write") as conn:
            rows: list[Row] = await conn.fetch(sql, *columns)
            return rows

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
