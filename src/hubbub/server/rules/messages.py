"""Message rules: send, read, edit and delete messages; typing notifications and read receipts."""

from __future__ import annotations

from typing import Any, NoReturn

from hubbub.server.domain import Message, ReadReceipt
from hubbub.server.errors import BadRequest, Forbidden, NotFound
from hubbub.server.events import shapes as ev
from hubbub.server.rules.base import Access, Rules, now_micros
from hubbub.server.store import Connection
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
        outbox = self._outbox
        event_data: dict[str, object] | None = None
        if outbox.active:
            event_data = {
                "type": type,
                "senderDisplayName": sender_display_name,
                "content": content,
                "metadata": metadata,
            }
        sent = await message_store.send_message(
            self._db,
            thread_id,
            caller,
            type=type,
            sender_display_name=sender_display_name,
            content=content,
            metadata=metadata,
            now=now,
            event_data=event_data,
        )
        if sent is None:  # only a refusal takes the full check, which raises the right 404 or 403
            await self._db.read(lambda conn: self._refuse_write(conn, thread_id, caller))
        event = ev.message_received(
            thread_id,
            sender_id=caller,
            sender_display_name=sender_display_name,
            message_id=sent.message_id,
            created_at=sent.created_at,
            type=type,
            content=content,
            metadata=metadata,
        )
        await self._publish("chatMessageReceived", thread_id, sent.recipients, event)
        if event_data is not None:
            outbox.poke()
        return sent.message_id

    async def _record_message(
        self,
        tx: Connection,
        kind: str,
        thread_id: str,
        message: Message,
        recipients: list[str],
        now: int,
        version: int,
        **fields: object,
    ) -> None:
        """The webhook outbox row of an edit or a delete (`webhooks/eventgrid.py` reads it)."""
        assert message.sender_id is not None
        data = {
            "messageId": message.id,
            "type": message.type,
            "senderDisplayName": message.sender_display_name,
            "composeTime": message.created_at,
            "version": version,
            **fields,
        }
        await self._outbox.record(
            tx,
            kind,
            thread_id=thread_id,
            actor=message.sender_id,
            created_at=now,
            recipients=recipients,
            data=data,
        )

    async def _refuse_write(self, db: Connection, thread_id: str, caller: str) -> NoReturn:
        """The fast check said no: the full check raises the right 404 or 403."""
        await self._access(db, thread_id, caller, write=True)
        raise Forbidden("The caller is not a participant of this thread.")

    async def _visible_message(self, db: Connection, access: Access, thread_id: str, message_id: str) -> Message:
        if not (message_id.isascii() and message_id.isdigit()) or len(message_id) > 18:
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        message = await message_store.get_message(db, thread_id, int(message_id))
        until = access.visible_until
        if (
            message is None
            or message.created_at < access.visible_from
            or (until is not None and message.created_at > until)
        ):
            raise NotFound(f"Message {message_id} does not exist.", target="chatMessageId")
        return message

    async def get_message(self, thread_id: str, caller: str, message_id: str) -> Message:
        async def body(conn: Connection) -> Message:
            access = await self._access(conn, thread_id, caller, write=False)
            return await self._visible_message(conn, access, thread_id, message_id)

        return await self._db.read(body)

    async def list_messages(
        self,
        thread_id: str,
        caller: str,
        *,
        start_time: int | None,
        before_id: int | None,
        before_seq: int | None = None,
        limit: int,
    ) -> list[Message]:
        """A page of the messages inside the caller's history window, newest first."""

        async def body(conn: Connection) -> list[Message]:
            access = await self._access(conn, thread_id, caller, write=False)
            return await message_store.list_messages(
                conn,
                thread_id,
                visible_from=access.visible_from,
                visible_until=access.visible_until,
                start_time=start_time,
                before_id=before_id,
                before_seq=before_seq,
                limit=limit,
            )

        return await self._db.read(body)

    async def _own_message(self, tx: Connection, thread_id: str, caller: str, message_id: str) -> Message:
        access = await self._access(tx, thread_id, caller, write=True)
        message = await self._visible_message(tx, access, thread_id, message_id)
        if message.sender_id != caller:
            raise Forbidden("Only the sender of a message may change or delete it.")
        return message

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

        async def body(tx: Connection) -> tuple[list[str], dict[str, Any]] | None:
            message = await self._own_message(tx, thread_id, caller, message_id)
            if message.deleted_at is not None:
                raise NotFound(f"Message {message_id} was deleted.", target="chatMessageId")
            if content is None and not set_metadata:
                return None
            new_content = message.content if content is None else content
            new_metadata = metadata if set_metadata else message.metadata
            self._check_content(new_content, new_metadata)
            version = max(now // 1000, message.version + 1)
            await message_store.update_message(
                tx,
                thread_id,
                message.id,
                content=new_content,
                metadata=new_metadata,
                edited_at=now,
                version=version,
            )
            event = ev.message_edited(
                thread_id, message, version=version, content=new_content, metadata=new_metadata, edited_at=now
            )
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await self._record_message(
                tx,
                "messageEdited",
                thread_id,
                message,
                recipients,
                now,
                version,
                content=new_content,
                metadata=new_metadata,
            )
            return recipients, event

        edited = await self._db.write(body)
        if edited is not None:
            self._outbox.poke()
            await self._publish("chatMessageEdited", thread_id, *edited)

    async def delete_message(self, thread_id: str, caller: str, message_id: str) -> None:
        """Soft-delete the caller's own message (idempotent)."""
        now = now_micros()

        async def body(tx: Connection) -> tuple[list[str], dict[str, Any]] | None:
            message = await self._own_message(tx, thread_id, caller, message_id)
            if message.deleted_at is not None:
                return None
            version = max(now // 1000, message.version + 1)
            await message_store.delete_message(tx, thread_id, message.id, deleted_at=now, version=version)
            event = ev.message_deleted(thread_id, message, version=version, deleted_at=now)
            recipients = await participant_store.active_user_ids(tx, thread_id)
            await self._record_message(tx, "messageDeleted", thread_id, message, recipients, now, version)
            return recipients, event

        deleted = await self._db.write(body)
        self._outbox.poke()
        if deleted is not None:
            await self._publish("chatMessageDeleted", thread_id, *deleted)

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
        event = ev.typing_indicator(
            thread_id,
            now_micros(),
            sender_id=caller,
            sender_display_name=sender_display_name or access.member.display_name,
        )
        await self._publish("typingIndicatorReceived", thread_id, [r for r in recipients if r != caller], event)

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
        event = ev.read_receipt(
            thread_id, now, sender_id=caller, sender_display_name=access.member.display_name, message_id=message_id
        )
        await self._publish("readReceiptReceived", thread_id, recipients, event)

    async def list_read_receipts(self, thread_id: str, caller: str, *, skip: int, limit: int) -> list[ReadReceipt]:
        async def body(conn: Connection) -> list[ReadReceipt]:
            await self._access(conn, thread_id, caller, write=False)
            return await receipt_store.list_receipts(conn, thread_id, skip=skip, limit=limit)

        return await self._db.read(body)
