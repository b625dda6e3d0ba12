"""PostgreSQL's group commit of sends (`store/group_commit.py`): concurrent sends share one statement,
and each gets what it would have got alone, in arrival order.

Checked against a real PostgreSQL: many sends at once into a few threads (with several sends of one
thread in each batch, clocks running behind the thread's last message, refused senders and a dead
thread mixed in), a value PostgreSQL refuses in one send of a batch, and the webhook outbox rows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from hubbub.server.domain import Participant
from hubbub.server.errors import BadRequest, Unavailable
from hubbub.server.store import messages as message_store
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store
from hubbub.server.store.engine import Connection
from hubbub.server.store.postgres import PostgresDatabase

pytestmark = pytest.mark.postgres

NOW = 1_800_000_000_000_000  # µs


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.connect(postgres_url)
    await database.migrate()
    yield database
    await database.close()


async def _thread(db: PostgresDatabase, thread_id: str, members: list[str], *, last_message_at: int = NOW) -> None:
    async def body(tx: Connection) -> None:
        await thread_store.insert_thread(
            tx,
            thread_id=thread_id,
            topic="t",
            created_at=last_message_at,
            created_by=members[0],
            metadata=None,
            retention_policy=None,
            delete_after=None,
        )
        for user in members:
            await participant_store.upsert_participant(tx, thread_id, Participant(user), now=NOW)

    await db.write(body)


async def _send(
    db: PostgresDatabase, thread_id: str, sender: str, content: str, now: int, event: bool = False
) -> message_store.SentMessage | None:
    return await message_store.send_message(
        db,
        thread_id,
        sender,
        type="text",
        sender_display_name=None,
        content=content,
        metadata={"k": content} if event else None,
        now=now,
        event_data={"content": content} if event else None,
    )


async def test_concurrent_sends_get_the_slots_they_would_get_one_after_another(db: PostgresDatabase) -> None:
    threads = {f"gc-{i}": [f"u{i}-{j}" for j in range(3)] for i in range(4)}
    for thread_id, members in threads.items():
        await _thread(db, thread_id, members)
    await _thread(db, "gc-dead", ["d-0"])
    await db.execute("UPDATE threads SET deleted_at = $1 WHERE id = 'gc-dead'", NOW)
    # The first thread's last message is in the future: its sends take ids and times after it.
    await db.execute("UPDATE threads SET last_message_id = $1, last_message_at = $2 WHERE id = 'gc-0'", NOW, NOW * 2)

    plan: list[tuple[str, str, int]] = []  # (thread, sender, now)
    for round_ in range(60):
        for i, (thread_id, members) in enumerate(threads.items()):
            # Clocks that go back and forth, and repeat: the ids must still increase.
            plan.append((thread_id, members[round_ % 3], NOW + ((round_ * 7919 + i) % 13) * 1000))
        plan.append(("gc-1", "stranger", NOW))
        plan.append(("gc-dead", "d-0", NOW))
        plan.append(("gc-none", "u0-0", NOW))
    results = await asyncio.gather(*(_send(db, t, s, f"m{n}", now) for n, (t, s, now) in enumerate(plan)))

    refused = [n for n, (t, s, _) in enumerate(plan) if s == "stranger" or t in ("gc-dead", "gc-none")]
    assert [n for n, r in enumerate(results) if r is None] == refused
    for thread_id, members in threads.items():
        rows = await db.fetch(
            "SELECT seq, id, created_at, content FROM messages WHERE thread_id = $1 ORDER BY seq", thread_id
        )
        sent = [(n, r) for n, ((t, _, _), r) in enumerate(zip(plan, results, strict=True)) if t == thread_id and r]
        assert [row["seq"] for row in rows] == list(range(1, 61))
        # Arrival order is sequence order; each send got back its own row.
        assert [row["content"] for row in rows] == [f"m{n}" for n, _ in sent]
        assert [row["id"] for row in rows] == [r.message_id for _, r in sent if r]
        assert [row["created_at"] for row in rows] == [r.created_at for _, r in sent if r]
        ids = [row["id"] for row in rows]
        times = [row["created_at"] for row in rows]
        assert all(a < b for a, b in itertools.pairwise(ids))
        assert all(a < b for a, b in itertools.pairwise(times))
        if thread_id == "gc-0":
            assert ids[0] == NOW + 1 and times[0] == NOW * 2 + 1
        thread = await db.fetchrow(
            "SELECT last_seq, last_message_id, last_message_at FROM threads WHERE id = $1", thread_id
        )
        assert thread is not None and (thread[0], thread[1], thread[2]) == (60, ids[-1], times[-1])
        for _, r in sent:
            assert r is not None and sorted(r.recipients) == sorted(members)


async def test_sends_one_after_another_match_the_single_statement(db: PostgresDatabase) -> None:
    await _thread(db, "gc-seq", ["a", "b"])
    now = NOW + 5_000
    first = await _send(db, "gc-seq", "a", "one", now)
    second = await _send(db, "gc-seq", "b", "two", now)  # same clock: the next millisecond and µs
    third = await _send(db, "gc-seq", "a", "three", now + 10_000)
    assert first is not None and second is not None and third is not None
    assert (first.message_id, first.created_at) == (now // 1000, now)
    assert (second.message_id, second.created_at) == (now // 1000 + 1, now + 1)
    assert (third.message_id, third.created_at) == ((now + 10_000) // 1000, now + 10_000)


async def test_a_refused_value_fails_its_send_alone(db: PostgresDatabase) -> None:
    await _thread(db, "gc-bad", ["a", "b"])
    contents = [f"ok {i}" for i in range(30)]
    contents[11] = "nul \x00 byte"  # PostgreSQL text cannot hold it
    results = await asyncio.gather(*(_send(db, "gc-bad", "a", c, NOW) for c in contents), return_exceptions=True)
    assert isinstance(results[11], BadRequest)
    assert all(r is not None and not isinstance(r, BaseException) for i, r in enumerate(results) if i != 11)
    rows = await db.fetch("SELECT seq, content FROM messages WHERE thread_id = 'gc-bad' ORDER BY seq")
    assert [row["seq"] for row in rows] == list(range(1, 30))
    assert sorted(row["content"] for row in rows) == sorted(c for i, c in enumerate(contents) if i != 11)


async def test_outbox_rows_commit_with_their_messages(db: PostgresDatabase) -> None:
    await _thread(db, "gc-ev", ["a", "b", "c"])
    results = await asyncio.gather(
        *(_send(db, "gc-ev", "abc"[i % 3], f"e{i}", NOW, event=True) for i in range(25)),
        _send(db, "gc-ev", "stranger", "no", NOW, event=True),
    )
    assert results[-1] is None
    rows = await db.fetch(
        "SELECT actor, created_at, recipients, data FROM event_outbox WHERE thread_id = 'gc-ev' ORDER BY id"
    )
    assert len(rows) == 25
    for i, (row, sent) in enumerate(zip(rows, results, strict=False)):
        assert sent is not None
        assert row["actor"] == "abc"[i % 3] and row["created_at"] == sent.created_at
        assert sorted(json.loads(row["recipients"])) == ["a", "b", "c"]
        assert json.loads(row["data"]) == {"messageId": sent.message_id, "content": f"e{i}"}


async def test_a_lost_connection_answers_unavailable_and_the_sends_after_it_go_through(
    db: PostgresDatabase, postgres_url: str
) -> None:
    """PostgreSQL ends Hubbub's connections (as a restart does): a send on one of them fails with
    `Unavailable` (503), never a raw driver error, and the group takes a new connection for the next."""
    await _thread(db, "t-lost", ["a"])
    assert await _send(db, "t-lost", "a", "before", NOW + 1) is not None
    admin = await asyncpg.connect(postgres_url)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert ended >= 1
    failures = 0
    for attempt in range(5):
        try:
            sent = await asyncio.gather(*(_send(db, "t-lost", "a", f"after {attempt}.{i}", NOW + 10) for i in range(4)))
        except Unavailable:
            failures += 1
            continue
        assert all(s is not None for s in sent)
        break
    else:
        pytest.fail("no send went through after the connections were lost")
    assert failures <= 2  # one batch per lost connection of the pool's two
