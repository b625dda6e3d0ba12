"""The `messages` table: user and system messages, newest-first paging by message id."""

from __future__ import annotations

from typing import NamedTuple

from hubbub.server.domain import SYSTEM_MESSAGE_TYPES, Message, SystemContent
from hubbub.server.store import outbox
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store
from hubbub.server.store.columns import (
    dump_json,
    dump_metadata,
    dump_plain_text,
    dump_system_content,
    load_metadata,
    load_system_content,
)
from hubbub.server.store.engine import Connection, Database, Row

MESSAGE_COLUMNS = (
    "id, seq, type, sender_id, sender_display_name, content, metadata, created_at, edited_at, deleted_at, version"
)


def message_from_row(row: Row) -> Message:
    system = row["type"] in SYSTEM_MESSAGE_TYPES
    return Message(
        id=int(row["id"]),
        seq=int(row["seq"]),
        type=row["type"],
        created_at=int(row["created_at"]),
        version=int(row["version"]),
        content="" if system else row["content"],
        sender_id=row["sender_id"],
        sender_display_name=row["sender_display_name"],
        metadata=load_metadata(row["metadata"]),
        edited_at=row["edited_at"],
        deleted_at=row["deleted_at"],
        system=load_system_content(row["content"]) if system else None,
    )


