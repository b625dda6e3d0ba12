"""Chat rules: membership, history sharing, system messages, limits. No HTTP in here.

Every use case takes the caller's user id. Reads need the caller to be (or to have been) a
participant; writes need a current participant. A participant sees the messages created inside
its history window: from its share-history time (or the moment it was added) until its removal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import uuid
from typing import Any

from hubbub import wire
from hubbub.server.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from hubbub.server.events import Event, EventBus
from hubbub.server.events import shapes as ev
from hubbub.server.settings import Limits
from hubbub.server.store import Connection, Database, Row
from hubbub.server.store import identities as identity_store
from hubbub.server.store import messages as message_store
from hubbub.server.store import participants as participant_store
from hubbub.server.store import receipts as receipt_store
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


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedThread:
    thread: Row
    invalid: list[tuple[str, str, str]]
    """(code, message, target) for each participant that could not be added."""


def _metadata_size(metadata: dict[str, str] | None) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in (metadata or {}).items())


class ChatService:
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

    async def get_thread(self, thread_id: str, caller: str) -> Row:
        return (await self._access(self._db, thread_id, caller, write=False)).thread

    # -- system messages and events -----------------------------------------------------------------

    async def _system_message(
        self, tx: Connection, thread_id: str, type: str, content: dict[str, Any], now: int
    ) -> None:
        slot = await thread_store.next_message_slot(tx, thread_id, now // 1000, now)
        if slot is None:
            raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
        seq, message_id = slot
        await message_store.insert_message(
            tx,
            thread_id=thread_id,
            message_id=message_id,
            seq=seq,
            type=type,
            sender_id=None,
            sender_display_name=None,
            content=dump_json(content) or "{}",
            metadata=None,
            created_at=now,
        )

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

    # -- threads ------------------------------------------------------------------------------------

    async def create_thread(
        self,
        caller: str,
        *,
        topic: str,
        participants: list[ParticipantSpec],
        request_id: str | None,
        metadata: dict[str, str] | None = None,
        retention: wire.RetentionPolicyModel | None = None,
    ) -> CreatedThread:
        self._check_topic(topic)
        self._check_batch(participants)
        self._check_metadata(metadata, "metadata")
        now = now_micros()
        retention_json, delete_after = self.retention_deadline(now, retention)
        request_id = request_id or str(uuid.uuid4())
        thread_id = f"19:{uuid.uuid4().hex}@thread.v2"
        async with self._db.transaction() as tx:
            previous = await thread_store.find_request(tx, caller, request_id, now - self._idempotency_micros)
            if previous is not None:
                row = await thread_store.get_thread(tx, previous)
                if row is not None:
                    return CreatedThread(row, [])
            await thread_store.record_request(tx, caller, request_id, thread_id, now)
            creator_spec = next((p for p in participants if p.user_id == caller), ParticipantSpec(caller))
            valid, invalid = await self._split_valid(tx, [creator_spec, *participants])
            if caller not in {s.user_id for s in valid}:
                raise Forbidden("The caller's identity no longer exists.")
            if len(valid) > self.limits.max_participants:
                raise BadRequest(
                    f"A thread has at most {self.limits.max_participants} participants.",
                    target="participants",
                )
            await thread_store.insert_thread(
                tx,
                thread_id=thread_id,
                topic=topic,
                created_at=now,
                created_by=caller,
                metadata=dump_json(metadata),
                retention_policy=retention_json,
                delete_after=delete_after,
            )
            for spec in valid:
                await participant_store.upsert_participant(
                    tx,
                    thread_id,
                    spec.user_id,
                    display_name=spec.display_name,
                    share_history_time=spec.share_history_time,
                    metadata=dump_json(spec.metadata),
                    now=now,
                )
            await self._system_message(tx, thread_id, "participantAdded", self._participant_content(valid, caller), now)
            await self._system_message(tx, thread_id, "topicUpdated", {"topic": topic, "initiator": caller}, now)
            row = await thread_store.get_thread(tx, thread_id)
        assert row is not None
        recipients = [s.user_id for s in valid]
        await self._publish(
            "chatThreadCreated",
            thread_id,
            recipients,
            {
                "threadId": thread_id,
                "version": str(now // 1000),
                "createdOn": wire.format_micros(now),
                "properties": ev.thread_properties(topic, metadata, load_json(retention_json)),
                "participants": [
                    ev.signaling_participant(s.user_id, s.display_name, s.share_history_time, s.metadata) for s in valid
                ],
                "createdBy": ev.signaling_participant(caller, creator_spec.display_name),
            },
        )
        return CreatedThread(row, invalid)

    async def update_thread(
        self,
        thread_id: str,
        caller: str,
        *,
        topic: str | None,
        metadata: dict[str, str] | None = None,
        set_metadata: bool = False,
        retention: wire.RetentionPolicyModel | None = None,
        set_retention: bool = False,
    ) -> None:
        if topic is not None:
            self._check_topic(topic)
        if set_metadata:
            self._check_metadata(metadata, "metadata")
        now = now_micros()
        async with self._db.transaction() as tx:
            access = await self._access(tx, thread_id, caller, write=True)
            thread = access.thread
            retention_json, delete_after = thread["retention_policy"], thread["delete_after"]
            if set_retention:
                retention_json, delete_after = self.retention_deadline(int(thread["created_at"]), retention)
            new_topic = thread["topic"] if topic is None else topic
            new_metadata = dump_json(metadata) if set_metadata else thread["metadata"]
            if (new_topic, new_metadata, retention_json) == (
                thread["topic"],
                thread["metadata"],
                thread["retention_policy"],
            ):
                return
            await thread_store.update_thread(
                tx,
                thread_id,
                topic=new_topic,
                metadata=new_metadata,
                retention_policy=retention_json,
                delete_after=delete_after,
            )
            if new_topic != thread["topic"]:
                await self._system_message(
                    tx, thread_id, "topicUpdated", {"topic": new_topic, "initiator": caller}, now
                )
            recipients = await participant_store.active_user_ids(tx, thread_id)
        await self._publish(
            "chatThreadPropertiesUpdated",
            thread_id,
            recipients,
            {
                "threadId": thread_id,
                "version": str(now // 1000),
                "updatedOn": wire.format_micros(now),
                "properties": ev.thread_properties(new_topic, load_json(new_metadata), load_json(retention_json)),
                "updatedBy": ev.signaling_participant(caller, access.member["display_name"]),
            },
        )

    async def delete_thread(self, thread_id: str, caller: str | None) -> None:
        """Delete a thread (idempotent). `caller=None` is the retention task."""
        now = now_micros()
        async with self._db.transaction() as tx:
            thread = await thread_store.get_thread(tx, thread_id)
            if thread is None or thread["deleted_at"] is not None:
                return
            member = None
            if caller is not None:
                member = await participant_store.get_participant(tx, thread_id, caller)
                if member is None or member["removed_at"] is not None:
                    raise Forbidden("The caller is not a participant of this thread.")
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await thread_store.mark_deleted(tx, thread_id, now)
        await self._publish(
            "chatThreadDeleted",
            thread_id,
            recipients,
            {
                "threadId": thread_id,
                "version": str(now // 1000),
                "deletedOn": wire.format_micros(now),
                "deletedBy": ev.signaling_participant(
                    caller or thread["created_by"], member["display_name"] if member else None
                ),
            },
        )

    async def delete_expired_threads(self) -> int:
        """Delete threads whose retention deadline has passed; returns how many."""
        count = 0
        for thread_id in await thread_store.expired_threads(self._db, now_micros()):
            await self.delete_thread(thread_id, None)
            count += 1
        async with self._db.transaction() as tx:
            await thread_store.purge_requests(tx, now_micros() - self._idempotency_micros)
        return count

    async def list_threads(
        self, caller: str, *, start_time: int | None, after: tuple[int, str] | None, limit: int
    ) -> list[Row]:
        return await thread_store.list_threads_for_user(
            self._db, caller, start_time=start_time, after=after, limit=limit
        )

    # -- messages -----------------------------------------------------------------------------------

    async def send_message(
        self,
        thread_id: str,
        caller: str,
        *,
        content: str,
        type: str | None,
        sender_display_name: str | None,
        metadata: dict[str, str] | None,
    ) -> int:
        type = type or "text"
        if type not in USER_MESSAGE_TYPES:
            raise BadRequest(f"Unknown message type {type!r}; use 'text' or 'html'.", target="type")
        self._check_content(content, metadata)
        now = now_micros()
        async with self._db.transaction() as tx:
            access = await self._access(tx, thread_id, caller, write=True)
            slot = await thread_store.next_message_slot(tx, thread_id, now // 1000, now)
            if slot is None:
                raise NotFound(f"Thread {thread_id} does not exist.", target="chatThreadId")
            seq, message_id = slot
            await message_store.insert_message(
                tx,
                thread_id=thread_id,
                message_id=message_id,
                seq=seq,
                type=type,
                sender_id=caller,
                sender_display_name=sender_display_name,
                content=content,
                metadata=dump_json(metadata),
                created_at=now,
            )
            recipients = await participant_store.active_user_ids(tx, thread_id)
        del access
        await self._publish(
            "chatMessageReceived",
            thread_id,
            recipients,
            ev.message_event(
                thread_id=thread_id,
                sender_id=caller,
                sender_display_name=sender_display_name,
                message_id=message_id,
                created_at=now,
                version=message_id,
                type=type,
                content=content,
                metadata=metadata,
            ),
        )
        return message_id

    async def _visible_message(self, db: Connection, access: Access, thread_id: str, message_id: str) -> Row:
        if not message_id.isdigit() or len(message_id) > 18:
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        row = await message_store.get_message(db, thread_id, int(message_id))
        until = access.visible_until
        if row is None or row["created_at"] < access.visible_from or (until is not None and row["created_at"] > until):
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        return row

    async def get_message(self, thread_id: str, caller: str, message_id: str) -> Row:
        access = await self._access(self._db, thread_id, caller, write=False)
        return await self._visible_message(self._db, access, thread_id, message_id)

    async def list_messages(
        self, thread_id: str, caller: str, *, start_time: int | None, before_seq: int | None, limit: int
    ) -> list[Row]:
        access = await self._access(self._db, thread_id, caller, write=False)
        return await message_store.list_messages(
            self._db,
            thread_id,
            visible_from=access.visible_from,
            visible_until=access.visible_until,
            start_time=start_time,
            before_seq=before_seq,
            limit=limit,
        )

    async def _own_message(self, tx: Connection, thread_id: str, caller: str, message_id: str) -> tuple[Access, Row]:
        access = await self._access(tx, thread_id, caller, write=True)
        row = await self._visible_message(tx, access, thread_id, message_id)
        if row["sender_id"] != caller:
            raise Forbidden("Only the sender of a message may change or delete it.")
        return access, row

    async def update_message(
        self,
        thread_id: str,
        caller: str,
        message_id: str,
        *,
        content: str | None,
        metadata: dict[str, str] | None,
        set_metadata: bool,
    ) -> None:
        now = now_micros()
        async with self._db.transaction() as tx:
            _, row = await self._own_message(tx, thread_id, caller, message_id)
            if row["deleted_at"] is not None:
                raise NotFound(f"Message {message_id} was deleted.", target="chatMessageId")
            new_content = row["content"] if content is None else content
            new_metadata = metadata if set_metadata else load_json(row["metadata"])
            if content is None and not set_metadata:
                return
            self._check_content(new_content, new_metadata)
            version = max(now // 1000, int(row["version"]) + 1)
            await message_store.update_message(
                tx,
                thread_id,
                int(message_id),
                content=new_content,
                metadata=dump_json(new_metadata),
                edited_at=now,
                version=version,
            )
            recipients = await participant_store.active_user_ids(tx, thread_id)
        await self._publish(
            "chatMessageEdited",
            thread_id,
            recipients,
            ev.message_event(
                thread_id=thread_id,
                sender_id=caller,
                sender_display_name=row["sender_display_name"],
                message_id=int(message_id),
                created_at=int(row["created_at"]),
                version=version,
                type=row["type"],
                content=new_content,
                metadata=new_metadata,
                edited_at=now,
            ),
        )

    async def delete_message(self, thread_id: str, caller: str, message_id: str) -> None:
        now = now_micros()
        async with self._db.transaction() as tx:
            _, row = await self._own_message(tx, thread_id, caller, message_id)
            if row["deleted_at"] is not None:
                return
            version = max(now // 1000, int(row["version"]) + 1)
            await message_store.delete_message(tx, thread_id, int(message_id), deleted_at=now, version=version)
            recipients = await participant_store.active_user_ids(tx, thread_id)
        await self._publish(
            "chatMessageDeleted",
            thread_id,
            recipients,
            ev.message_event(
                thread_id=thread_id,
                sender_id=caller,
                sender_display_name=row["sender_display_name"],
                message_id=int(message_id),
                created_at=int(row["created_at"]),
                version=version,
                type=row["type"],
                deleted_at=now,
            ),
        )

    # -- participants -------------------------------------------------------------------------------

    async def list_participants(self, thread_id: str, caller: str, *, skip: int, limit: int) -> list[Row]:
        await self._access(self._db, thread_id, caller, write=False)
        return await participant_store.list_active(self._db, thread_id, skip=skip, limit=limit)

    async def add_participants(
        self, thread_id: str, caller: str, specs: list[ParticipantSpec]
    ) -> list[tuple[str, str, str]]:
        self._check_batch(specs)
        now = now_micros()
        async with self._db.transaction() as tx:
            access = await self._access(tx, thread_id, caller, write=True)
            valid, invalid = await self._split_valid(tx, specs)
            current = set(await participant_store.active_user_ids(tx, thread_id))
            new = [s for s in valid if s.user_id not in current]
            if len(current) + len(new) > self.limits.max_participants:
                raise BadRequest(
                    f"A thread has at most {self.limits.max_participants} participants.",
                    target="participants",
                )
            for spec in new:
                await participant_store.upsert_participant(
                    tx,
                    thread_id,
                    spec.user_id,
                    display_name=spec.display_name,
                    share_history_time=spec.share_history_time,
                    metadata=dump_json(spec.metadata),
                    now=now,
                )
            if new:
                await self._system_message(
                    tx, thread_id, "participantAdded", self._participant_content(new, caller), now
                )
        if new:
            await self._publish(
                "participantsAdded",
                thread_id,
                [*current, *(s.user_id for s in new)],
                {
                    "threadId": thread_id,
                    "version": str(now // 1000),
                    "addedOn": wire.format_micros(now),
                    "participantsAdded": [
                        ev.signaling_participant(s.user_id, s.display_name, s.share_history_time, s.metadata)
                        for s in new
                    ],
                    "addedBy": ev.signaling_participant(caller, access.member["display_name"]),
                },
            )
        return invalid

    async def remove_participant(self, thread_id: str, caller: str, user_id: str) -> None:
        now = now_micros()
        async with self._db.transaction() as tx:
            access = await self._access(tx, thread_id, caller, write=True)
            target = await participant_store.get_participant(tx, thread_id, user_id)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            if target is None or not await participant_store.remove_participant(tx, thread_id, user_id, now):
                return
            spec = ParticipantSpec(
                user_id, target["display_name"], target["share_history_time"], load_json(target["metadata"])
            )
            await self._system_message(
                tx, thread_id, "participantRemoved", self._participant_content([spec], caller), now
            )
        await self._publish(
            "participantsRemoved",
            thread_id,
            recipients,
            {
                "threadId": thread_id,
                "version": str(now // 1000),
                "removedOn": wire.format_micros(now),
                "participantsRemoved": [ev.signaling_participant(user_id, spec.display_name)],
                "removedBy": ev.signaling_participant(caller, access.member["display_name"]),
            },
        )

    # -- typing and read receipts -------------------------------------------------------------------

    async def _small_thread_recipients(self, db: Connection, thread_id: str) -> list[str] | None:
        """Active participants, or None when the thread is above the typing/receipt limit."""
        recipients = await participant_store.active_user_ids(db, thread_id)
        return None if len(recipients) > self.limits.typing_participant_limit else recipients

    async def send_typing(self, thread_id: str, caller: str, sender_display_name: str | None) -> None:
        """Typing is ephemeral: it is only published, and dropped above the participant limit."""
        access = await self._access(self._db, thread_id, caller, write=True)
        recipients = await self._small_thread_recipients(self._db, thread_id)
        if recipients is None:
            return
        now = now_micros()
        await self._publish(
            "typingIndicatorReceived",
            thread_id,
            [r for r in recipients if r != caller],
            {
                "threadId": thread_id,
                "sender": ev.identifier_kind(caller),
                "senderDisplayName": sender_display_name or access.member["display_name"] or "",
                "receivedOn": wire.format_micros(now),
                "version": str(now // 1000),
            },
        )

    async def send_read_receipt(self, thread_id: str, caller: str, message_id: str) -> None:
        """Store the caller's latest receipt; a no-op above the participant limit (as ACS)."""
        now = now_micros()
        async with self._db.transaction() as tx:
            access = await self._access(tx, thread_id, caller, write=True)
            await self._visible_message(tx, access, thread_id, message_id)
            recipients = await self._small_thread_recipients(tx, thread_id)
            if recipients is None:
                return
            await receipt_store.upsert_receipt(tx, thread_id, caller, int(message_id), now)
        await self._publish(
            "readReceiptReceived",
            thread_id,
            recipients,
            {
                "threadId": thread_id,
                "sender": ev.identifier_kind(caller),
                "senderDisplayName": access.member["display_name"] or "",
                "chatMessageId": message_id,
                "readOn": wire.format_micros(now),
            },
        )

    async def list_read_receipts(self, thread_id: str, caller: str, *, skip: int, limit: int) -> list[Row]:
        await self._access(self._db, thread_id, caller, write=False)
        return await receipt_store.list_receipts(self._db, thread_id, skip=skip, limit=limit)


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
        specs.append(ParticipantSpec(raw_id, model.display_name, share, model.metadata))
    return specs


def utc_from_micros(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(micros / 1_000_000, dt.UTC)
