"""`Outbox`: what the chat rules call to record a change for the webhooks, and only when one is wanted.

Each node keeps one flag, `active`: whether any event subscription exists (refreshed by the delivery
worker every poll interval, and set at once by this node's own subscription changes). With none,
`record` writes nothing, so the chat API pays nothing for webhooks nobody asked for. `poke` wakes
the worker after a commit, so an event usually leaves well before the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from hubbub.server.store import Connection
from hubbub.server.store import outbox as outbox_store


class Outbox:
    def __init__(self, *, active: bool = False) -> None:
        self.active = active
        self.pending = False
        """A change was recorded here since the worker last looked at the outbox."""
        self.wake = asyncio.Event()

    async def record(
        self,
        tx: Connection,
        kind: str,
        *,
        thread_id: str,
        actor: str,
        created_at: int,
        recipients: Sequence[str],
        data: dict[str, Any],
    ) -> None:
        """Write the change's outbox row in `tx` (the change's own transaction), when subscribed."""
        if self.active:
            await outbox_store.record(
                tx, kind=kind, thread_id=thread_id, actor=actor, created_at=created_at, recipients=recipients, data=data
            )

    def poke(self) -> None:
        """Tell this node's delivery worker that a change committed."""
        if self.active:
            self.pending = True
            self.wake.set()
