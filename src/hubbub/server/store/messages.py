"""The `messages` table: user and system messages, newest-first paging by sequence id."""

from __future__ import annotations

from hubbub.server.store.engine import Connection, Row

MESSAGE_COLUMNS = (
    "id, seq, type, sender_id, sender_display_name, content, metadata, created_at, edited_at, deleted_at, version"
)


async def insert_message(
    db: Connection,
    *,
    thread_id: str,
    message_id: int,
    seq: int,
    type: str,
    sender_id: str | None,
    sender_display_name: str | None,
    content: str,
    metadata: str | None,
    created_at: int,
) -> None:
    await db.execute(
        "INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,"
        " created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $2)",
        thread_id,
        message_id,
        seq,
        type,
        sender_id,
        sender_display_name,
        content,
        metadata,
        created_at,
    )


async def get_message(db: Connection, thread_id: str, message_id: int) -> Row | None:
    return await db.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND id = $2", thread_id, message_id
    )


async def update_message(
    db: Connection,
    thread_id: str,
    message_id: int,
    *,
    content: str,
    metadata: str | None,
    edited_at: int,
    version: int,
) -> None:
    await db.execute(
        "UPDATE messages SET content = $3, metadata = $4, edited_at = $5, version = $6"
        " WHERE thread_id = $1 AND id = $2",
        thread_id,
        message_id,
        content,
        metadata,
        edited_at,
        version,
    )


async def delete_message(db: Connection, thread_id: str, message_id: int, *, deleted_at: int, version: int) -> None:
    """Soft-delete: the message stays in the list with `deletedOn` and no content."""
    await db.execute(
        "UPDATE messages SET content = '', metadata = NULL, deleted_at = $3, version = $4"
        " WHERE thread_id = $1 AND id = $2",
        thread_id,
        message_id,
        deleted_at,
        version,
    )


async def list_messages(
    db: Connection,
    thread_id: str,
    *,
    visible_from: int,
    visible_until: int | None,
    start_time: int | None,
    before_seq: int | None,
    limit: int,
) -> list[Row]:
    """A page of messages, newest first, inside the caller's history window.

    The page walks the `(thread_id, seq)` index backwards. Creation times increase with `seq`
    (see `next_message_slot`), so the lower time bound becomes a seq bound with one probe of
    `messages_created`; the `+created_at` filters stay out of the planner's index choice. The newest
    page costs the same in a thread of any length.
    """
    lower = visible_from if start_time is None else max(visible_from, start_time)
    args: list[object] = [thread_id, lower]
    sql = (
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND +created_at >= $2"
        " AND seq >= COALESCE((SELECT seq FROM messages WHERE thread_id = $1 AND created_at >= $2"
        " ORDER BY created_at LIMIT 1), 0)"
    )
    if visible_until is not None:
        args.append(visible_until)
        sql += f" AND +created_at <= ${len(args)}"
    if before_seq is not None:
        args.append(before_seq)
        sql += f" AND seq < ${len(args)}"
    args.append(limit)
    sql += f" ORDER BY seq DESC LIMIT ${len(args)}"
    return await db.fetch(sql, *args)
