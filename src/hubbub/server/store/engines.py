"""Which engine the settings select, and opening it.

Kept apart from `engine.py` (the interface both engines implement and import), so the engines import
the interface and this module imports the engines: no cycle. An engine's driver is imported only
when that engine is configured (asyncpg is not needed for SQLite).

Everything outside the store speaks of "the embedded database" (a file in the data directory) and
"a database server" (`database_url`); only this module knows that they are SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hubbub.server.settings import Settings
from hubbub.server.store import search
from hubbub.server.store.engine import Database

EMBEDDED_FILE = "hubbub.db"
"""The embedded database's file name inside the data directory."""
SERVER_SCHEMES = ("postgres://", "postgresql://")


class DatabaseMissing(Exception):
    """The embedded database file does not exist, and the caller asked not to create it."""


def uses_database_server(settings: Settings) -> bool:
    """Whether the settings name a database server (PostgreSQL) rather than the embedded file."""
    return bool(settings.database_url) and settings.database_url.startswith(SERVER_SCHEMES)  # type: ignore[union-attr]


def embedded_path(settings: Settings) -> Path:
    """Where the embedded database (SQLite) lives: a file in the data directory."""
    return settings.data_dir / EMBEDDED_FILE


log = logging.getLogger("hubbub.store")


def describe_database(settings: Settings) -> str:
    """The configured database, for the startup banner and the commands' messages."""
    return "PostgreSQL" if uses_database_server(settings) else f"SQLite ({embedded_path(settings)})"


def require_database(settings: Settings) -> None:
    """Raise `DatabaseMissing` when the embedded database file is not there (a wrong --data-dir)."""
    if not uses_database_server(settings) and not embedded_path(settings).is_file():
        raise DatabaseMissing(f"there is no SQLite database at {embedded_path(settings)} (is --data-dir right?)")


async def open_database(settings: Settings, *, migrate: bool = True, create: bool = True) -> Database:
    """Connect to the configured engine and bring its schema up to date.

    With `create=False` a missing embedded database raises `DatabaseMissing` instead of being
    created (the commands that only read or change an existing one).
    """
    db: Database
    if uses_database_server(settings):
        from hubbub.server.store.postgres import PostgresDatabase

        db = await PostgresDatabase.connect(settings.database_url or "")
    else:
        from hubbub.server.store.sqlite import SqliteDatabase

        if not create:
            require_database(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = await SqliteDatabase.connect(embedded_path(settings), synchronous=settings.database_synchronous)
    if migrate:
        await db.migrate()
        await search.backfill(db, _LoggedProgress())
        await search.start_indexing(db)
    return db


class _LoggedProgress:
    """The search backfill's progress, in the server log: at each tenth of the way."""

    def __init__(self) -> None:
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != self._shown:
            self._shown = tenth
            log.info("search index: %d of %d messages indexed", done, total)
