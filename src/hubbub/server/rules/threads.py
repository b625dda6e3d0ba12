"""Thread rules: create (idempotent), update, delete and list threads, and retention. No HTTP here."""

from __future__ import annotations

import dataclasses

from hubbub import wire
from hubbub.server import random_ids
from hubbub.server.domain import InvalidParticipant, Participant, RetentionPolicy, SystemContent, Thread, ThreadItem
from hubbub.server.errors import BadRequest, Forbidden
from hubbub.server.events import shapes as ev
from hubbub.server.rules.base import Rules, now_micros
from hubbub.server.store import Connection
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedThread:
    thread: Thread
    invalid: list[InvalidParticipant]
    """Each participant that could not be added."""
    participants: list[Participant] = dataclasses.field(default_factory=list)
    replayed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class _Update:
    """What an update stored, for its event."""

    topic: str
    metadata: dict[str, str] | None
    retention: RetentionPolicy | None
    recipients: list[str]
    display_name: str | None


def _in_order(metadata: dict[str, str] | None) -> list[tuple[str, str]] | None:
    """Metadata compared with its order: the stored text keeps the order, so a reordering is a change."""
    return None if metadata is None else list(metadata.items())


class ThreadService(Rules):
    async def get_thread(self, thread_id: str, caller: str) -> Thread:
        async def body(conn: Connection) -> Thread:
            return (await self._access(conn, thread_id, caller, write=False)).thread

        return await self._db.read(body)

    async def create_thread(
        self,
        caller: str,
        *,
        topic: str,
        participants: list[Participant],
        request_id: str | None,
        metadata: dict[str, str] | None = None,
        retention: wire.RetentionPolicyModel | None = None,
    ) -> CreatedThread:
        """Create a thread with the caller as participant; the same request id returns the same thread."""
        self._check_topic(topic)
        self._check_batch(participants)
        self._check_metadata(metadata, "metadata")
        now = now_micros()
        policy, delete_after = self.retention_deadline(now, retention)
        request_id = request_id or str(random_ids.uuid4())
        thread_id = f"19:{random_ids.uuid4().hex}@thread.v2"
        creator = next((p for p in participants if p.user_id == caller), Participant(caller))

        async def body(tx: Connection) -> CreatedThread:
            since = now - self._idempotency_micros
            previous = await thread_store.claim_request(tx, caller, request_id, thread_id, now, since)
            if previous != thread_id:
                existing = await thread_store.get_thread(tx, previous)
                if existing is not None:
                    return CreatedThread(existing, [], replayed=True)
                await thread_store.reassign_request(tx, caller, request_id, thread_id, now)
            valid, invalid = await self._split_valid(tx, [creator, *participants])
            if caller not in {p.user_id for p in valid}:
                raise Forbidden("The caller's identity no longer exists.")
            if len(valid) > self.limits.max_participants:
                raise BadRequest(
                    f"A thread has at most {self.limits.max_participants} participants.", target="participants"
                )
            await thread_store.insert_thread(
                tx,
                thread_id=thread_id,
                topic=topic,
                created_at=now,
                created_by=caller,
                metadata=metadata,
                retention_policy=policy,
                delete_after=delete_after,
            )
            await self._add_members(tx, thread_id, valid, caller, now)
            await self._system_message(tx, thread_id, "topicUpdated", SystemContent(caller, topic=topic), now)
            await self._outbox.record(
                tx,
                "threadCreated",
                thread_id=thread_id,
                actor=caller,
                created_at=now,
                recipients=[p.user_id for p in valid],
                data={
                    "createTime": now,
                    "topic": topic,
                    "metadata": metadata,
                    "participants": self._participant_data(valid),
                },
            )
            thread = await thread_store.get_thread(tx, thread_id)
            assert thread is not None
            return CreatedThread(thread, invalid, valid)

        created = await self._db.write(body)
        self._outbox.poke()
        if not created.replayed:
            valid = created.participants
            event = ev.thread_created(
                thread_id,
                now,
                topic=topic,
                metadata=metadata,
                retention=policy,
                participants=valid,
                created_by=caller,
                created_by_name=creator.display_name,
            )
            await self._publish("chatThreadCreated", thread_id, [p.user_id for p in valid], event)
        return created

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
        """Merge-patch the topic, metadata and retention policy; a topic change adds a system message."""
        if topic is not None:
            self._check_topic(topic)
        if set_metadata:
            self._check_metadata(metadata, "metadata")
        now = now_micros()

        async def body(tx: Connection) -> _Update | None:
            access = await self._access(tx, thread_id, caller, write=True)
            thread = access.thread
            policy, delete_after = thread.retention_policy, thread.delete_after
            if set_retention:
                # `"retentionPolicy": null` removes the policy, which ACS then reports as kind "none"
                policy, delete_after = self.retention_deadline(
                    thread.created_at, retention or wire.RetentionPolicyModel(kind="none")
                )
            new_topic = thread.topic if topic is None else topic
            new_metadata = metadata if set_metadata else thread.metadata
            if (new_topic, _in_order(new_metadata), policy) == (
                thread.topic,
                _in_order(thread.metadata),
                thread.retention_policy,
            ):
                return None
            await thread_store.update_thread(
                tx,
                thread_id,
                topic=new_topic,
                metadata=new_metadata,
                retention_policy=policy,
                delete_after=delete_after,
            )
            if new_topic != thread.topic:
                await self._system_message(tx, thread_id, "topicUpdated", SystemContent(caller, topic=new_topic), now)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await self._outbox.record(
                tx,
                "threadUpdated",
                thread_id=thread_id,
                actor=caller,
                created_at=now,
                recipients=recipients,
                data={"createTime": thread.created_at, "topic": new_topic, "metadata": new_metadata},
            )
            return _Update(new_topic, new_metadata, policy, recipients, access.member.display_name)

        changed = await self._db.write(body)
        if changed is None:
            return
        self._outbox.poke()
        event = ev.thread_properties_updated(
            thread_id,
            now,
            topic=changed.topic,
            metadata=changed.metadata,
            retention=changed.retention,
            updated_by=caller,
            updated_by_name=changed.display_name,
        )
        await self._publish("chatThreadPropertiesUpdated", thread_id, changed.recipients, event)

    async def delete_thread(self, thread_id: str, caller: str | None) -> None:
        """Delete a thread (idempotent). `caller=None` is the retention task."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[list[str], str, str | None] | None:
            thread = await thread_store.get_thread(tx, thread_id)
            if thread is None or thread.deleted_at is not None:
                return None
            display_name = None
            if caller is not None:
                member = await participant_store.get_participant(tx, thread_id, caller)
                if member is None or member.removed_at is not None:
                    raise Forbidden("The caller is not a participant of this thread.")
                display_name = member.display_name
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await thread_store.mark_deleted(tx, thread_id, now)
            await self._outbox.record(
                tx,
                "threadDeleted",
                thread_id=thread_id,
                actor=caller or thread.created_by,
                created_at=now,
                recipients=recipients,
                data={"createTime": thread.created_at},
            )
            return recipients, caller or thread.created_by, display_name

        deleted = await self._db.write(body)
        if deleted is None:
            return
        self._outbox.poke()
        recipients, deleted_by, display_name = deleted
        event = ev.thread_deleted(thread_id, now, deleted_by=deleted_by, deleted_by_name=display_name)
        await self._publish("chatThreadDeleted", thread_id, recipients, event)

    async def delete_expired_threads(self) -> int:
        """Delete threads whose retention deadline has passed, and forget old request ids."""
        expired = await self._db.read(lambda conn: thread_store.expired_threads(conn, now_micros()))
        for thread_id in expired:
            await self.delete_thread(thread_id, None)
        before = now_micros() - self._idempotency_micros
        await self._db.write(lambda tx: thread_store.purge_requests(tx, before))
        return len(expired)

    async def list_threads(
        self, caller: str, *, start_time: int | None, after: tuple[int, str] | None, limit: int
    ) -> list[ThreadItem]:
        return await self._db.read(
            lambda conn: thread_store.list_threads_for_user(
                conn, caller, start_time=start_time, after=after, limit=limit
            )
        )
