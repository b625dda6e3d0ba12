"""The engine layer: the real differences between SQLite and PostgreSQL, behind one interface.

SQL is written once, PostgreSQL style (`$1`, `$2`, …); the SQLite engine rewrites placeholders to
`?1`, `?2`. Times are integer microseconds since the epoch and JSON is stored as text, so both
engines hold the same values.
"""

from __future__ import annotations

import abc
import importlib.resources
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from hubbub.server.errors import BadRequest

T = TypeVar("T")
log = logging.getLogger("hubbub.store")


def refused_value(exc: BaseException) -> BadRequest:
    """A value the driver cannot store (a NUL in text, an integer past 64 bits), as a 400.

    The API validates input before it reaches the store, so this is a missed check: it is logged
    (the fuzz test fails on the line) and answered the same on both engines.
    """
    log.warning("database refused a value the API let through: %s", exc)
    return BadRequest("A value in the request cannot be stored.")


class Row(Protocol):
    """A result row: indexable by position and by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Connection(abc.ABC):
    """What store functions run SQL against: the database (autocommit) or an open transaction."""

    engine: str
    """The engine's name, for the few store functions whose SQL differs between engines."""

    active_members: dict[str, tuple[str, ...]] | None = None
    """The active participants of threads read on this connection (`participants.active_user_ids`),
    where the engine keeps them true: it drops an entry whenever that thread's participants may
    have changed, committed or not. None: read them each time."""

    @abc.abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per parameter row."""

    @abc.abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query and return all rows."""

    async def fetch_planned_per_call(self, sql: str, *args: Any) -> list[Row]:
        """`fetch`, with the query planned for these argument values on every call.

        For a query whose best plan depends on its values (a search for a rare word wants the
        word's index, one for a common word the newest messages of each thread). An engine that
        keeps one plan per prepared statement could otherwise settle on a plan made without the
        values and keep it for every value. This engine does not: a plain `fetch`."""
        return await self.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]


class DatabaseObserver:
    """Told what an engine does, for metrics (`server/metrics.py`). This one ignores it all.

    The SQLite engine calls it from its writer thread too: an implementation must be thread-safe
    and must not block. An engine skips its timing when its observer is `IGNORED`.
    """

    def transaction(self, kind: str, seconds: float) -> None:
        """A `read` or `write` transaction took `seconds`, from taking a connection to giving it back."""

    def batch(self, size: int) -> None:
        """One commit made `size` write transactions durable together (SQLite's group commit)."""

    def connections(self, delta: int) -> None:
        """Connections in use went up (+1: taken for a transaction) or down (-1: given back)."""


IGNORED = DatabaseObserver()


class Database(Connection):
    """A connected database.

    Use cases pass a *body*, an async function of a `Connection`, to `write` (one transaction,
    committed when the body returns, rolled back when it raises) or to `read`. A body awaits only
    the connection it is given: the SQLite engine runs it on its own thread.
    """

    engine: str
    observer: DatabaseObserver = IGNORED
    """Set by the app when metrics are on."""
    data_modifying_with = False
    """Whether a `WITH` clause may hold `UPDATE`/`INSERT ... RETURNING` (PostgreSQL: yes; SQLite:
    no): a use case that reads, writes and reads again can then be one statement, one round trip."""
    skip_locked = ""
    """Appended to a `SELECT` that picks rows to claim inside a write: on PostgreSQL `FOR UPDATE SKIP
    LOCKED`, so concurrent claimers on several nodes take different rows; SQLite's single writer
    already runs claims one after another."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def write(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `body` in a transaction and return its result once committed."""

    @abc.abstractmethod
    async def read(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `body` on a connection that sees every committed write."""

    async def defer(self, body: Callable[[Connection], Awaitable[bool]]) -> None:
        """Have `body` run after writes instead of in them: in write transactions of its own, after
        a number of writes, a moment after the last one, and for `catch_up`; each time again while
        it returns True (more is left). It runs once before this returns, for what an earlier
        process left. Only an engine whose writes go through one writer offers it."""
        raise NotImplementedError(f"the {self.engine} engine runs no deferred work")

    async def catch_up(self) -> None:
        """Return once the work `defer`red for every write committed so far is done, so that a read
        that depends on it sees those writes. Without deferred work: at once."""

    async def write_statement(self, sql: str, *args: Any) -> list[Row]:
        """Run one statement that writes, atomically, and return its rows once committed."""
        return await self.write(lambda tx: tx.fetch(sql, *args))

    async def write_grouped(self, many_sql: str, one_sql: str, *args: Any) -> Row:
        """Run `one_sql`, one statement that writes, and return its first row once committed.

        An engine with group commit (PostgreSQL, `store/group_commit.py`) may instead run
        `many_sql` once for many concurrent callers: the same statement with each parameter an
        array holding one element per caller, returning one row per caller in that order, each the
        row `one_sql` would have returned had the callers run one after another.
        """
        return (await self.write_statement(one_sql, *args))[0]

    async def execute(self, sql: str, *args: Any) -> int:
        return await self.write(lambda tx: tx.execute(sql, *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.write(lambda tx: tx.executemany(sql, rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self.read(lambda conn: conn.fetch(sql, *args))

    async def ping(self) -> None:
        """Raise when the database does not answer a trivial query (`/health/ready`)."""
        await self.fetchval("SELECT 1")

    async def migrate(self) -> int:
        """Apply the schema files newer than the stored version; return the resulting version."""

        async def body(tx: Connection) -> int:
            await self._lock_for_migration(tx)
            await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            # Every file not yet applied, not only those past the newest: a database made between
            # two features that took neighbouring numbers on different branches still gets both.
            applied = {int(row[0]) for row in await tx.fetch("SELECT version FROM schema_version")}
            for version, sql in schema_files(self.engine):
                if version not in applied:
                    await self._run_script(tx, sql)
                    await tx.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
                    applied.add(version)
            return max(applied, default=0)

        return await self.write(body)

    async def _lock_for_migration(self, tx: Connection) -> None:
        """Keep concurrent nodes from migrating at once (SQLite's writer lock already does)."""

    @abc.abstractmethod
    async def _run_script(self, tx: Connection, sql: str) -> None: ...


_SCHEMA_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+(?:\.(sqlite|postgres))?\.sql$")


def schema_files(engine: str) -> list[tuple[int, str]]:
    """Numbered schema files for an engine; `NNNN_x.<engine>.sql` replaces `NNNN_x.sql`."""
    chosen: dict[int, tuple[bool, str]] = {}
    for entry in importlib.resources.files("hubbub.server.store.schema").iterdir():
        match = _SCHEMA_NAME.match(entry.name)
        if not match or match.group(2) not in (None, engine):
            continue
        version, specific = int(match.group(1)), match.group(2) is not None
        if version not in chosen or specific:
            chosen[version] = (specific, entry.read_text(encoding="utf-8"))
    return [(version, sql) for version, (_, sql) in sorted(chosen.items())]
