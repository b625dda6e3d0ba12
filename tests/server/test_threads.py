"""Thread operations (spec §5 ops 1-5) and their behaviours (§9.1-4, 6, 7, 10) with the sync chat SDK."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.core.exceptions import HttpResponseError

from ._acs import Acs, User, utcnow

THREAD_ID = re.compile(r"19:[^/]+@thread\.v2")


def near_now(value: dt.datetime, slack: float = 30.0) -> bool:
    return value.tzinfo is not None and abs((value - utcnow()).total_seconds()) < slack


def test_create_thread_returns_the_thread(acs: Acs, alice: User, bob: User) -> None:
    with acs.chat(alice) as client:
        result = client.create_chat_thread(
            "Planning", thread_participants=[ChatParticipant(identifier=bob.identifier, display_name="Bob")]
        )
    thread = result.chat_thread
    assert result.errors == []
    assert THREAD_ID.fullmatch(thread.id), thread.id
    assert thread.topic == "Planning"
    assert thread.created_by.properties["id"] == alice.id
    assert near_now(thread.created_on)

    with acs.thread(bob, thread.id) as tc:
        props = tc.get_properties()
        participants = {p.identifier.properties["id"]: p for p in tc.list_participants()}
    assert props.id == thread.id
    assert props.topic == "Planning"
    assert props.created_by.properties["id"] == alice.id
    assert props.created_on == thread.created_on
    # §9.3: the creator is a participant without being listed
    assert set(participants) == {alice.id, bob.id}
    assert participants[bob.id].display_name == "Bob"


def test_creator_listed_twice_is_deduplicated(acs: Acs, alice: User, bob: User) -> None:
    with acs.chat(alice) as client:
        result = client.create_chat_thread(
            "dedupe",
            thread_participants=[
                ChatParticipant(identifier=alice.identifier, display_name="Alice"),
                ChatParticipant(identifier=bob.identifier),
                ChatParticipant(identifier=bob.identifier),
            ],
        )
    with acs.thread(alice, result.chat_thread.id) as tc:
        ids = [p.identifier.properties["id"] for p in tc.list_participants()]
    assert sorted(ids) == sorted([alice.id, bob.id])


def test_create_thread_is_idempotent_per_repeatability_request_id(acs: Acs, alice: User, bob: User) -> None:
    key = str(uuid.uuid4())
    with acs.chat(alice) as client:
        first = client.create_chat_thread("once", idempotency_token=key)
        # §9.1: same key → same thread, even with a different body
        again = client.create_chat_thread(
            "once, differently",
            idempotency_token=key,
            thread_participants=[ChatParticipant(identifier=bob.identifier)],
        )
        other = client.create_chat_thread("once")
        listed = [t.id for t in client.list_chat_threads()]
    assert again.chat_thread.id == first.chat_thread.id
    assert again.chat_thread.created_on == first.chat_thread.created_on
    assert again.chat_thread.topic == "once"
    assert other.chat_thread.id != first.chat_thread.id
    assert listed.count(first.chat_thread.id) == 1
    assert sorted(listed) == sorted([first.chat_thread.id, other.chat_thread.id])


def test_idempotency_key_is_per_user(acs: Acs, alice: User, bob: User) -> None:
    """Another caller reusing a key must not be handed a thread they are not in."""
    key = str(uuid.uuid4())
    with acs.chat(alice) as client:
        mine = client.create_chat_thread("alice's", idempotency_token=key).chat_thread.id
    with acs.chat(bob) as client:
        theirs = client.create_chat_thread("bob's", idempotency_token=key).chat_thread
    assert theirs.id != mine
    assert theirs.topic == "bob's"


def test_invalid_participants_are_reported_with_target(acs: Acs, alice: User, bob: User) -> None:
    ghost = f"8:acs:{uuid.uuid4()}_{uuid.uuid4()}"
    from azure.communication.chat import CommunicationUserIdentifier

    with acs.chat(alice) as client:
        result = client.create_chat_thread(
            "with a ghost",
            thread_participants=[
                ChatParticipant(identifier=bob.identifier),
                ChatParticipant(identifier=CommunicationUserIdentifier(ghost)),
            ],
        )
    assert len(result.errors) == 1
    participant, error = result.errors[0]
    assert error.target == ghost
    assert participant is not None and participant.identifier.properties["id"] == ghost
    assert error.code and error.message
    with acs.thread(alice, result.chat_thread.id) as tc:
        ids = {p.identifier.properties["id"] for p in tc.list_participants()}
    assert ids == {alice.id, bob.id}


def test_list_chat_threads_is_scoped_to_the_caller(acs: Acs, alice: User, bob: User, carol: User) -> None:
    shared = acs.create_thread(alice, "shared", (bob,))
    private = acs.create_thread(alice, "private")
    bobs = acs.create_thread(bob, "bob's own")
    with acs.chat(alice) as client:
        alice_sees = {t.id: t for t in client.list_chat_threads()}
    with acs.chat(bob) as client:
        bob_sees = {t.id for t in client.list_chat_threads()}
    with acs.chat(carol) as client:
        carol_sees = list(client.list_chat_threads())
    assert set(alice_sees) == {shared, private}
    assert alice_sees[shared].topic == "shared"
    assert bob_sees == {shared, bobs}
    assert carol_sees == []


def test_list_chat_threads_pages(acs: Acs, alice: User) -> None:
    created = {acs.create_thread(alice, f"t{i}") for i in range(3)}
    with acs.chat(alice) as client:
        pages = [list(page) for page in client.list_chat_threads(results_per_page=1).by_page()]
        assert [len(page) for page in pages] == [1, 1, 1]
        assert {t.id for page in pages for t in page} == created

        pager = client.list_chat_threads(results_per_page=1).by_page()
        first = list(next(pager))
        token = pager.continuation_token
        assert token
        rest = [t.id for page in client.list_chat_threads(results_per_page=1).by_page(token) for t in page]
    assert len(rest) == 2
    assert {first[0].id, *rest} == created


def test_get_properties_for_a_non_participant_is_403(acs: Acs, alice: User, carol: User) -> None:
    thread_id = acs.create_thread(alice)
    with acs.thread(carol, thread_id) as tc, pytest.raises(HttpResponseError) as caught:
        tc.get_properties()
    assert caught.value.status_code == 403
    with acs.chat(carol) as client, pytest.raises(HttpResponseError) as deleted:
        client.delete_chat_thread(thread_id)
    assert deleted.value.status_code == 403
    with acs.thread(alice, thread_id) as tc:
        assert tc.get_properties().id == thread_id


def test_update_topic(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "old", (bob,))
    with acs.thread(bob, thread_id) as tc:
        assert tc.update_topic("new") is None
        assert tc.get_properties().topic == "new"
        updates = [m for m in tc.list_messages() if m.type == ChatMessageType.TOPIC_UPDATED]
    latest = updates[0]
    assert latest.content.topic == "new"
    assert latest.content.initiator.properties["id"] == bob.id
    assert latest.sender is None
    assert int(latest.sequence_id) >= 1
    with acs.chat(alice) as client:
        assert {t.id: t.topic for t in client.list_chat_threads()}[thread_id] == "new"


def test_update_topic_with_nothing_is_204_and_no_change(acs: Acs, alice: User) -> None:
    thread_id = acs.create_thread(alice, "stays")
    with acs.thread(alice, thread_id) as tc:
        before = [m.id for m in tc.list_messages()]
        assert tc.update_topic() is None
        assert tc.get_properties().topic == "stays"
        after = [m.id for m in tc.list_messages()]
    assert after == before


def test_delete_thread_twice_is_204(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "doomed", (bob,))
    with acs.chat(alice) as client:
        assert client.delete_chat_thread(thread_id) is None
        assert client.delete_chat_thread(thread_id) is None
        remaining = {t.id: t for t in client.list_chat_threads()}
    # deleted threads may be listed, but only with deletedOn (swagger example)
    assert thread_id not in remaining or remaining[thread_id].deleted_on is not None
    with acs.thread(bob, thread_id) as tc, pytest.raises(HttpResponseError) as caught:
        tc.send_message("into the void")
    assert caught.value.status_code in (403, 404)


def test_system_messages_on_create(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "sys", (bob,))
    with acs.thread(alice, thread_id) as tc:
        messages = list(tc.list_messages())
    added = [m for m in messages if m.type == ChatMessageType.PARTICIPANT_ADDED]
    assert added, [m.type for m in messages]
    assert {p.identifier.properties["id"] for p in added[-1].content.participants} == {alice.id, bob.id}
    assert added[-1].content.initiator.properties["id"] == alice.id
    assert added[-1].sender is None
    # sequence ids count every message, system ones included: 1..n
    assert sorted(int(m.sequence_id) for m in messages) == list(range(1, len(messages) + 1))
