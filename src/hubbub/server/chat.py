"""Thread rules: create (idempotent), update, delete and list threads, and retention. No HTTP here."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from hubbub import wire
from hubbub.server.errors import BadRequest, Forbidden
from hubbub.server.events import shapes as ev
from hubbub.server.rules import ParticipantSpec, Rules, dump_json, load_json, now_micros
from hubbub.server.store import Connection, Row
from hubbub.server.store import participants as participant_store
from hubbub.server.store import threads as thread_store


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedThread:
    thread: Row
    invalid: list[tuple[str, str, str]]
    """(code, message, target) for each participant that could not be added."""
    participants: list[ParticipantSpec] = dataclasses.field(default_factory=list)
    replayed: bool = False


class ChatService(Rules):
    async def get_thread(self, thread_id: str, caller: str) -> Row:
        async def body(conn: Connection) -> Row:
            return (await self._access(conn, thread_id, caller, write=False)).thread

        return await self._db.read(body)

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
        """Create a thread with the caller as participant; the same request id returns the same thread."""
        self._check_topic(topic)
        self._check_batch(participants)
        self._check_metadata(metadata, "metadata")
        now = now_micros()
        retention_json, delete_after = self.retention_deadline(now, retention)
        request_id = request_id or str(uuid.uuid4())
        thread_id = f"19:{uuid.uuid4().hex}@thread.v2"
        creator = next((p for p in participants if p.user_id == caller), ParticipantSpec(caller))

        async def body(tx: Connection) -> CreatedThread:
            since = now - self._idempotency_micros
            previous = await thread_store.claim_request(tx, caller, request_id, thread_id, now, since)
            if previous != thread_id:
                row = await thread_store.get_thread(tx, previous)
                if row is not None:
                    return CreatedThread(row, [], replayed=True)
                await thread_store.reassign_request(tx, caller, request_id, thread_id, now)
            valid, invalid = await self._split_valid(tx, [creator, *participants])
            if caller not in {s.user_id for s in valid}:
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
                metadata=dump_json(metadata),
                retention_policy=retention_json,
                delete_after=delete_after,
            )
            await self._add_members(tx, thread_id, valid, caller, now)
            await self._system_message(tx, thread_id, "topicUpdated", {"topic": topic, "initiator": caller}, now)
            row = await thread_store.get_thread(tx, thread_id)
            assert row is not None
            return CreatedThread(row, invalid, valid)

        created = await self._db.write(body)
        if not created.replayed:
            valid = created.participants
            await self._publish_thread_event(
                "chatThreadCreated",
                thread_id,
                [s.user_id for s in valid],
                now,
                "createdOn",
                properties=ev.thread_properties(topic, metadata, load_json(retention_json)),
                participants=ev.signaling_participants(valid),
                createdBy=ev.signaling_participant(caller, creator.display_name),
            )
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

        async def body(tx: Connection) -> tuple[Any, ...] | None:
            access = await self._access(tx, thread_id, caller, write=True)
            thread = access.thread
            retention_json, delete_after = thread["retention_policy"], thread["delete_after"]
            if set_retention:
                # `"retentionPolicy": null` removes the policy, which ACS then reports as kind "none"
                policy = retention or wire.RetentionPolicyModel(kind="none")
                retention_json, delete_after = self.retention_deadline(int(thread["created_at"]), policy)
            new_topic = thread["topic"] if topic is None else topic
            new_metadata = dump_json(metadata) if set_metadata else thread["metadata"]
            if (new_topic, new_metadata, retention_json) == (
                thread["topic"],
                thread["metadata"],
                thread["retention_policy"],
            ):
                return None
            await thread_store.update_thread(
                tx,
                thread_id,
                topic=new_topic,
                metadata=new_metadata,
                retention_policy=retention_json,
                delete_after=delete_after,
            )
            if new_topic != thread["topic"]:
                content = {"topic": new_topic, "initiator": caller}
                await self._system_message(tx, thread_id, "topicUpdated", content, now)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            return new_topic, new_metadata, retention_json, recipients, access.member["display_name"]

        changed = await self._db.write(body)
        if changed is None:
            return
        new_topic, new_metadata, retention_json, recipients, display_name = changed
        await self._publish_thread_event(
            "chatThreadPropertiesUpdated",
            thread_id,
            recipients,
            now,
            "updatedOn",
            properties=ev.thread_properties(new_topic, load_json(new_metadata), load_json(retention_json)),
            updatedBy=ev.signaling_participant(caller, display_name),
        )

    async def delete_thread(self, thread_id: str, caller: str | None) -> None:
        """Delete a thread (idempotent). `caller=None` is the retention task."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[list[str], str, str | None] | None:
            thread = await thread_store.get_thread(tx, thread_id)
            if thread is None or thread["deleted_at"] is not None:
                return None
            display_name = None
            if caller is not None:
                member = await participant_store.get_participant(tx, thread_id, caller)
                if member is None or member["removed_at"] is not None:
                    raise Forbidden("The caller is not a participant of this thread.")
                display_name = member["display_name"]
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await thread_store.mark_deleted(tx, thread_id, now)
            return recipients, caller or thread["created_by"], display_name

        deleted = await self._db.write(body)
        if deleted is None:
            return
        recipients, deleted_by, display_name = deleted
        await self._publish_thread_event(
            "chatThreadDeleted",
            thread_id,
            recipients,
            now,
            "deletedOn",
            deletedBy=ev.signaling_participant(deleted_by, display_name),
        )

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
    ) -> list[Row]:
        return await self._db.read(
            lambda conn: thread_store.list_threads_for_user(
                conn, caller, start_time=start_time, after=after, limit=limit
            )
        )
