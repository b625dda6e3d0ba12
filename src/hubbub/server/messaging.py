"""Message rules: send, read, edit and delete messages; typing notifications and read receipts."""

from __future__ import annotations

from typing import Any, NoReturn

from hubbub import wire
from hubbub.server.errors import BadRequest, Forbidden, NotFound
from hubbub.server.events import shapes as ev
from hubbub.server.rules import Access, Rules, dump_json, load_json, now_micros
from hubbub.server.store import Connection, Row
from hubbub.server.store import messages as message_store
from hubbub.server.store import participants as participant_store
from hubbub.server.store import receipts as receipt_store

USER_MESSAGE_TYPES = ("text", "html")


class MessageService(Rules):
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
        """Store a message from a current participant; returns its id once committed."""
        type = type or "text"
        if type not in USER_MESSAGE_TYPES:
            raise BadRequest(f"Unknown message type {type!r}; use 'text' or 'html'.", target="type")
        self._check_content(content, metadata)
        now = now_micros()
        stored_metadata = dump_json(metadata)

        sent = await message_store.send_message(
            self._db,
            thread_id,
            caller,
            type=type,
            sender_display_name=sender_display_name,
            content=content,
            metadata=stored_metadata,
            now=now,
        )
        if sent is None:  # only a refusal takes the full check, which raises the right 404 or 403
            await self._db.read(lambda conn: self._refuse_write(conn, thread_id, caller))
        message_id, created_at = sent.message_id, sent.created_at
        await self._publish(
            "chatMessageReceived",
            thread_id,
            sent.recipients,
            ev.message_event(
                thread_id=thread_id,
                sender_id=caller,
                sender_display_name=sender_display_name,
                message_id=message_id,
                created_at=created_at,
                version=message_id,
                type=type,
                content=content,
                metadata=metadata,
            ),
        )
        return message_id

    async def _refuse_write(self, db: Connection, thread_id: str, caller: str) -> NoReturn:
        """The fast check said no: the full check raises the right 404 or 403."""
        await self._access(db, thread_id, caller, write=True)
        raise Forbidden("The caller is not a participant of this thread.")

    async def _visible_message(self, db: Connection, access: Access, thread_id: str, message_id: str) -> Row:
        if not (message_id.isascii() and message_id.isdigit()) or len(message_id) > 18:
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        row = await message_store.get_message(db, thread_id, int(message_id))
        until = access.visible_until
        if row is None or row["created_at"] < access.visible_from or (until is not None and row["created_at"] > until):
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        return row

    async def get_message(self, thread_id: str, caller: str, message_id: str) -> Row:
        async def body(conn: Connection) -> Row:
            access = await self._access(conn, thread_id, caller, write=False)
            return await self._visible_message(conn, access, thread_id, message_id)

        return await self._db.read(body)

    async def list_messages(
        self, thread_id: str, caller: str, *, start_time: int | None, before_seq: int | None, limit: int
    ) -> list[Row]:
        """A page of the messages inside the caller's history window, newest first."""

        async def body(conn: Connection) -> list[Row]:
            access = await self._access(conn, thread_id, caller, write=False)
            return await message_store.list_messages(
                conn,
                thread_id,
                visible_from=access.visible_from,
                visible_until=access.visible_until,
                start_time=start_time,
                before_seq=before_seq,
                limit=limit,
            )

        return await self._db.read(body)

    async def _own_message(self, tx: Connection, thread_id: str, caller: str, message_id: str) -> Row:
        access = await self._access(tx, thread_id, caller, write=True)
        row = await self._visible_message(tx, access, thread_id, message_id)
        if row["sender_id"] != caller:
            raise Forbidden("Only the sender of a message may change or delete it.")
        return row

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
        """Edit the caller's own message: sets `editedOn` and a new `version`."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[Row, str, dict[str, str] | None, int, list[str]] | None:
            row = await self._own_message(tx, thread_id, caller, message_id)
            if row["deleted_at"] is not None:
                raise NotFound(f"Message {message_id} was deleted.", target="chatMessageId")
            if content is None and not set_metadata:
                return None
            new_content = row["content"] if content is None else content
            new_metadata = metadata if set_metadata else load_json(row["metadata"])
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
            return row, new_content, new_metadata, version, await participant_store.active_user_ids(tx, thread_id)

        edited = await self._db.write(body)
        if edited is None:
            return
        row, new_content, new_metadata, version, recipients = edited
        await self._publish_change(
            "chatMessageEdited",
            thread_id,
            recipients,
            row,
            version,
            content=new_content,
            metadata=new_metadata,
            edited_at=now,
        )

    async def delete_message(self, thread_id: str, caller: str, message_id: str) -> None:
        """Soft-delete the caller's own message (idempotent)."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[Row, int, list[str]] | None:
            row = await self._own_message(tx, thread_id, caller, message_id)
            if row["deleted_at"] is not None:
                return None
            version = max(now // 1000, int(row["version"]) + 1)
            await message_store.delete_message(tx, thread_id, int(message_id), deleted_at=now, version=version)
            return row, version, await participant_store.active_user_ids(tx, thread_id)

        deleted = await self._db.write(body)
        if deleted is None:
            return
        row, version, recipients = deleted
        await self._publish_change("chatMessageDeleted", thread_id, recipients, row, version, deleted_at=now)

    async def _publish_change(
        self, type: str, thread_id: str, recipients: list[str], row: Row, version: int, **change: Any
    ) -> None:
        """Publish an edit or delete of the message `row` (as it was before the change)."""
        event = ev.message_event(
            thread_id=thread_id,
            sender_id=row["sender_id"],
            sender_display_name=row["sender_display_name"],
            message_id=int(row["id"]),
            created_at=int(row["created_at"]),
            version=version,
            type=row["type"],
            **change,
        )
        await self._publish(type, thread_id, recipients, event)

    # -- typing and read receipts -------------------------------------------------------------------

    async def _small_thread_recipients(self, db: Connection, thread_id: str) -> list[str] | None:
        """Active participants, or None when the thread is above the typing/receipt limit."""
        recipients = await participant_store.active_user_ids(db, thread_id)
        return None if len(recipients) > self.limits.typing_participant_limit else recipients

    async def send_typing(self, thread_id: str, caller: str, sender_display_name: str | None) -> None:
        """Typing is ephemeral: it is only published, and dropped above the participant limit."""

        async def body(conn: Connection) -> tuple[Access, list[str] | None]:
            access = await self._access(conn, thread_id, caller, write=True)
            return access, await self._small_thread_recipients(conn, thread_id)

        access, recipients = await self._db.read(body)
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

        async def body(tx: Connection) -> tuple[Access, list[str]] | None:
            access = await self._access(tx, thread_id, caller, write=True)
            await self._visible_message(tx, access, thread_id, message_id)
            recipients = await self._small_thread_recipients(tx, thread_id)
            if recipients is None:
                return None
            await receipt_store.upsert_receipt(tx, thread_id, caller, int(message_id), now)
            return access, recipients

        stored = await self._db.write(body)
        if stored is None:
            return
        access, recipients = stored
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
        async def body(conn: Connection) -> list[Row]:
            await self._access(conn, thread_id, caller, write=False)
            return await receipt_store.list_receipts(conn, thread_id, skip=skip, limit=limit)

        return await self._db.read(body)
