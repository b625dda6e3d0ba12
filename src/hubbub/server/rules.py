"""What every chat rule shares: validation, access checks, system messages, event publishing.

Every use case takes the caller's user id. Reads need the caller to be (or to have been) a
participant; writes need a current participant. A participant sees the messages created inside
its history window: from its share-history time (or the moment it was added) until its removal.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from hubbub import wire
from hubbub.server.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from hubbub.server.events import Event, EventBus
from hubbub.server.settings import Limits
from hubbub.server.store import Connection, Database, Row
from hubbub.server.store import identities as identity_store
from hubbub.server.store import messages as message_store
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store

USER_MESSAGE_TYPES = ("text", "html")
INVALID_PARTICIPANT = ("403", "Permissions check failed")


def now_micros() -> int:
    return time.time_ns() // 1000


def dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclasses.dataclass(frozen=True, slots=True)
class ParticipantSpec:
    """A validated participant from a create or add request."""

    user_id: str
    display_name: str | None = None
    share_history_time: int | None = None
    metadata: dict[str, str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """The thread a caller asked for and the caller's membership row in it."""

    thread: Row
    member: Row

    @property
    def visible_from(self) -> int:
        return int(self.member["visible_from"])

    @property
    def visible_until(self) -> int | None:
        removed = self.member["removed_at"]
        return None if removed is None else int(removed)


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
    ) -> None:
        self._db = db
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
    ) -> tuple[str | None, int | None]:
        """Validate a retention policy; return its stored JSON and the deletion deadline."""
        if policy is None:
            return None, None
        if policy.kind == "none":
            return dump_json({"kind": "none"}), None
        if policy.kind != "threadCreationDate":
            raise BadRequest(f"Unknown retention policy kind {policy.kind!r}.", target="retentionPolicy.kind")
        days = policy.delete_thread_after_days
        if days is None or not 30 <= days <= 90:
            raise BadRequest(
                "deleteThreadAfterDays must be between 30 and 90.",
                target="retentionPolicy.deleteThreadAfterDays",
            )
        stored = {"kind": "threadCreationDate", "deleteThreadAfterDays": days}
        return dump_json(stored), created_at + days * self._day_micros

    def _check_batch(self, participants: list[ParticipantSpec]) -> None:
        if len(participants) > self.limits.max_participants_per_batch:
            raise BadRequest(
                f"At most {self.limits.max_participants_per_batch} participants may be added at once.",
                target="participants",
            )
        for p in participants:
            self._check_metadata(p.metadata, "participant metadata")

    async def _split_valid(
        self, db: Connection, specs: list[ParticipantSpec]
    ) -> tuple[list[ParticipantSpec], list[tuple[str, str, str]]]:
        """De-duplicate by raw id and separate live ACS users from identifiers that cannot join."""
        unique: dict[str, ParticipantSpec] = {}
        for spec in specs:
            unique.setdefault(spec.user_id, spec)
        candidates = [s.user_id for s in unique.values() if wire.identifier_kind(s.user_id) == "communicationUser"]
        live = await identity_store.live_identities(db, candidates)
        valid = [s for s in unique.values() if s.user_id in live]
        invalid = [(*INVALID_PARTICIPANT, s.user_id) for s in unique.values() if s.user_id not in live]
        return valid, invalid

    # -- access ---------------------------------------------------------------------------------------

    async def _access(self, db: Connection, thread_id: str, caller: str, *, write: bool) -> Access:
        thread = await thread_store.get_thread(db, thread_id)
        if thread is None or thread["deleted_at"] is not None:
            raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
        member = await participant_store.get_participant(db, thread_id, caller)
        if member is None or (write and member["removed_at"] is not None):
            raise Forbidden("The caller is not a participant of this thread.")
        return Access(thread, member)

    # -- system messages and events -----------------------------------------------------------------

    async def _append_message(
        self,
        tx: Connection,
        thread_id: str,
        *,
        type: str,
        content: str,
        now: int,
        sender_id: str | None = None,
        sender_display_name: str | None = None,
        metadata: str | None = None,
    ) -> tuple[int, int]:
        """Append a message to a live thread; returns its (id, created_at)."""
        slot = await thread_store.next_message_slot(tx, thread_id, now)
        if slot is None:
            raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
        seq, message_id, created_at = slot
        await message_store.insert_message(
            tx,
            thread_id=thread_id,
            message_id=message_id,
            seq=seq,
            type=type,
            sender_id=sender_id,
            sender_display_name=sender_display_name,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
        return message_id, created_at

    async def _system_message(
        self, tx: Connection, thread_id: str, type: str, content: dict[str, Any], now: int
    ) -> None:
        await self._append_message(tx, thread_id, type=type, content=dump_json(content) or "{}", now=now)

    async def _add_members(
        self, tx: Connection, thread_id: str, specs: list[ParticipantSpec], initiator: str, now: int
    ) -> None:
        """Add participants and record one participantAdded system message for them."""
        if not specs:
            return
        for spec in specs:
            await participant_store.upsert_participant(
                tx,
                thread_id,
                spec.user_id,
                display_name=spec.display_name,
                share_history_time=spec.share_history_time,
                metadata=dump_json(spec.metadata),
                now=now,
            )
        await self._system_message(tx, thread_id, "participantAdded", self._participant_content(specs, initiator), now)

    @staticmethod
    def _participant_content(specs: list[ParticipantSpec], initiator: str) -> dict[str, Any]:
        return {
            "participants": [
                {
                    "id": s.user_id,
                    "displayName": s.display_name,
                    "shareHistoryTime": s.share_history_time,
                    "metadata": s.metadata,
                }
                for s in specs
            ],
            "initiator": initiator,
        }

    async def _publish(self, type: str, thread_id: str, recipients: list[str], data: dict[str, Any]) -> None:
        if recipients:
            await self._bus.publish(Event(type, thread_id, tuple(dict.fromkeys(recipients)), data))

    async def _publish_thread_event(
        self, type: str, thread_id: str, recipients: list[str], now: int, time_field: str, **fields: Any
    ) -> None:
        """Publish a thread-level event: `threadId`, `version`, its time field, then `fields`."""
        data = {"threadId": thread_id, "version": str(now // 1000), time_field: wire.format_micros(now), **fields}
        await self._publish(type, thread_id, recipients, data)


def parse_participants(models: list[wire.ChatParticipantModel]) -> list[ParticipantSpec]:
    """Turn request participants into specs; a participant with no usable identifier is a 400."""
    specs = []
    for index, model in enumerate(models):
        raw_id = wire.identifier_raw_id(model.communication_identifier)
        if not raw_id:
            raise BadRequest(
                "The participant's communicationIdentifier names no identity.",
                target=f"participants[{index}].communicationIdentifier",
            )
        share = None if model.share_history_time is None else wire.to_micros(model.share_history_time)
        if share is not None and not wire.MIN_MICROS <= share <= wire.MAX_MICROS:
            raise BadRequest(
                "shareHistoryTime must lie between the years 1 and 9999 (UTC).",
                target=f"participants[{index}].shareHistoryTime",
            )
        specs.append(ParticipantSpec(raw_id, model.display_name, share, model.metadata))
    return specs
