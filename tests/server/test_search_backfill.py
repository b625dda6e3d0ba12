"""Upgrading a database that has messages to the search schema: the backfill indexes them, with progress.

In process, on both engines: a database at schema version 1 with messages written the way version 1
wrote them, then `migrate()` and the backfill that `open_database` (and `hubbub migrate` /
`hubbub reindex`) run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from _services import ENGINES, PostgresCluster
from hubbub.server.store import Connection, Database
from hubbub.server.store import search as search_store
from hubbub.server.store import threads as thread_store
from hubbub.server.store.engine import schema_files

THREAD = "19:backfill@thread.v2"
OTHER = "19:other@thread.v2"


@pytest.fixture(params=ENGINES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database: Database
    if request.param == "postgres":
        from hubbub.server.store.postgres import PostgresDatabase

        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        database = await PostgresDatabase.connect(cluster.create_database(), min_size=1, max_size=2)
    else:
        from hubbub.server.store.sqlite import SqliteDatabase

        database = await SqliteDatabase.connect(tmp_path / "hubbub.db")
    yield database
    await database.close()


async def _version_1_with_messages(db: Database) -> None:
    (version, init) = schema_files(db.engine)[0]
    assert version == 1

    async def body(tx: Connection) -> None:
        await tx.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        await db._run_script(tx, init)  # what migrate() runs for version 1
        await tx.execute("INSERT INTO schema_version (version) VALUES (1)")
        for thread_id in (THREAD, OTHER):
            await tx.execute(
                "INSERT INTO threads (id, topic, created_at, created_by, last_message_at) VALUES ($1, 't', 1, 'u', 1)",
                thread_id,
            )
        for thread_id, user_id, visible_from in ((THREAD, "u", 0), (OTHER, "u", 0), (THREAD, "late", 2)):
            await tx.execute(
                "INSERT INTO participants (thread_id, user_id, added_at, visible_from) VALUES ($1, $2, $3, $3)",
                thread_id,
                user_id,
                visible_from,
            )
        rows = [
            (THREAD, 1, "text", "the kettle is on", None),
            (THREAD, 2, "html", "<p>kettle <b>whistles</b></p>", None),
            (THREAD, 3, "text", "deleted kettle", 5),
            (THREAD, 4, "topicUpdated", '{"initiator":"u","topic":"kettle"}', None),
            (OTHER, 1, "text", "another kettle elsewhere", None),
            *[(THREAD, 10 + i, "text", f"filler {i}", None) for i in range(7)],
        ]
        for thread_id, i, type, content, deleted_at in rows:
            await tx.execute(
                "INSERT INTO messages (thread_id, id, seq, type, sender_id, content, created_at, deleted_at, version)"
                " VALUES ($1, $2, $2, $3, 'u', $4, $2, $5, $2)",
                thread_id,
                i,
                type,
                "" if deleted_at else content,
                deleted_at,
            )

    await db.write(body)


async def _found(db: Database, word: str, thread_id: str = THREAD, user_id: str = "u") -> list[int]:
    matches = await db.read(
        lambda conn: search_store.find_matches(conn, user_id, [thread_id], [word], skip=0, limit=50)
    )
    return [match.message_id for match in matches]


async def test_the_backfill_indexes_existing_messages_with_progress(db: Database) -> None:
    await _version_1_with_messages(db)
    assert await db.migrate() == max(version for version, _ in schema_files(db.engine))
    assert await _found(db, "kettle") == []  # not indexed until the backfill has run

    seen: list[tuple[int, int]] = []
    assert await search_store.backfill(db, lambda done, total: seen.append((done, total)), batch=4) == 12
    assert seen[-1] == (12, 12)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert all(total == 12 for _, total in seen)
    assert len(seen) >= 3  # one report per batch

    assert await _found(db, "kettle") == [2, 1]  # not the deleted one, not the system message
    assert await _found(db, "whistles") == [2]
    assert await _found(db, "p") == []  # html by its text, not its tags
    assert await _found(db, "kettle", OTHER) == [1]
    assert await _found(db, "kettle", user_id="late") == [2]
    assert await search_store.backfill(db) == 0  # nothing left to do

    # Reindexing from scratch (`hubbub reindex`) leaves the same index.
    await search_store.restart_backfill(db)
    assert await search_store.backfill(db, batch=5) == 12
    assert await _found(db, "kettle") == [2, 1]
    assert await _found(db, "whistles") == [2]


async def test_both_engines_reach_the_same_schema_version(db: Database) -> None:
    versions = {engine: [version for version, _ in schema_files(engine)] for engine in ("sqlite", "postgres")}
    assert versions["sqlite"] == versions["postgres"] == list(range(1, len(versions["sqlite"]) + 1))
    await _version_1_with_messages(db)
    assert await db.migrate() == versions[db.engine][-1]


async def test_the_postgres_search_index_keeps_no_pending_list(postgres_cluster: PostgresCluster) -> None:
    """GIN's pending list made one send in every few thousand merge it into the index, on a large
    database for up to 140 ms while every send waited (0004_search_fastupdate.postgres.sql)."""
    from hubbub.server.store.postgres import PostgresDatabase

    db = await PostgresDatabase.connect(postgres_cluster.create_database(), min_size=1, max_size=2)
    try:
        await _version_1_with_messages(db)
        await db.migrate()
        options = await db.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'messages_search'")
        assert "fastupdate=off" in options
        await search_store.backfill(db)
        assert await _found(db, "kettle") == [2, 1]
    finally:
        await db.close()


async def test_a_postgres_search_is_planned_for_its_words_every_time(postgres_cluster: PostgresCluster) -> None:
    """After five executions PostgreSQL may give a prepared statement its generic plan, made without
    the parameter values, and keep it. After searches for rare words (the words' index is the plan)
    a search for a word in every message got that plan too: 3.7 s on W6's database instead of 31 ms
    (`Connection.fetch_planned_per_call`)."""
    from hubbub.server.store.postgres import PostgresDatabase

    db = await PostgresDatabase.connect(postgres_cluster.create_database(), min_size=1, max_size=1)
    try:
        await _version_1_with_messages(db)
        await db.migrate()
        await search_store.backfill(db)
        words = ["kettle", "whistles", "filler", "another", "kettle", "0", "kettle", "whistles", "kettle", "1"]

        async def body(conn: Connection) -> list[Any]:
            for word in words:
                await search_store.find_matches(conn, "u", [THREAD, OTHER], [word], skip=0, limit=50)
            return await conn.fetch(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE $1",
                "%search_vector @@%",
            )

        plans = await db.read(body)  # one connection: its prepared statements
        assert len(plans) == 1
        assert plans[0]["generic_plans"] == 0 and plans[0]["custom_plans"] == len(words)
        assert await _found(db, "kettle") == [2, 1]  # and it still finds
    finally:
        await db.close()


async def test_deleting_a_thread_empties_its_index(db: Database) -> None:
    await _version_1_with_messages(db)
    await db.migrate()
    await search_store.backfill(db)
    await db.write(lambda tx: thread_store.mark_deleted(tx, THREAD, 99))  # thread delete and retention
    assert await _found(db, "kettle") == []
    assert await _found(db, "kettle", OTHER) == [1]
    if db.engine == "sqlite":
        left = await db.fetchval("SELECT COUNT(*) FROM message_index WHERE thread_id = $1", THREAD)
        assert left == 0


def test_migrate_and_reindex_commands_index_with_progress(tmp_path: Path) -> None:
    import sqlite3

    from click.testing import CliRunner

    from hubbub.cli import main

    path = tmp_path / "hubbub.db"
    conn = sqlite3.connect(path)
    conn.executescript(schema_files("sqlite")[0][1])
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "INSERT INTO threads (id, topic, created_at, created_by, last_message_at) VALUES (?, 't', 1, 'u', 1)", (THREAD,)
    )
    conn.executemany(
        "INSERT INTO messages (thread_id, id, seq, type, sender_id, content, created_at, version)"
        " VALUES (?, ?, ?, 'text', 'u', ?, ?, ?)",
        [(THREAD, i, i, f"ibis {i}", i, i) for i in range(1, 4)],
    )
    conn.commit()
    conn.close()

    env = {"HUBBUB_ACCESS_KEY": "a2V5"}
    migrated = CliRunner().invoke(main, ["migrate", "--data-dir", str(tmp_path)], env=env)
    assert migrated.exit_code == 0, migrated.output
    assert "Search index: 3 existing messages indexed." in migrated.output
    rebuilt = CliRunner().invoke(main, ["reindex", "--data-dir", str(tmp_path)], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Search index rebuilt: 3 messages." in rebuilt.output
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM message_index WHERE message_index MATCH 'ibis'").fetchone() == (3,)
    finally:
        conn.close()
