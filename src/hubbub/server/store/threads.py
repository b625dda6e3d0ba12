"""The `threads` and `thread_requests` tables."""

from __future__ import annotations

from hubbub.server.domain import RetentionPolicy, Thread, ThreadItem
from hubbub.server.store.columns import dump_metadata, dump_retention, load_metadata, load_retention
from hubbub.server.store.engine import Connection, Row

THREAD_COLUMNS = "id, topic, created_at, created_by, deleted_at, metadata, retention_policy, delete_after"


def _thread(row: Row) -> Thread:
    return Thread(
        id=row["id"],
        topic=row["topic"],
        created_at=int(row["created_at"]),
        created_by=row["created_by"],
        deleted_at=row["deleted_at"],
        metadata=load_metadata(row["metadata"]),
        retention_policy=load_retention(row["retention_policy"]),
        delete_after=row["delete_after"],
    )


async def insert_thread(
    db: Connection,
    *,
    thread_id: str,
    topic: str,
    created_at: int,
    created_by: str,
    metadata: dict[str, str] | None,
    retention_policy: RetentionPolicy | None,
    delete_after: int | None,
) -> None:
    await db.execute(
        "INSERT INTO threads (id, topic, created_at, created_by, metadata, retention_policy, delete_after,"
        " last_message_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $3)",
        thread_id,
        topic,
        created_at,
        created_by,
        dump_metadata(metadata),
        dump_retention(retention_policy),
        delete_after,
    )


async def get_thread(db: Connection, thread_id: str) -> Thread | None:
    """The thread, deleted or not (a deleted thread keeps its row, with `deleted_at`)."""
    row = await db.fetchrow(f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = $1", thread_id)
    return None if row is None else _thread(row)


async def update_thread(
    db: Connection,
    thread_id: str,
    *,
    topic: str,
    metadata: dict[str, str] | None,
    retention_policy: RetentionPolicy | None,
    delete_after: int | None,
) -> None:
    await db.execute(
        "UPDATE threads SET topic = $2, metadata = $3, retention_policy = $4, delete_after = $5 WHERE id = $1",
        thread_id,
        topic,
        dump_metadata(metadata),
        dump_retention(retention_policy),
        delete_after,
    )


async def next_message_slot(db: Connection, thread_id: str, now: int) -> tuple[int, int, int] | None:
    """Reserve the next (sequence id, message id, created_at) of a live thread.

    Message ids are epoch milliseconds and creation times microseconds, both strictly increasing
    with the sequence id inside a thread: the primary key (thread_id, id) orders a thread's
    messages (`messages.list_messages` walks it), and a time bound is also an id bound.
    """
    row = await db.fetchrow(
        "UPDATE threads SET last_seq = last_seq + 1,"
        " last_message_id = CASE WHEN last_message_id >= $2 THEN last_message_id + 1 ELSE $2 END,"
        " last_message_at = CASE WHEN last_message_at >= $3 THEN last_message_at + 1 ELSE $3 END"
        " WHERE id = $1 AND deleted_at IS NULL RETURNING last_seq, last_message_id, last_message_at",
        thread_id,
        now // 1000,
        now,
    )
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


async def mark_deleted(db: Connection, thread_id: str, now: int) -> None:
    """Tombstone a thread and drop its content; the row stays so a second delete is a no-op."""
    await db.execute("UPDATE threads SET deleted_at = $2 WHERE id = $1", thread_id, now)
    await db.execute("DELETE FROM messages WHERE thread_id = $1", thread_id)
    await db.execute("DELETE FROM read_receipts WHERE thread_id = $1", thread_id)
    await db.execute(
        "UPDATE participants SET removed_at = $2 WHERE thread_id = $1 AND removed_at IS NULL", thread_id, now
    )


async def expired_threads(db: Connection, now: int, limit: int = 100) -> list[str]:
    rows = await db.fetch(
        "SELECT id FROM threads WHERE delete_after IS NOT NULL AND delete_after <= $1 AND deleted_at IS NULL"
        " ORDER BY delete_after LIMIT $2",
        now,
        limit,
    )
    return [row[0] for row in rows]


async def list_threads_for_user(
    db: Connection, user_id: str, *, start_time: int | None, after: tuple[int, str] | None, limit: int
) -> list[ThreadItem]:
    """Threads the user currently takes part in, most recent activity first (keyset paging)."""
    sql = (
        "SELECT t.id, t.topic, t.deleted_at, t.last_message_at FROM participants p"
        " JOIN threads t ON t.id = p.thread_id"
        " WHERE p.user_id = $1 AND p.removed_at IS NULL AND t.deleted_at IS NULL"
    )
    args: list[object] = [user_id]
    if start_time is not None:
        args.append(start_time)
        sql += f" AND t.last_message_at >= ${len(args)}"
    if after is not None:
        args.extend(after)
        n = len(args)
        sql += f" AND (t.last_message_at < ${n - 1} OR (t.last_message_at = ${n - 1} AND t.id < ${n}))"
    args.append(limit)
    sql += f" ORDER BY t.last_message_at DESC, t.id DESC LIMIT ${len(args)}"
    rows = await db.fetch(sql, *args)
    return [ThreadItem(row["id"], row["topic"], row["deleted_at"], int(row["last_message_at"])) for row in rows]


async def claim_request(db: Connection, creator: str, request_id: str, thread_id: str, now: int, since: int) -> str:
    """Claim a repeatability-request-id for `thread_id`; return the thread it stands for.

    The first request to claim the id (or one that finds only an expired claim) gets `thread_id`
    back and goes on to create the thread. A concurrent request with the same id waits on the row
    lock of the first (PostgreSQL) or on the single writer (SQLite), then finds its claim and gets
    the first request's thread id: one thread, and every answer names it.
    """
    claimed = await db.fetchval(
        "INSERT INTO thread_requests (creator, request_id, thread_id, created_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (creator, request_id) DO UPDATE SET thread_id = $3, created_at = $4"
        " WHERE thread_requests.created_at < $5 RETURNING thread_id",
        creator,
        request_id,
        thread_id,
        now,
        since,
    )
    if claimed is not None:
        return str(claimed)
    value = await db.fetchval(
        "SELECT thread_id FROM thread_requests WHERE creator = $1 AND request_id = $2", creator, request_id
    )
    return str(value)


async def reassign_request(db: Connection, creator: str, request_id: str, thread_id: str, now: int) -> None:
    """Point a claimed request id at a new thread (the one it stood for was deleted)."""
    await db.execute(
        "UPDATE thread_requests SET thread_id = $3, created_at = $4 WHERE creator = $1 AND request_id = $2",
        creator,
        request_id,
        thread_id,
        now,
    )


async def purge_requests(db: Connection, before: int) -> None:
    await db.execute("DELETE FROM thread_requests WHERE created_at < $1", before)
