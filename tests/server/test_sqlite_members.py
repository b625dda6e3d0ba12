"""The SQLite writer's kept members (`Connection.active_members`): never a participant too many or
too few, whoever changed them and however the change ended.

Each send reads its thread's active participants on the writer. The writer keeps them per thread
and must drop what may have changed: changes through itself (committed or rolled back, whole or to
a savepoint), commits by another connection (another worker process), and a schema change that
recreated the table its triggers watch.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hubbub.server.domain import Participant
from hubbub.server.store import participants as participant_store
from hubbub.server.store.engine import Connection
from hubbub.server.store.sqlite import SqliteDatabase

THREAD = "19:kept@thread.v2"


class Refused(Exception):
    pass


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = await SqliteDatabase.connect(tmp_path / "members.db")
    await database.migrate()
    await database.execute(
        "INSERT INTO threads (id, topic, created_at, created_by, last_message_at) VALUES ($1, 't', 0, 'a', 0)", THREAD
    )
    for user in ("a", "b"):
        await database.write(functools.partial(_add, user=user))
    yield database
    await database.close()


async def _add(tx: Connection, user: str) -> None:
    await participant_store.upsert_participant(tx, THREAD, Participant(user_id=user), now=1)


async def _members(db: SqliteDatabase) -> set[str]:
    """The members as the writer sees them, and a check that it kept them (or the test tests nothing)."""

    async def body(tx: Connection) -> set[str]:
        members = set(await participant_store.active_user_ids(tx, THREAD))
        assert tx.active_members is not None and THREAD in tx.active_members
        return members

    return await db.write(body)


async def test_changes_through_the_writer_are_seen_at_once(db: SqliteDatabase) -> None:
    assert await _members(db) == {"a", "b"}
    await db.write(lambda tx: participant_store.remove_participant(tx, THREAD, "b", 2))
    assert await _members(db) == {"a"}
    await db.write(lambda tx: _add(tx, "c"))
    assert await _members(db) == {"a", "c"}
    await db.execute("DELETE FROM participants WHERE thread_id = $1 AND user_id = 'a'", THREAD)
    assert await _members(db) == {"c"}


async def test_a_rolled_back_change_is_not_kept(db: SqliteDatabase) -> None:
    assert await _members(db) == {"a", "b"}

    async def add_read_and_fail(tx: Connection) -> None:
        await _add(tx, "d")
        assert "d" in await participant_store.active_user_ids(tx, THREAD)  # kept, uncommitted
        raise Refused

    with pytest.raises(Refused):
        await db.write(add_read_and_fail)
    assert await _members(db) == {"a", "b"}


async def test_a_job_undone_to_its_savepoint_leaves_nothing_kept(db: SqliteDatabase) -> None:
    """Batches of a failing job and readers: the batch runs again with a savepoint per job, and no
    reader, in that batch or after it, sees the failed job's participant."""

    async def add_read_and_fail(tx: Connection) -> None:
        await _add(tx, "d")
        await participant_store.active_user_ids(tx, THREAD)
        raise Refused

    async def read(tx: Connection) -> set[str]:
        return set(await participant_store.active_user_ids(tx, THREAD))

    for _ in range(20):
        results = await asyncio.gather(
            *(db.write(add_read_and_fail if i % 4 == 1 else read) for i in range(16)), return_exceptions=True
        )
        assert [r for i, r in enumerate(results) if i % 4 != 1] == [{"a", "b"}] * 12
        assert all(isinstance(r, Refused) for i, r in enumerate(results) if i % 4 == 1)
    assert await _members(db) == {"a", "b"}


async def test_a_commit_by_another_connection_is_seen_at_once(db: SqliteDatabase, tmp_path: Path) -> None:
    assert await _members(db) == {"a", "b"}
    other = sqlite3.connect(tmp_path / "members.db", isolation_level=None)
    try:
        other.execute("UPDATE participants SET removed_at = 5 WHERE thread_id = ? AND user_id = 'b'", (THREAD,))
        assert await _members(db) == {"a"}
        other.execute(
            "INSERT INTO participants (thread_id, user_id, added_at, visible_from) VALUES (?, 'e', 6, 6)", (THREAD,)
        )
        assert await _members(db) == {"a", "e"}
    finally:
        other.close()


async def test_the_triggers_come_back_after_the_table_is_recreated(db: SqliteDatabase) -> None:
    """A migration that rebuilds `participants` drops the writer's triggers with the old table."""
    assert await _members(db) == {"a", "b"}

    async def rebuild(tx: Connection) -> None:
        await tx.execute("CREATE TABLE participants_new AS SELECT * FROM participants")
        await tx.execute("DROP TABLE participants")
        await tx.execute("ALTER TABLE participants_new RENAME TO participants")

    await db.write(rebuild)
    assert await _members(db) == {"a", "b"}
    await db.write(lambda tx: participant_store.remove_participant(tx, THREAD, "a", 7))
    assert await _members(db) == {"b"}
