"""Which engine the settings select, and opening it.

Kept apart from `engine.py` (the interface both engines implement and import), so the engines import
the interface and this module imports the engines: no cycle. An engine's driver is imported only
when that engine is configured (asyncpg is not needed for SQLite).
"""

from __future__ import annotations

import logging

from hubbub.server.settings import Settings
from hubbub.server.store import search
from hubbub.server.store.engine import Database

log = logging.getLogger("hubbub.store")


def describe_database(settings: Settings) -> str:
    """The configured database, for the startup banner."""
    return "PostgreSQL" if settings.uses_postgres else f"SQLite ({settings.sqlite_path})"


async def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Connect to the configured engine and bring its schema up to date."""
    db: Database
    if settings.uses_postgres:
        from hubbub.server.store.postgres import PostgresDatabase

        db = await PostgresDatabase.connect(settings.database_url or "")
    else:
        from hubbub.server.store.sqlite import SqliteDatabase

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = await SqliteDatabase.connect(settings.sqlite_path, synchronous=settings.sqlite_synchronous)
    if migrate:
        await db.migrate()
        await search.backfill(db, _LoggedProgress())
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
