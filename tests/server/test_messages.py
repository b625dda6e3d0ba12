"""Message operations (spec §5 ops 6-10) and their behaviours (§9.6, 8, 9, 10) with the sync chat SDK."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from azure.communication.chat import ChatMessageType
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ._acs import Acs, RawApi, User, utcnow


def test_send_and_get_message(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "msgs", (bob,))
    with acs.thread(alice, thread_id) as tc:
        sent = tc.send_message("hello bob", sender_display_name="Alice", metadata={"tag": "greeting"})
        html = tc.send_message("<b>bold</b>", chat_message_type="html")
    assert isinstance(sent.id, str) and sent.id
    assert sent.id != html.id
    with acs.thread(bob, thread_id) as tc:
        message = tc.get_message(sent.id)
        html_message = tc.get_message(html.id)
    assert message.id == sent.id
    assert message.type == ChatMessageType.TEXT
    assert message.content.message == "hello bob"
    assert message.sender.properties["id"] == alice.id
    assert message.sender_display_name == "Alice"
    assert message.metadata == {"tag": "greeting"}
    assert message.created_on.tzinfo is not None and abs((message.created_on - utcnow()).total_seconds()) < 30
    assert message.version == message.id  # spec §5.2: version starts as the id
    assert message.edited_on is None and message.deleted_on is None
    assert int(message.sequence_id) >= 1
    assert html_message.type == ChatMessageType.HTML
    assert html_message.content.message == "<b>bold</b>"
    assert int(html_message.sequence_id) == int(message.sequence_id) + 1


def test_list_messages_newest_first(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "order", (bob,))
    with acs.thread(alice, thread_id) as tc:
        ids = [tc.send_message(f"m{i}").id for i in range(4)]
    with acs.thread(bob, thread_id) as tc:
        messages = list(tc.list_messages())
    texts = [m for m in messages if m.type == ChatMessageType.TEXT]
    assert [m.id for m in texts] == list(reversed(ids))
    assert [m.content.message for m in texts] == ["m3", "m2", "m1", "m0"]
    sequence = [int(m.sequence_id) for m in messages]
    assert sequence == sorted(sequence, reverse=True)
    assert len(set(sequence)) == len(sequence)


def test_list_messages_pages(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice, "paging")
    with acs.thread(alice, thread_id) as tc:
        for i in range(5):
            tc.send_message(f"p{i}")
        everything = [m.id for m in tc.list_messages()]
        pages = [[m.id for m in page] for page in tc.list_messages(results_per_page=2).by_page()]
        assert all(1 <= len(page) <= 2 for page in pages), pages
        assert len(pages) == (len(everything) + 1) // 2
        assert [m for page in pages for m in page] == everything

        pager = tc.list_messages(results_per_page=1).by_page()
        first = [m.id for m in next(pager)]
        token = pager.continuation_token
        assert token
        rest = [m.id for page in tc.list_messages(results_per_page=1).by_page(token) for m in page]
    assert first + rest == everything


def test_list_messages_start_time(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice, "since")
    with acs.thread(alice, thread_id) as tc:
        old = tc.send_message("old").id
        time.sleep(1.1)
        cutoff = utcnow()
        time.sleep(0.1)
        new = tc.send_message("new").id
        since = [m.id for m in tc.list_messages(start_time=cutoff)]
    assert new in since
    assert old not in since


def test_list_messages_pages_from_a_sequence_id_cursor(acs: Acs, raw: RawApi, alice: User) -> None:
    """A nextLink made before schema 0006 carries the last sequence id (`s`), not the message id:
    it still continues the listing where its page ended."""
    thread_id = acs.create_thread(alice, "old cursor")
    with acs.thread(alice, thread_id) as tc:
        for i in range(5):
            tc.send_message(f"c{i}")
        everything = [(m.id, int(m.sequence_id)) for m in tc.list_messages()]
    _, third_seq = everything[2]
    state = json.dumps({"t": None, "s": third_seq, "n": 2, "v": "2024-03-07"}, separators=(",", ":"))
    token = base64.urlsafe_b64encode(state.encode()).decode().rstrip("=")
    page = raw.chat(
        "GET", f"/chat/threads/{thread_id}/messages", alice.token, params={"syncState": token, "maxPageSize": "2"}
    ).json()
    assert [m["id"] for m in page["value"]] == [everything[3][0], everything[4][0]]
    assert ("nextLink" in page) == (len(everything) > 5)


def test_list_messages_start_time_after_the_newest_message_is_empty(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice, "nothing since")
    with acs.thread(alice, thread_id) as tc:
        tc.send_message("before")
        assert list(tc.list_messages(start_time=utcnow() + dt.timedelta(minutes=5))) == []


def test_update_message_by_sender(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "edit", (bob,))
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("draft", metadata={"a": "1"}).id
        original = tc.get_message(message_id)
        time.sleep(0.01)
        assert tc.update_message(message_id, content="final", metadata={"a": "2"}) is None
    with acs.thread(bob, thread_id) as tc:
        edited = tc.get_message(message_id)
        listed = {m.id: m for m in tc.list_messages()}[message_id]
    assert edited.content.message == "final"
    assert edited.metadata == {"a": "2"}
    assert edited.edited_on is not None and edited.edited_on >= original.created_on
    assert edited.version != original.version
    assert int(edited.version) > int(original.version)
    assert edited.sequence_id == original.sequence_id
    assert listed.content.message == "final" and listed.edited_on is not None


def test_update_message_with_nothing_is_204(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice)
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("same").id
        assert tc.update_message(message_id) is None
        assert tc.get_message(message_id).content.message == "same"


def test_only_the_sender_edits_or_deletes(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "mine", (bob,))
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("alice's words").id
    with acs.thread(bob, thread_id) as tc:
        with pytest.raises(HttpResponseError) as edit:
            tc.update_message(message_id, content="bob's words")
        assert edit.value.status_code == 403
        with pytest.raises(HttpResponseError) as delete:
            tc.delete_message(message_id)
        assert delete.value.status_code == 403
        message = tc.get_message(message_id)
    assert message.content.message == "alice's words"
    assert message.edited_on is None and message.deleted_on is None


def test_delete_message_sets_deleted_on(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "delete", (bob,))
    with acs.thread(alice, thread_id) as tc:
        doomed = tc.send_message("oops").id
        kept = tc.send_message("fine").id
        assert tc.delete_message(doomed) is None
    with acs.thread(bob, thread_id) as tc:
        listed = {m.id: m for m in tc.list_messages()}
        try:
            fetched = tc.get_message(doomed)
        except ResourceNotFoundError:
            fetched = None  # GET of a deleted message: 404 or deletedOn (spec §9.9, unverified)
    assert listed[kept].deleted_on is None
    assert doomed in listed, "deleted messages stay listed with deletedOn (spec §9.9)"
    assert listed[doomed].deleted_on is not None
    assert listed[doomed].content is None or not listed[doomed].content.message
    if fetched is not None:
        assert fetched.deleted_on is not None


def test_non_participant_cannot_read_or_write(acs: Acs, alice: User, carol: User) -> None:
    thread_id = acs.create_thread(alice, "closed")
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("secret").id
    with acs.thread(carol, thread_id) as tc:
        for call in (
            lambda: tc.send_message("let me in"),
            lambda: tc.get_message(message_id),
            lambda: list(tc.list_messages()),
            lambda: tc.update_message(message_id, content="x"),
            lambda: tc.delete_message(message_id),
        ):
            with pytest.raises(HttpResponseError) as caught:
                call()
            assert caught.value.status_code == 403
    with acs.thread(alice, thread_id) as tc:
        texts = [m.content.message for m in tc.list_messages() if m.type == ChatMessageType.TEXT]
    assert texts == ["secret"]


def test_get_unknown_message_is_404(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice)
    with acs.thread(alice, thread_id) as tc, pytest.raises(HttpResponseError) as caught:
        tc.get_message("1234567890123")
    assert caught.value.status_code == 404
