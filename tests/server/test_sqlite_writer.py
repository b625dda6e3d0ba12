"""The SQLite writer's group commit: jobs that succeed commit together, a job that fails is undone alone.

The writer runs a batch of queued write jobs in one transaction with no savepoint per job, and
when one raises, rolls the batch back and runs it again with a savepoint per job. Either way each
job's outcome must be what it would have been alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hubbub.server.store.engine import Connection
from hubbub.server.store.sqlite import SqliteDatabase


class Refused(Exception):
    pass


async def _db(tmp_path: Path) -> SqliteDatabase:
    db = await SqliteDatabase.connect(tmp_path / "writer.db")
    await db.execute("CREATE TABLE items (n INTEGER PRIMARY KEY)")
    return db


def _insert(n: int, fail: bool = False):  # type: ignore[no-untyped-def]
    async def body(tx: Connection) -> int:
        await tx.execute("INSERT INTO items (n) VALUES ($1)", n)
        if fail:
            raise Refused(n)  # after writing: the row must not stay
        return n

    return body


async def test_a_failing_job_is_undone_alone_and_the_others_commit(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        for _ in range(5):  # several rounds, so some land in batches and some alone
            base = int(await db.fetchval("SELECT COALESCE(MAX(n), 0) FROM items")) + 100
            jobs = [db.write(_insert(base + i, fail=i % 7 == 3)) for i in range(40)]
            results = await asyncio.gather(*jobs, return_exceptions=True)
            for i, result in enumerate(results):
                if i % 7 == 3:
                    assert isinstance(result, Refused) and result.args == (base + i,)
                else:
                    assert result == base + i
            rows = {row[0] for row in await db.fetch("SELECT n FROM items WHERE n >= $1", base)}
            assert rows == {base + i for i in range(40) if i % 7 != 3}
    finally:
        await db.close()


async def test_a_lone_failing_job_leaves_nothing(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        with pytest.raises(Refused):
            await db.write(_insert(1, fail=True))
        assert await db.write(_insert(2)) == 2
        assert [row[0] for row in await db.fetch("SELECT n FROM items")] == [2]
    finally:
        await db.close()


async def test_a_constraint_violation_fails_only_its_job(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        await db.write(_insert(1))
        results = await asyncio.gather(
            db.write(_insert(2)), db.write(_insert(1)), db.write(_insert(3)), return_exceptions=True
        )
        assert results[0] == 2 and results[2] == 3
        assert isinstance(results[1], Exception)
        assert sorted(row[0] for row in await db.fetch("SELECT n FROM items")) == [1, 2, 3]
    finally:
        await db.close()


async def test_the_wal_stays_bounded_under_steady_writes(tmp_path: Path) -> None:
    """Checkpoints run on a thread of their own while writes go on; the WAL must still start over
    (the writer copies what came during each pass), not grow with everything ever written."""
    db = await SqliteDatabase.connect(tmp_path / "writer.db")
    await db.execute("CREATE TABLE items (n INTEGER PRIMARY KEY, filler TEXT)")
    wal = tmp_path / "writer.db-wal"
    filler = "x" * 3000  # about a page per row

    async def sender(first: int) -> None:
        for n in range(first, first + 1250):
            await db.write(lambda tx, n=n: tx.execute("INSERT INTO items VALUES ($1, $2)", n, filler))

    await asyncio.gather(*(sender(i * 10_000) for i in range(16)))  # 20,000 rows, never a pause
    written = await db.read(lambda conn: conn.fetchval("SELECT COUNT(*) FROM items"))
    size = wal.stat().st_size
    await db.close()
    assert written == 20_000
    # Without the restarts the WAL holds every page written: 390 MB here (measured); with them, 24-27 MB.
    assert size < 100_000_000, size
