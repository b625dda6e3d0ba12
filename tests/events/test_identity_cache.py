"""The token-generation cache of one node, in process, on a real SQLite database: a revocation that
reaches the node through the bus while it reads the identity row must not leave a stale entry."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from hubbub.server.events import MemoryBus, Revocation
from hubbub.server.rules.identities import IdentityService
from hubbub.server.settings import Settings
from hubbub.server.store import Connection, Database, open_database
from hubbub.server.tokens import TokenService

T = TypeVar("T")


class HeldReads:
    """The real database, except that each `read` waits after reading until `release` is set (the
    stand-in for a slow read that a revocation overtakes)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.read_done = asyncio.Event()
        self.release = asyncio.Event()

    async def read(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        result = await self.db.read(body)
        self.read_done.set()
        await self.release.wait()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


async def test_a_read_overtaken_by_a_revocation_is_not_cached(tmp_path: Path) -> None:
    db = await open_database(Settings(data_dir=tmp_path))
    try:
        tokens = TokenService(base64.b64encode(os.urandom(32)).decode())
        other_node = IdentityService(db, tokens)  # revokes without a bus of ours: only the DB changes
        user_id, _ = await other_node.create_identity(["chat"])

        bus = MemoryBus()
        held = HeldReads(db)
        this_node = IdentityService(held, tokens, cache_seconds=60, bus=bus)  # type: ignore[arg-type]
        reading = asyncio.create_task(this_node.token_generation(user_id))
        await held.read_done.wait()  # read generation 0 ...
        await other_node.revoke_tokens(user_id)  # ... then another node revokes: generation 1
        bus.hub.revoke(Revocation(user_id, 1))  # and the revocation reaches this node (its bus reader)
        held.release.set()
        assert await reading == 0  # the request that raced the revocation may still pass,

        held.read_done.clear()
        assert await this_node.token_generation(user_id) == 1  # but the stale read was not cached
    finally:
        await db.close()


async def test_a_revocation_through_this_node_applies_at_once(tmp_path: Path) -> None:
    db = await open_database(Settings(data_dir=tmp_path))
    try:
        bus = MemoryBus()
        identity = IdentityService(
            db, TokenService(base64.b64encode(os.urandom(32)).decode()), cache_seconds=60, bus=bus
        )
        user_id, _ = await identity.create_identity(["chat"])
        assert await identity.token_generation(user_id) == 0  # now cached for a minute
        subscriber = bus.hub.subscribe(user_id, 0)
        await identity.revoke_tokens(user_id)
        assert await identity.token_generation(user_id) == 1
        assert subscriber.reason == "tokenRevoked"
        assert bus.hub.subscribe(user_id, 0).reason == "tokenRevoked"  # authenticated just before: closed
        assert bus.hub.subscribe(user_id, 1).reason is None  # a new token's stream stays open
        await identity.delete_identity(user_id)
        assert await identity.token_generation(user_id) is None
        assert bus.hub.subscribe(user_id, 1).reason == "identityDeleted"
    finally:
        await db.close()
