"""Participant rules: list, add (idempotent per participant) and remove participants."""

from __future__ import annotations

from hubbub import wire
from hubbub.server.domain import InvalidParticipant, Participant, SystemContent
from hubbub.server.errors import BadRequest
from hubbub.server.events import shapes as ev
from hubbub.server.rules.base import Rules, now_micros
from hubbub.server.store import Connection
from hubbub.server.store import participants as participant_store


def parse_participants(models: list[wire.ChatParticipantModel]) -> list[Participant]:
    """Turn request participants into domain ones; a participant with no usable identifier is a 400."""
    participants = []
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
        participants.append(Participant(raw_id, model.display_name, share, model.metadata))
    return participants


class ParticipantService(Rules):
    async def list_participants(self, thread_id: str, caller: str, *, skip: int, limit: int) -> list[Participant]:
        async def body(conn: Connection) -> list[Participant]:
            await self._access(conn, thread_id, caller, write=False)
            return await participant_store.list_active(conn, thread_id, skip=skip, limit=limit)

        return await self._db.read(body)

    async def add_participants(
        self, thread_id: str, caller: str, participants: list[Participant]
    ) -> list[InvalidParticipant]:
        """Add participants; existing ones are left unchanged, unknown ones are reported, not added."""
        self._check_batch(participants)
        now = now_micros()

        async def body(tx: Connection) -> tuple[list[InvalidParticipant], list[Participant], set[str], str | None]:
            access = await self._access(tx, thread_id, caller, write=True)
            valid, invalid = await self._split_valid(tx, participants)
            current = set(await participant_store.active_user_ids(tx, thread_id))
            new = [p for p in valid if p.user_id not in current]
            if len(current) + len(new) > self.limits.max_participants:
                raise BadRequest(
                    f"A thread has at most {self.limits.max_participants} participants.", target="participants"
                )
            await self._add_members(tx, thread_id, new, caller, now)
            if new:
                await self._outbox.record(
                    tx,
                    "participantAdded",
                    thread_id=thread_id,
                    actor=caller,
                    created_at=now,
                    recipients=[*current, *(p.user_id for p in new)],
                    data={"createTime": access.thread.created_at, "participants": self._participant_data(new)},
                )
            return invalid, new, current, access.member.display_name

        invalid, new, current, display_name = await self._db.write(body)
        if new:
            self._outbox.poke()
            event = ev.participants_added(thread_id, now, participants=new, added_by=caller, added_by_name=display_name)
            await self._publish("participantsAdded", thread_id, [*current, *(p.user_id for p in new)], event)
        return invalid

    async def remove_participant(self, thread_id: str, caller: str, user_id: str) -> None:
        """Remove a participant (a no-op when it is not one); it keeps read access to its history."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[Participant, list[str], str | None] | None:
            access = await self._access(tx, thread_id, caller, write=True)
            target = await participant_store.get_participant(tx, thread_id, user_id)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            if target is None or not await participant_store.remove_participant(tx, thread_id, user_id, now):
                return None
            removed = target.participant
            await self._system_message(
                tx, thread_id, "participantRemoved", SystemContent(caller, participants=(removed,)), now
            )
            await self._outbox.record(
                tx,
                "participantRemoved",
                thread_id=thread_id,
                actor=caller,
                created_at=now,
                recipients=recipients,
                data={"createTime": access.thread.created_at, "participants": self._participant_data([removed])},
            )
            return removed, recipients, access.member.display_name

        result = await self._db.write(body)
        if result is None:
            return
        self._outbox.poke()
        removed, recipients, display_name = result
        event = ev.participants_removed(
            thread_id, now, participants=[removed], removed_by=caller, removed_by_name=display_name
        )
        await self._publish("participantsRemoved", thread_id, recipients, event)
