"""PostgreSQL engine on asyncpg: a connection pool, transactions on one pooled connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from hubbub.server.errors import Unavailable
from hubbub.server.store.engine import Connection, Database, Row

_MIGRATION_LOCK_KEY = 0x4855_4242  # "HUBB": one migrating node at a time


class _PgConnection(Connection):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self._conn.fetch(sql, *args)
        return rows


class PostgresDatabase(Database):
    engine = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 20) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable(f"Cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn).execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._pool.acquire() as conn:
            await conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = await self._pool.fetch(sql, *args)
        except (OSError, asyncpg.exceptions.ConnectionDoesNotExistError) as exc:
            raise Unavailable(f"Database error: {exc}") from exc
        return rows

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgConnection(conn)

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[Connection]:
        async with self.transaction() as tx:
            await tx.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            yield tx

    async def _run_script(self, tx: Connection, sql: str) -> None:
        await tx.execute(sql)
