"""Participant rules: list, add (idempotent per participant) and remove participants."""

from __future__ import annotations

from hubbub.server.errors import BadRequest
from hubbub.server.events import shapes as ev
from hubbub.server.rules import ParticipantSpec, Rules, load_json, now_micros
from hubbub.server.store import Connection, Row
from hubbub.server.store import participants as participant_store


class ParticipantService(Rules):
    async def list_participants(self, thread_id: str, caller: str, *, skip: int, limit: int) -> list[Row]:
        async def body(conn: Connection) -> list[Row]:
            await self._access(conn, thread_id, caller, write=False)
            return await participant_store.list_active(conn, thread_id, skip=skip, limit=limit)

        return await self._db.read(body)

    async def add_participants(
        self, thread_id: str, caller: str, specs: list[ParticipantSpec]
    ) -> list[tuple[str, str, str]]:
        """Add participants; existing ones are left unchanged, unknown ones are reported, not added."""
        self._check_batch(specs)
        now = now_micros()

        async def body(tx: Connection) -> tuple[list[tuple[str, str, str]], list[ParticipantSpec], set[str], str]:
            access = await self._access(tx, thread_id, caller, write=True)
            valid, invalid = await self._split_valid(tx, specs)
            current = set(await participant_store.active_user_ids(tx, thread_id))
            new = [s for s in valid if s.user_id not in current]
            if len(current) + len(new) > self.limits.max_participants:
                raise BadRequest(
                    f"A thread has at most {self.limits.max_participants} participants.", target="participants"
                )
            await self._add_members(tx, thread_id, new, caller, now)
            return invalid, new, current, access.member["display_name"]

        invalid, new, current, display_name = await self._db.write(body)
        if new:
            await self._publish_thread_event(
                "participantsAdded",
                thread_id,
                [*current, *(s.user_id for s in new)],
                now,
                "addedOn",
                participantsAdded=ev.signaling_participants(new),
                addedBy=ev.signaling_participant(caller, display_name),
            )
        return invalid

    async def remove_participant(self, thread_id: str, caller: str, user_id: str) -> None:
        """Remove a participant (a no-op when it is not one); it keeps read access to its history."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[ParticipantSpec, list[str], str] | None:
            access = await self._access(tx, thread_id, caller, write=True)
            target = await participant_store.get_participant(tx, thread_id, user_id)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            if target is None or not await participant_store.remove_participant(tx, thread_id, user_id, now):
                return None
            spec = ParticipantSpec(
                user_id, target["display_name"], target["share_history_time"], load_json(target["metadata"])
            )
            content = self._participant_content([spec], caller)
            await self._system_message(tx, thread_id, "participantRemoved", content, now)
            return spec, recipients, access.member["display_name"]

        removed = await self._db.write(body)
        if removed is None:
            return
        spec, recipients, display_name = removed
        await self._publish_thread_event(
            "participantsRemoved",
            thread_id,
            recipients,
            now,
            "removedOn",
            participantsRemoved=[ev.signaling_participant(user_id, spec.display_name)],
            removedBy=ev.signaling_participant(caller, display_name),
        )
