"""Row counts across the table families, for `hubbub stats`. Read-only."""

from __future__ import annotations

from hubbub.server.store.engine import Connection

COUNTS = {
    "users": "SELECT COUNT(*) FROM identities WHERE deleted_at IS NULL",
    "deleted_users": "SELECT COUNT(*) FROM identities WHERE deleted_at IS NOT NULL",
    "threads": "SELECT COUNT(*) FROM threads WHERE deleted_at IS NULL",
    "deleted_threads": "SELECT COUNT(*) FROM threads WHERE deleted_at IS NOT NULL",
    "participants": "SELECT COUNT(*) FROM participants WHERE removed_at IS NULL",
    "messages": "SELECT COUNT(*) FROM messages WHERE type IN ('text', 'html') AND deleted_at IS NULL",
    "deleted_messages": "SELECT COUNT(*) FROM messages WHERE type IN ('text', 'html') AND deleted_at IS NOT NULL",
    "system_messages": "SELECT COUNT(*) FROM messages WHERE type NOT IN ('text', 'html')",
}
"""What each count means, as the query that makes it. Messages of deleted threads are gone (their
rows are dropped with the thread); a deleted message keeps its row with `deleted_at` set."""


async def count_rows(db: Connection) -> dict[str, int]:
    """Every count in `COUNTS`, read in one statement (one snapshot on both engines)."""
    columns = ", ".join(f"({sql}) AS {name}" for name, sql in COUNTS.items())
    row = await db.fetchrow(f"SELECT {columns}")
    assert row is not None
    return {name: int(row[name]) for name in COUNTS}
