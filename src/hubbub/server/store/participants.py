"""The `participants` table: membership, display names and each member's history window."""

from __future__ import annotations

from hubbub.server.domain import Membership, Participant
from hubbub.server.store.columns import dump_metadata, load_metadata
from hubbub.server.store.engine import Connection, Row

PARTICIPANT_COLUMNS = "user_id, display_name, share_history_time, metadata, visible_from, removed_at"


def _participant(row: Row) -> Participant:
    return Participant(row["user_id"], row["display_name"], row["share_history_time"], load_metadata(row["metadata"]))


async def get_participant(db: Connection, thread_id: str, user_id: str) -> Membership | None:
    """The user's membership of the thread, current or past; None when it never took part."""
    row = await db.fetchrow(
        f"SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE thread_id = $1 AND user_id = $2",
        thread_id,
        user_id,
    )
    return None if row is None else Membership(_participant(row), int(row["visible_from"]), row["removed_at"])


async def list_membership_threads(db: Connection, user_id: str) -> list[str]:
    """The threads, not deleted, the user is or was a participant of."""
    rows = await db.fetch(
        "SELECT p.thread_id FROM participants p JOIN threads t ON t.id = p.thread_id"
        " WHERE p.user_id = $1 AND t.deleted_at IS NULL ORDER BY p.thread_id",
        user_id,
    )
    return [row[0] for row in rows]


async def upsert_participant(db: Connection, thread_id: str, participant: Participant, *, now: int) -> None:
    """Add a participant, or re-add a removed one with a fresh history window."""
    share_history_time = participant.share_history_time
    visible_from = share_history_time if share_history_time is not None else now
    await db.execute(
        "INSERT INTO participants (thread_id, user_id, display_name, share_history_time, metadata, added_at,"
        " visible_from) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (thread_id, user_id) DO UPDATE SET display_name = $3, share_history_time = $4,"
        " metadata = $5, added_at = $6, visible_from = $7, removed_at = NULL",
        thread_id,
        participant.user_id,
        participant.display_name,
        share_history_time,
        dump_metadata(participant.metadata),
        now,
        visible_from,
    )


async def remove_participant(db: Connection, thread_id: str, user_id: str, now: int) -> bool:
    changed = await db.execute(
        "UPDATE participants SET removed_at = $3 WHERE thread_id = $1 AND user_id = $2 AND removed_at IS NULL",
        thread_id,
        user_id,
        now,
    )
    return changed > 0


async def count_active(db: Connection, thread_id: str) -> int:
    return int(
        await db.fetchval("SELECT COUNT(*) FROM participants WHERE thread_id = $1 AND removed_at IS NULL", thread_id)
    )


async def list_active(db: Connection, thread_id: str, *, skip: int, limit: int) -> list[Participant]:
    rows = await db.fetch(
        f"SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE thread_id = $1 AND removed_at IS NULL"
        " ORDER BY added_at, user_id LIMIT $2 OFFSET $3",
        thread_id,
        limit,
        skip,
    )
    return [_participant(row) for row in rows]


async def active_user_ids(db: Connection, thread_id: str) -> list[str]:
    """The thread's active participants; from the connection's `active_members` when it keeps them
    (SQLite's writer: every send asks, and the query was about 6 of its writer's 26 µs)."""
    kept = db.active_members
    if kept is not None:
        hit = kept.get(thread_id)
        if hit is not None:
            return list(hit)
    rows = await db.fetch("SELECT user_id FROM participants WHERE thread_id = $1 AND removed_at IS NULL", thread_id)
    user_ids = [row[0] for row in rows]
    if kept is not None:
        kept[thread_id] = tuple(user_ids)
    return user_ids
