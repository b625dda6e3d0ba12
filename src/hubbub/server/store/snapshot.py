"""Consistent copies of the embedded database file, taken while a server writes to it.

`server/backup.py` packs a data directory into an archive and unpacks it again; what a consistent
copy of the database is, and how to tell a sound one, is the engine's business and lives here.

The copy uses SQLite's online backup API. The copying connection first opens a read transaction and
keeps it across every `backup` step: with WAL, that fixes one snapshot (everything committed before
it, so every request already answered 2xx) without blocking the server's writer, and the steps
never restart because of the server's commits. The copy is one self-contained file in rollback
journal mode. A database server (PostgreSQL) is copied with its own tools (`pg_dump`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from hubbub.server.store.engine import schema_files

ENGINE = "sqlite"
"""The engine a snapshot is of, as written into a backup's manifest."""
ENGINE_TITLE = "SQLite"
MAGIC = b"SQLite format 3\x00"
"""The first bytes of every database file."""
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
"""Files beside the database that belong to it; a stale WAL would be replayed onto a restored copy."""
REQUIRED_TABLES = frozenset({"schema_version", "identities", "threads", "participants", "messages", "read_receipts"})

Progress = Callable[[int, int], None]
"""Called after each backup step with (pages copied, total pages)."""


class SnapshotError(Exception):
    """A database file that cannot be copied or is not a sound Hubbub database; the message says why."""


class SchemaTooNew(SnapshotError):
    """The database was written by a newer Hubbub (its schema version is past this one's)."""

    def __init__(self, version: int, latest: int) -> None:
        super().__init__(f"the database has schema version {version}, newer than this Hubbub knows ({latest})")
        self.version, self.latest = version, latest


def latest_schema_version() -> int:
    return max(version for version, _ in schema_files(ENGINE))


def is_database_file(path: Path) -> bool:
    """Whether `path` starts like a database file (a bare copy rather than an archive)."""
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def database_in_use(path: Path) -> bool:
    """True when another connection (a running server, a `hubbub` command) has the database open.

    Every connection to a WAL database holds a shared lock on it for as long as it is open, even
    when idle, so an exclusive lock with no wait fails exactly while some process has it open.
    """
    if not path.exists():
        return False
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
    return False


def check_database(path: Path) -> int:
    """Verify that `path` is an intact Hubbub database this version can run; return its schema version."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)  # a scratch copy: WAL files may come and go
    except sqlite3.Error as exc:
        raise SnapshotError(f"{path} cannot be opened as a {ENGINE_TITLE} database: {exc}") from exc
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if problems != ["ok"]:
            raise SnapshotError(f"the database fails {ENGINE_TITLE}'s integrity check: {'; '.join(problems)}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = REQUIRED_TABLES - tables
        if missing:
            raise SnapshotError(f"not a Hubbub database: it has no {', '.join(sorted(missing))} table")
        version = int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"{path} is not a readable {ENGINE_TITLE} database: {exc}") from exc
    finally:
        conn.close()
    latest = latest_schema_version()
    if version > latest:
        raise SchemaTooNew(version, latest)
    if version < 1:
        raise SnapshotError("not a Hubbub database: its schema version is missing")
    return version


def copy_database(source: Path, target: Path, *, pages_per_step: int, progress: Progress | None = None) -> int:
    """Copy a live database with the backup API; return the number of pages copied.

    The source connection holds one read transaction across all steps (see the module docstring),
    so the copy is the snapshot at its start however much the server writes meanwhile.
    """
    try:
        src = sqlite3.connect(source, isolation_level=None, timeout=30)
        dst = sqlite3.connect(target, isolation_level=None)
    except sqlite3.Error as exc:
        raise SnapshotError(f"cannot open {source} for a copy: {exc}") from exc
    pages = 0
    try:
        src.execute("BEGIN")
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # starts the read transaction: the snapshot

        def step(status: int, remaining: int, total: int) -> None:
            nonlocal pages
            pages = total
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=pages_per_step, progress=step)
        src.execute("COMMIT")
        # One self-contained file: no -wal beside it in the archive.
        dst.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in dst.execute("PRAGMA quick_check(20)")]
        if problems != ["ok"]:
            raise SnapshotError(f"the copy fails {ENGINE_TITLE}'s quick check: {'; '.join(problems)}")
    except sqlite3.Error as exc:
        raise SnapshotError(f"copying {source} failed: {exc}") from exc
    finally:
        src.close()
        dst.close()
    return pages