async def _insert_message(
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
    """Insert a message whose content and metadata are already in their stored form."""
    await db.execute(
        "INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,"
        " created_at, version, plain_text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $2, $10)",
        thread_id,
        message_id,
        seq,
        type,
        sender_id,
        sender_display_name,
        content,
        metadata,
        created_at,
        dump_plain_text(type, content),
    )


_SEND_IN_ONE_STATEMENT = """
WITH members AS (
    SELECT user_id FROM participants WHERE thread_id = $1 AND removed_at IS NULL
), slot AS (
    UPDATE threads SET last_seq = last_seq + 1,
        last_message_id = CASE WHEN last_message_id >= $3 THEN last_message_id + 1 ELSE $3 END,
        last_message_at = CASE WHEN last_message_at >= $4 THEN last_message_at + 1 ELSE $4 END
    WHERE id = $1 AND deleted_at IS NULL AND EXISTS (SELECT 1 FROM members WHERE user_id = $2)
    RETURNING last_seq, last_message_id, last_message_at
), inserted AS (
    INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,
                          created_at, version, plain_text)
    SELECT $1, last_message_id, last_seq, $5, $2, $6, $7, $8, last_message_at, last_message_id, $9 FROM slot
    RETURNING id, created_at
)
SELECT (SELECT id FROM inserted) AS id, (SELECT created_at FROM inserted) AS created_at,
       ARRAY(SELECT user_id FROM members) AS recipients
"""
"""`send_message` on an engine with data-modifying WITH: a participant's message in one round trip.
Parameters: thread id, sender, now in ms, now in µs, type, display name, content, metadata, plain
text (`dump_plain_text`). The id
is NULL when the sender may not write (no such thread, or not an active participant)."""

_SEND_WITH_EVENT_IN_ONE_STATEMENT = _SEND_IN_ONE_STATEMENT.replace(
    "\nSELECT (SELECT id FROM inserted)",
    """, recorded AS (
    INSERT INTO event_outbox (kind, thread_id, actor, created_at, recipients, data)
    SELECT 'messageReceived', $1, $2, created_at, (SELECT COALESCE(json_agg(user_id), '[]')::text FROM members),
           (jsonb_build_object('messageId', id) || $10::jsonb)::text FROM inserted
)
SELECT (SELECT id FROM inserted)""",
)
"""The same, also writing the webhook outbox row (`store/outbox.py`) in the same statement; parameter 10
is the event data without the message id, which the statement adds."""


_SEND_MANY_IN_ONE_STATEMENT = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[])
        WITH ORDINALITY AS i(thread_id, sender, now_ms, now_us, type, sender_display_name, content, metadata,
                             plain_text, ord)
), members AS (
    SELECT thread_id, array_agg(user_id) AS user_ids FROM participants
    WHERE thread_id = ANY($1::text[]) AND removed_at IS NULL GROUP BY thread_id
), allowed AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.thread_id ORDER BY i.ord) AS n
    FROM input i JOIN members m ON m.thread_id = i.thread_id WHERE i.sender = ANY(m.user_ids)
), ranked AS (
    SELECT a.*, max(a.now_ms - a.n) OVER w AS floor_ms, max(a.now_us - a.n) OVER w AS floor_us
    FROM allowed a WINDOW w AS (PARTITION BY a.thread_id ORDER BY a.n)
), locked AS MATERIALIZED (
    SELECT id, last_seq, last_message_id, last_message_at FROM threads
    WHERE id IN (SELECT thread_id FROM allowed) AND deleted_at IS NULL ORDER BY id FOR UPDATE
), slotted AS MATERIALIZED (
    SELECT r.*, l.last_seq + r.n AS seq, r.n + GREATEST(l.last_message_id, r.floor_ms) AS id,
           r.n + GREATEST(l.last_message_at, r.floor_us) AS created_at
    FROM ranked r JOIN locked l ON l.id = r.thread_id
), slot AS (
    UPDATE threads t SET last_seq = s.seq, last_message_id = s.id, last_message_at = s.created_at
    FROM (SELECT DISTINCT ON (thread_id) thread_id, seq, id, created_at FROM slotted ORDER BY thread_id, n DESC) s
    WHERE t.id = s.thread_id
), inserted AS (
    INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,
                          created_at, version, plain_text)
    SELECT thread_id, id, seq, type, sender, sender_display_name, content, metadata, created_at, id, plain_text
    FROM slotted ORDER BY ord
)
SELECT i.ord, s.id, s.created_at, m.user_ids AS recipients
FROM input i LEFT JOIN slotted s ON s.ord = i.ord LEFT JOIN members m ON m.thread_id = i.thread_id ORDER BY i.ord
"""
"""`_SEND_IN_ONE_STATEMENT` for many senders at once, each parameter an array with one element per
send (`Database.write_grouped`). Sends in the same thread take their slots in array order,
each as `threads.next_message_slot` would one after another: the n-th of a thread gets seq
`last_seq + n` and the id `n + max(last id, max over the i-th before it of (its now - i))`, which is
`max(previous id + 1, its now)` unrolled (the same for the µs creation time). The threads' rows are
locked in id order, so concurrent batches (several workers) cannot deadlock on them."""


_SEND_MANY_WITH_EVENT_IN_ONE_STATEMENT = (
    _SEND_MANY_IN_ONE_STATEMENT.replace("$9::text[])", "$9::text[], $10::text[])")
    .replace("plain_text, ord)", "plain_text, event_data, ord)")
    .replace(
        "\nSELECT i.ord",
        """, recorded AS (
    INSERT INTO event_outbox (kind, thread_id, actor, created_at, recipients, data)
    SELECT 'messageReceived', s.thread_id, s.sender, s.created_at, to_json(m.user_ids)::text,
           (jsonb_build_object('messageId', s.id) || s.event_data::jsonb)::text
    FROM slotted s JOIN members m ON m.thread_id = s.thread_id ORDER BY s.ord
)
SELECT i.ord""",
    )
)
"""`_SEND_WITH_EVENT_IN_ONE_STATEMENT` for many senders at once (parameter 10: each send's event data)."""


class SentMessage(NamedTuple):
    message_id: int
    created_at: int
    recipients: list[str]
    """The thread's active participants when the message was stored (the sender among them)."""


async def insert_system_message(
    db: Connection, *, thread_id: str, message_id: int, seq: int, type: str, content: SystemContent, created_at: int
) -> None:
    """Insert a message of one of the `SYSTEM_MESSAGE_TYPES` (no sender; its content as JSON)."""
    await _insert_message(
        db,
        thread_id=thread_id,
        message_id=message_id,
        seq=seq,
        type=type,
        sender_id=None,
        sender_display_name=None,
        content=dump_system_content(content),
        metadata=None,
        created_at=created_at,
    )


async def send_message(
    db: Database,
    thread_id: str,
    sender: str,
    *,
    type: str,
    sender_display_name: str | None,
    content: str,
    metadata: dict[str, str] | None,
    now: int,
    event_data: dict[str, object] | None = None,
) -> SentMessage | None:
    """Store a participant's message in a live thread, atomically; None when `sender` may not write
    (no such live thread, or not an active participant), and then nothing is written.

    One rule on every engine: the membership check, the slot (`threads.next_message_slot`) and the
    insert commit together. Where the engine allows it that is one statement, since round trips are
    what a send costs; otherwise one transaction. With `event_data` (webhook subscriptions exist) the
    outbox row of the message (kind `messageReceived`, its data plus `messageId`) commits with it.
    """
    stored_metadata = dump_metadata(metadata)
    if db.data_modifying_with:
        stored_event = None if event_data is None else dump_json(event_data)
        args = (
            thread_id,
            sender,
            now // 1000,
            now,
            type,
            sender_display_name,
            content,
            stored_metadata,
            dump_plain_text(type, content),
        )
        if stored_event is None:
            row = await db.write_grouped(_SEND_MANY_IN_ONE_STATEMENT, _SEND_IN_ONE_STATEMENT, *args)
        else:
            row = await db.write_grouped(
                _SEND_MANY_WITH_EVENT_IN_ONE_STATEMENT, _SEND_WITH_EVENT_IN_ONE_STATEMENT, *args, stored_event
            )
        if row["id"] is None:
            return None
        return SentMessage(int(row["id"]), int(row["created_at"]), list(row["recipients"]))

    async def body(tx: Connection) -> SentMessage | None:
        recipients = await participant_store.active_user_ids(tx, thread_id)
        if sender not in recipients:
            return None
        slot = await thread_store.next_message_slot(tx, thread_id, now)
        if slot is None:
            return None
        seq, message_id, created_at = slot
        await _insert_message(
            tx,
            thread_id=thread_id,
            message_id=message_id,
            seq=seq,
            type=type,
            sender_id=sender,
            sender_display_name=sender_display_name,
            content=content,
            metadata=stored_metadata,
            created_at=created_at,
        )
        if event_data is not None:
            await outbox.record(
                tx,
                kind="messageReceived",
                thread_id=thread_id,
                actor=sender,
                created_at=created_at,
                recipients=recipients,
                data={"messageId": message_id, **event_data},
            )
        return SentMessage(message_id, created_at, recipients)

    return await db.write(body)


async def get_message(db: Connection, thread_id: str, message_id: int) -> Message | None:
    row = await db.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND id = $2", thread_id, message_id
    )
    return None if row is None else message_from_row(row)


