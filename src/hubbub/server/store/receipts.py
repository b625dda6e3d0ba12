"""The `read_receipts` table: the latest receipt of each participant."""

from __future__ import annotations

from hubbub.server.domain import ReadReceipt
from hubbub.server.store.engine import Connection


async def upsert_receipt(db: Connection, thread_id: str, user_id: str, message_id: int, now: int) -> None:
    await db.execute(
        "INSERT INTO read_receipts (thread_id, user_id, message_id, read_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (thread_id, user_id) DO UPDATE SET message_id = $3, read_at = $4",
        thread_id,
        user_id,
        message_id,
        now,
    )


async def list_receipts(db: Connection, thread_id: str, *, skip: int, limit: int) -> list[ReadReceipt]:
    rows = await db.fetch(
        "SELECT r.user_id, r.message_id, r.read_at FROM read_receipts r"
        " JOIN participants p ON p.thread_id = r.thread_id AND p.user_id = r.user_id AND p.removed_at IS NULL"
        " WHERE r.thread_id = $1 ORDER BY r.read_at, r.user_id LIMIT $2 OFFSET $3",
        thread_id,
        limit,
        skip,
    )
    return [ReadReceipt(row[0], int(row[1]), int(row[2])) for row in rows]
