"""New messages enter the search index after their commit (schema 0005, `store.search.index_pending`).

In process, on both engines, through the store and the engine as the rules use them: a search made
after a send finds it (`Database.catch_up`), edits and deletes made before the index caught up are
indexed as they are by then, and the index never holds a row twice. On the embedded database the
writer also indexes on its own (a moment after the last write), a reused rowid is indexed, what a
stopped process left is indexed by the next, and a backlog bigger than one batch is indexed in
several transactions while writes go on.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _services import ENGINES, PostgresCluster
from hubbub.server.settings import Settings
from hubbub.server.store import Connection, Database
from hubbub.server.store import messages as message_store
from hubbub.server.store import search as search_store
from hubbub.server.store.engines import open_database

THREAD = "19:after-commit@thread.v2"


async def _open_embedded(path: Path) -> Database:
    return await open_database(Settings(data_dir=path, http_port=None, https_port=None))


@pytest.fixture(params=ENGINES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database: Database
    if request.param == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database()
        database = await open_database(Settings(data_dir=tmp_path, database_url=url, http_port=None, https_port=None))
    else:
        database = await _open_embedded(tmp_path)
    await _thread(database)
    yield database
    await database.close()


async def _thread(db: Database) -> None:
    async def body(tx: Connection) -> None:
        await tx.execute(
            "INSERT INTO threads (id, topic, created_at, created_by, last_message_at) VALUES ($1, 't', 1, 'u', 1)",
            THREAD,
        )
        await tx.execute(
            "INSERT INTO participants (thread_id, user_id, added_at, visible_from) VALUES ($1, 'u', 1, 0)", THREAD
        )

    await db.write(body)


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Database]:
    database = await _open_embedded(tmp_path)
    await _thread(database)
    yield database
    await database.close()


async def _send(db: Database, content: str, type: str = "text") -> int:
    sent = await message_store.send_message(
        db, THREAD, "u", type=type, sender_display_name=None, content=content, metadata=None, now=time.time_ns() // 1000
    )
    assert sent is not None
    return sent.message_id


async def _found(db: Database, word: str) -> list[int]:
    await db.catch_up()
    matches = await db.read(lambda conn: search_store.find_matches(conn, "u", [THREAD], [word], skip=0, limit=50))
    return [match.message_id for match in matches]


async def _indexed_rows(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM message_index"))


async def test_a_search_finds_what_was_sent_before_it(db: Database) -> None:
    first = await _send(db, "the heron lands")
    assert await _found(db, "heron") == [first]
    second = await _send(db, "a second heron")  # right after a search: nothing left over from the last one
    assert await _found(db, "heron") == [second, first]
    html = await _send(db, "<p>egret <b>wades</b></p>", type="html")
    assert await _found(db, "wades") == [html]
    assert await _found(db, "p") == []  # html by its text


async def test_edits_and_deletes_before_indexing_are_indexed_as_they_are(db: Database) -> None:
    edited = await _send(db, "draft wording")
    deleted = await _send(db, "draft regret")
    kept = await _send(db, "draft kept")
    now = time.time_ns() // 1000

    async def change(tx: Connection) -> None:
        await message_store.update_message(
            tx, THREAD, edited, content="final wording", metadata=None, edited_at=now, version=now
        )
        await message_store.delete_message(tx, THREAD, deleted, deleted_at=now, version=now + 1)

    await db.write(change)
    assert await _found(db, "draft") == [kept]
    assert await _found(db, "final") == [edited]
    assert await _found(db, "regret") == []
    # And after indexing, through the triggers.
    await db.write(
        lambda tx: message_store.update_message(
            tx, THREAD, kept, content="kept, amended", metadata=None, edited_at=now + 2, version=now + 2
        )
    )
    assert await _found(db, "draft") == []
    assert await _found(db, "amended") == [kept]
    if db.engine == "sqlite":
        assert await _indexed_rows(db) == 2  # one row per live message, none twice


async def test_the_writer_indexes_a_moment_after_the_last_write(embedded: Database) -> None:
    db = embedded
    await _send(db, "nobody searches for this")
    deadline = time.monotonic() + 5
    while await _indexed_rows(db) == 0:
        assert time.monotonic() < deadline, "the writer did not index the new message on its own"
        await asyncio.sleep(0.05)


async def test_a_rowid_given_again_is_indexed(embedded: Database) -> None:
    db = embedded
    old = [await _send(db, f"gannet {i}") for i in range(3)]
    assert await _found(db, "gannet") == old[::-1]
    # Removing the newest rows (as deleting a thread does) makes SQLite give their rowids again.
    await db.execute("DELETE FROM messages WHERE thread_id = $1 AND id >= $2", THREAD, old[1])
    new = await _send(db, "puffin")
    assert await db.fetchval("SELECT rowid FROM messages WHERE id = $1", new) == 2
    assert await _found(db, "puffin") == [new]
    assert await _found(db, "gannet") == old[:1]
    assert await _indexed_rows(db) == 2


async def test_stopping_indexes_what_is_left_and_a_crash_leaves_it_to_the_next_start(tmp_path: Path) -> None:
    db = await _open_embedded(tmp_path)
    await _thread(db)
    await _send(db, "the last word")
    await db.close()  # at once, before the writer's own pass: closing finishes it
    conn = sqlite3.connect(tmp_path / "hubbub.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM message_index").fetchone() == (1,)
        # A message committed by a process that then died, before its writer indexed it.
        conn.execute(
            "INSERT INTO messages (thread_id, id, seq, type, sender_id, content, created_at, version)"
            " VALUES (?, 1, -1, 'text', 'u', 'a word from beyond', 1, 1)",
            (THREAD,),
        )
        conn.commit()
    finally:
        conn.close()
    db = await _open_embedded(tmp_path)
    try:
        assert len(await _found(db, "word")) == 2
        assert await _found(db, "beyond") == [1]
    finally:
        await db.close()


async def test_a_backlog_is_indexed_in_batches_while_writes_go_on(
    embedded: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = embedded
    caplog.set_level(logging.INFO, logger="hubbub.store")
    monkeypatch.setattr(search_store, "_backlog_logged", 0.0)  # not held back by an earlier line
    backlog = search_store.INDEX_BATCH * 3 + 500

    async def load(tx: Connection) -> None:  # messages written around the server, as an import would
        await tx.executemany(
            "INSERT INTO messages (thread_id, id, seq, type, sender_id, content, created_at, version)"
            " VALUES ($1, $2, -$2, 'text', 'u', $3, $2, $2)",
            [(THREAD, i, f"bulk {i} {'osprey' if i % 1000 == 0 else 'tern'}") for i in range(1, backlog + 1)],
        )

    await db.write(load)
    live: list[int] = []
    searched = False

    async def keep_sending() -> None:
        while not searched:
            live.append(await _send(db, f"live {len(live)}"))

    sender = asyncio.create_task(keep_sending())
    assert len(await _found(db, "osprey")) == backlog // 1000
    sent_meanwhile, searched = len(live), True
    await sender
    assert sent_meanwhile >= 2  # the writer took the sends between the index's batches
    assert len(await _found(db, "live")) == min(len(live), 50)
    assert await _indexed_rows(db) == backlog + len(live)
    assert "search index: indexing new messages, about" in caplog.text  # a long catch-up says so


async def test_a_search_during_the_writers_own_pass_waits_for_it(tmp_path: Path) -> None:
    from hubbub.server.store.sqlite import SqliteDatabase

    db = await SqliteDatabase.connect(tmp_path / "hubbub.db")
    started, release = threading.Event(), threading.Event()
    passes: list[int] = []

    async def slow_second_pass(tx: Connection) -> bool:  # runs on the writer thread
        passes.append(1)
        if len(passes) == 2:
            started.set()
            release.wait(5)
        return False

    try:
        await db.defer(slow_second_pass)  # the first pass runs now
        assert passes == [1]
        await db.execute("CREATE TABLE t (x INTEGER)")  # a write: a pass is due half a second later
        # The writer's own pass is under way ...
        assert await asyncio.to_thread(started.wait, 5)
        caught_up = asyncio.create_task(db.catch_up())
        await asyncio.sleep(0.2)
        assert not caught_up.done()  # ... so a search made now waits for it to finish
        release.set()
        await asyncio.wait_for(caught_up, 5)
    finally:
        release.set()
        await db.close()
