"""All 16 chat operations (spec §5) through the official *async* chat SDK (aiohttp transport)."""

from __future__ import annotations

import uuid

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.core.exceptions import HttpResponseError

from ._acs import Acs, User


async def test_async_thread_lifecycle(acs: Acs, alice: User, bob: User, carol: User) -> None:
    key = str(uuid.uuid4())
    async with acs.achat(alice) as client:
        result = await client.create_chat_thread(
            "async",
            thread_participants=[ChatParticipant(identifier=bob.identifier, display_name="Bob")],
            idempotency_token=key,
        )
        assert result.errors == []
        thread_id = result.chat_thread.id
        again = await client.create_chat_thread("async", idempotency_token=key)
        assert again.chat_thread.id == thread_id
        second = (await client.create_chat_thread("second")).chat_thread.id

        pages = []
        async for page in client.list_chat_threads(results_per_page=1).by_page():
            pages.append([t.id async for t in page])
        assert [len(p) for p in pages] == [1, 1]
        assert {i for p in pages for i in p} == {thread_id, second}

        assert await client.delete_chat_thread(second) is None
        assert await client.delete_chat_thread(second) is None

    async with acs.athread(bob, thread_id) as tc:
        props = await tc.get_properties()
        assert props.topic == "async" and props.created_by.properties["id"] == alice.id
        assert await tc.update_topic("renamed") is None
        assert (await tc.get_properties()).topic == "renamed"
        assert await tc.update_topic() is None
        assert (await tc.get_properties()).topic == "renamed"

    async with acs.athread(carol, thread_id) as tc:
        with pytest.raises(HttpResponseError) as caught:
            await tc.get_properties()
        assert caught.value.status_code == 403


async def test_async_messages_participants_receipts(acs: Acs, alice: User, bob: User, carol: User) -> None:
    async with acs.achat(alice) as client:
        thread_id = (await client.create_chat_thread("async msgs")).chat_thread.id
        tc = client.get_chat_thread_client(thread_id, connection_verify=acs.verify)  # kwargs are not inherited
        async with tc:
            assert await tc.add_participants([ChatParticipant(identifier=bob.identifier, display_name="B")]) == []
            assert await tc.add_participants([ChatParticipant(identifier=bob.identifier)]) == []
            ids = [(await tc.send_message(f"a{i}", sender_display_name="A")).id for i in range(3)]
            message = await tc.get_message(ids[0])
            assert message.content.message == "a0" and message.sender.properties["id"] == alice.id
            assert await tc.update_message(ids[0], content="a0!") is None
            edited = await tc.get_message(ids[0])
            assert edited.content.message == "a0!" and edited.edited_on is not None
            assert await tc.delete_message(ids[1]) is None

            listed = [m async for m in tc.list_messages()]
            texts = [m for m in listed if m.type in (ChatMessageType.TEXT, "text")]
            assert [m.id for m in texts] == [ids[2], ids[1], ids[0]]
            assert {m.id: m for m in texts}[ids[1]].deleted_on is not None

            paged = []
            async for page in tc.list_messages(results_per_page=2).by_page():
                items = [m.id async for m in page]
                assert 1 <= len(items) <= 2
                paged.extend(items)
            assert paged == [m.id for m in listed]

            participants = [p async for p in tc.list_participants()]
            assert {p.identifier.properties["id"] for p in participants} == {alice.id, bob.id}
            skipped = [p async for p in tc.list_participants(results_per_page=1, skip=1)]
            assert len(skipped) == 1

            assert await tc.send_typing_notification(sender_display_name="A") is None
            assert await tc.send_read_receipt(ids[2]) is None

    async with acs.athread(bob, thread_id) as tc:
        assert await tc.send_read_receipt(ids[0]) is None
        assert await tc.send_read_receipt(ids[2]) is None
        receipts = [r async for r in tc.list_read_receipts(results_per_page=2, skip=0)]
        assert {(r.sender.properties["id"], r.chat_message_id) for r in receipts} == {
            (alice.id, ids[2]),
            (bob.id, ids[2]),
        }
        with pytest.raises(HttpResponseError) as caught:
            await tc.update_message(ids[0], content="not mine")
        assert caught.value.status_code == 403
        assert await tc.remove_participant(bob.identifier) is None
        with pytest.raises(HttpResponseError) as removed:
            await tc.send_message("gone")
        assert removed.value.status_code == 403

    async with acs.athread(carol, thread_id) as tc:
        with pytest.raises(HttpResponseError) as outsider:
            await tc.send_message("let me in")
        assert outsider.value.status_code == 403