async def update_message(
    db: Connection,
    thread_id: str,
    message_id: int,
    *,
    content: str,
    metadata: dict[str, str] | None,
    edited_at: int,
    version: int,
) -> None:
    """Replace a user message's content; its plain text (and so the search index) follows."""
    await db.execute(
        "UPDATE messages SET content = $3, metadata = $4, edited_at = $5, version = $6,"
        " plain_text = CASE WHEN type = 'html' THEN $7 END WHERE thread_id = $1 AND id = $2",
        thread_id,
        message_id,
        content,
        dump_metadata(metadata),
        edited_at,
        version,
        dump_plain_text("html", content),
    )


async def delete_message(db: Connection, thread_id: str, message_id: int, *, deleted_at: int, version: int) -> None:
    """Soft-delete: the message stays in the list with `deletedOn` and no content."""
    await db.execute(
        "UPDATE messages SET content = '', metadata = NULL, plain_text = NULL, deleted_at = $3, version = $4"
        " WHERE thread_id = $1 AND id = $2",
        thread_id,
        message_id,
        deleted_at,
        version,
    )


_NO_MESSAGE_ID = 2**63 - 1
"""Larger than any message id: the lower id bound when no message is recent enough."""


async def list_messages(
    db: Connection,
    thread_id: str,
    *,
    visible_from: int,
    visible_until: int | None,
    start_time: int | None,
    before_id: int | None,
    before_seq: int | None = None,
    limit: int,
) -> list[Message]:
    """A page of messages, newest first, inside the caller's history window.

    The page walks the primary key `(thread_id, id)` backwards: message ids, sequence ids and
    creation times increase together inside a thread (see `next_message_slot`), so the id orders
    the thread, and the lower time bound becomes an id bound with one probe of `messages_created`
    (none when no message is that new: the page is then empty at once); the `+created_at` filters
    stay out of the planner's index choice. The newest page costs the same in a thread of any
    length. `before_id` is where the previous page ended; `before_seq` the same for a nextLink
    made before schema 0006, which still pages correctly (the walk skips the newer rows).
    """
    lower = visible_from if start_time is None else max(visible_from, start_time)
    args: list[object] = [thread_id, lower]
    sql = (
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND +created_at >= $2"
        " AND id >= COALESCE((SELECT id FROM messages WHERE thread_id = $1 AND created_at >= $2"
        f" ORDER BY created_at LIMIT 1), {_NO_MESSAGE_ID})"
    )
    if visible_until is not None:
        args.append(visible_until)
        sql += f" AND +created_at <= ${len(args)}"
    if before_id is not None:
        args.append(before_id)
        sql += f" AND id < ${len(args)}"
    if before_seq is not None:
        args.append(before_seq)
        sql += f" AND +seq < ${len(args)}"
    args.append(limit)
    sql += f" ORDER BY id DESC LIMIT ${len(args)}"
    return [message_from_row(row) for row in await db.fetch(sql, *args)]
