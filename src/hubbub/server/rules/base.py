"""What every chat rule shares: validation, access checks, system messages, event publishing.

Every use case takes the caller's user id. Reads need the caller to be (or to have been) a
participant; writes need a current participant. A participant sees the messages created inside
its history window: from its share-history time (or the moment it was added) until its removal.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from hubbub import wire
from hubbub.server.domain import (
    HistoryWindow,
    InvalidParticipant,
    Membership,
    Participant,
    RetentionPolicy,
    SystemContent,
    Thread,
)
from hubbub.server.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from hubbub.server.events import Event, EventBus
from hubbub.server.settings import Limits
from hubbub.server.store import Connection, Database
from hubbub.server.store import identities as identity_store
from hubbub.server.store import messages as message_store
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store
from hubbub.server.webhooks.outbox import Outbox


def now_micros() -> int:
    return time.time_ns() // 1000


def history_window(thread_id: str, member: Membership) -> HistoryWindow:
    """The messages a member reads: from its share-history time (or the moment it was added) until
    its removal. The one rule for every read of messages: get, list and search (search applies it
    in SQL over the same participants columns, `store.search._WINDOW`, for every thread at once)."""
    return HistoryWindow(thread_id, member.visible_from, member.removed_at)


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """The thread a caller asked for and the caller's membership of it."""

    thread: Thread
    member: Membership

    @property
    def window(self) -> HistoryWindow:
        return history_window(self.thread.id, self.member)

    @property
    def visible_from(self) -> int:
        return self.window.visible_from

    @property
    def visible_until(self) -> int | None:
        return self.window.visible_until


def _metadata_size(metadata: dict[str, str] | None) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in (metadata or {}).items())


class Rules:
    """Base of the chat services; each holds the database, the event bus and the limits."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        limits: Limits,
        *,
        retention_day_seconds: int = 86_400,
        idempotency_ttl_seconds: int = 86_400,
        outbox: Outbox | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox or Outbox()
        """Webhook events: each change records its outbox row in its own transaction (`webhooks/`)."""
        self._bus = bus
        self.limits = limits
        self._day_micros = retention_day_seconds * 1_000_000
        self._idempotency_micros = idempotency_ttl_seconds * 1_000_000

    # -- validation ---------------------------------------------------------------------------------

    def _check_topic(self, topic: str) -> str:
        if not topic.strip():
            raise BadRequest("The topic must not be empty.", target="topic")
        if len(topic) > self.limits.max_topic_length:
            raise BadRequest(f"The topic is longer than {self.limits.max_topic_length} characters.", target="topic")
        return topic

    def _check_metadata(self, metadata: dict[str, str] | None, target: str) -> None:
        if _metadata_size(metadata) > self.limits.max_metadata_bytes:
            raise BadRequest(f"{target} is larger than {self.limits.max_metadata_bytes} bytes in total.", target=target)

    def _check_content(self, content: str, metadata: dict[str, str] | None) -> None:
        if not content.strip():
            raise BadRequest("The message content must not be empty.", target="content")
        if len(content.encode()) + _metadata_size(metadata) > self.limits.max_message_bytes:
            raise PayloadTooLarge(
                f"The message is larger than {self.limits.max_message_bytes} bytes.", target="content"
            )

    def retention_deadline(
        self, created_at: int, policy: wire.RetentionPolicyModel | None
    ) -> tuple[RetentionPolicy | None, int | None]:
        """Validate a retention policy; return the policy to store and the deletion deadline."""
        if policy is None:
            return None, None
        if policy.kind == "none":
            return RetentionPolicy("none"), None
        if policy.kind != "threadCreationDate":
            raise BadRequest(f"Unknown retention policy kind {policy.kind!r}.", target="retentionPolicy.kind")
        days = policy.delete_thread_after_days
        if days is None or not 30 <= days <= 90:
            raise BadRequest(
                "deleteThreadAfterDays must be between 30 and 90.",
                target="retentionPolicy.deleteThreadAfterDays",
            )
        return RetentionPolicy("threadCreationDate", days), created_at + days * self._day_micros

    def _check_batch(self, participants: list[Participant]) -> None:
        if len(participants) > self.limits.max_participants_per_batch:
            raise BadRequest(
                f"At most {self.limits.max_participants_per_batch} participants may be added at once.",
                target="participants",
            )
        for p in participants:
            self._check_metadata(p.metadata, "participant metadata")

    async def _split_valid(
        self, db: Connection, participants: list[Participant]
    ) -> tuple[list[Participant], list[InvalidParticipant]]:
        """De-duplicate by raw id and separate live ACS users from identifiers that cannot join."""
        unique: dict[str, Participant] = {}
        for p in participants:
            unique.setdefault(p.user_id, p)
        candidates = [p.user_id for p in unique.values() if wire.identifier_kind(p.user_id) == "communicationUser"]
        live = await identity_store.live_identities(db, candidates)
        valid = [p for p in unique.values() if p.user_id in live]
        invalid = [
            InvalidParticipant("403", "Permissions check failed", p.user_id)
            for p in unique.values()
            if p.user_id not in live
        ]
        return valid, invalid

    # -- access ---------------------------------------------------------------------------------------

    async def _access(self, db: Connection, thread_id: str, caller: str, *, write: bool) -> Access:
        thread = await thread_store.get_thread(db, thread_id)
        if thread is None or thread.deleted_at is not None:
            raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
        member = await participant_store.get_participant(db, thread_id, caller)
        if member is None or (write and member.removed_at is not None):
            raise Forbidden("The caller is not a participant of this thread.")
        return Access(thread, member)

    # -- system messages and events -----------------------------------------------------------------

    async def _system_message(
        self, tx: Connection, thread_id: str, type: str, content: SystemContent, now: int
    ) -> None:
        """Append a system message to a live thread."""
        slot = await thread_store.next_message_slot(tx, thread_id, now)
        if slot is None:
            raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
        seq, message_id, created_at = slot
        await message_store.insert_system_message(
            tx, thread_id=thread_id, message_id=message_id, seq=seq, type=type, content=content, created_at=created_at
        )

    async def _add_members(
        self, tx: Connection, thread_id: str, participants: list[Participant], initiator: str, now: int
    ) -> None:
        """Add participants and record one participantAdded system message for them."""
        if not participants:
            return
        for participant in participants:
            await participant_store.upsert_participant(tx, thread_id, participant, now=now)
        content = SystemContent(initiator, participants=tuple(participants))
        await self._system_message(tx, thread_id, "participantAdded", content, now)

    @staticmethod
    def _participant_data(participants: list[Participant]) -> list[dict[str, Any]]:
        """Participants as a webhook outbox row keeps them (`webhooks/eventgrid.py` reads them)."""
        return [{"id": p.user_id, "displayName": p.display_name, "metadata": p.metadata} for p in participants]

    async def _publish(self, type: str, thread_id: str, recipients: list[str], data: dict[str, Any]) -> None:
        """Publish an event (its payload from `events.shapes`) to the recipients, once each."""
        if recipients:
            await self._bus.publish(Event(type, thread_id, tuple(dict.fromkeys(recipients)), data))
