"""The `identities` table: ACS users and the token generation that revocation bumps."""

from __future__ import annotations

from hubbub.server.domain import Identity
from hubbub.server.store.engine import Connection


async def insert_identity(db: Connection, identity_id: str, now: int) -> None:
    await db.execute("INSERT INTO identities (id, created_at) VALUES ($1, $2)", identity_id, now)


async def get_identity(db: Connection, identity_id: str) -> Identity | None:
    """The live identity, or None when absent or deleted."""
    row = await db.fetchrow("SELECT id, token_gen FROM identities WHERE id = $1 AND deleted_at IS NULL", identity_id)
    return None if row is None else Identity(row[0], int(row[1]))


async def revoke_tokens(db: Connection, identity_id: str) -> bool:
    """Invalidate every token issued so far; False when the identity does not exist."""
    changed = await db.execute(
        "UPDATE identities SET token_gen = token_gen + 1 WHERE id = $1 AND deleted_at IS NULL", identity_id
    )
    return changed > 0


async def delete_identity(db: Connection, identity_id: str, now: int) -> None:
    await db.execute(
        "UPDATE identities SET deleted_at = $2, token_gen = token_gen + 1 WHERE id = $1 AND deleted_at IS NULL",
        identity_id,
        now,
    )


async def live_identities(db: Connection, ids: list[str]) -> set[str]:
    """The subset of `ids` that are existing, undeleted identities."""
    if not ids:
        return set()
    placeholders = ", ".join(f"${i + 1}" for i in range(len(ids)))
    rows = await db.fetch(f"SELECT id FROM identities WHERE deleted_at IS NULL AND id IN ({placeholders})", *ids)
    return {row[0] for row in rows}
