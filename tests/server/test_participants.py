"""Participants (spec §5 ops 11-13), history sharing, and their behaviours (§9.3, 6, 7, 11)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant, CommunicationUserIdentifier
from azure.core.exceptions import HttpResponseError

from ._acs import Acs, User


def ids_of(participants: list[ChatParticipant]) -> list[str]:
    return [p.identifier.properties["id"] for p in participants]


def test_add_participants(acs: Acs, alice: User, bob: User, carol: User) -> None:
    thread_id = acs.create_thread(alice, "grow")
    with acs.thread(alice, thread_id) as tc:
        errors = tc.add_participants(
            [
                ChatParticipant(identifier=bob.identifier, display_name="Bob"),
                ChatParticipant(identifier=carol.identifier),
            ]
        )
        assert errors == []
        participants = {p.identifier.properties["id"]: p for p in tc.list_participants()}
        added = next(m for m in tc.list_messages() if m.type == ChatMessageType.PARTICIPANT_ADDED)
    assert set(participants) == {alice.id, bob.id, carol.id}
    assert participants[bob.id].display_name == "Bob"
    assert set(ids_of(added.content.participants)) == {bob.id, carol.id}
    assert added.content.initiator.properties["id"] == alice.id
    assert added.sender is None
    # the new participants can now use the thread
    with acs.thread(carol, thread_id) as tc:
        assert tc.send_message("hi, I'm new").id


def test_add_existing_participant_changes_nothing(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "same", (bob,))
    with acs.thread(alice, thread_id) as tc:
        before = sorted(ids_of(list(tc.list_participants())))
        assert tc.add_participants([ChatParticipant(identifier=bob.identifier)]) == []
        after = sorted(ids_of(list(tc.list_participants())))
    assert after == before == sorted([alice.id, bob.id])


def test_add_invalid_participant_is_reported(acs: Acs, alice: User, bob: User) -> None:
    ghost = f"8:acs:{uuid.uuid4()}_{uuid.uuid4()}"
    thread_id = acs.create_thread(alice)
    with acs.thread(alice, thread_id) as tc:
        errors = tc.add_participants(
            [ChatParticipant(identifier=CommunicationUserIdentifier(ghost)), ChatParticipant(identifier=bob.identifier)]
        )
        ids = set(ids_of(list(tc.list_participants())))
    assert len(errors) == 1
    participant, error = errors[0]
    assert error.target == ghost and participant.identifier.properties["id"] == ghost
    assert ids == {alice.id, bob.id}


def test_remove_participant(acs: Acs, alice: User, bob: User, carol: User) -> None:
    thread_id = acs.create_thread(alice, "shrink", (bob, carol))
    with acs.thread(alice, thread_id) as tc:
        assert tc.remove_participant(bob.identifier) is None
        remaining = set(ids_of(list(tc.list_participants())))
        removed = [m for m in tc.list_messages() if m.type == ChatMessageType.PARTICIPANT_REMOVED]
    assert remaining == {alice.id, carol.id}
    assert len(removed) == 1
    assert ids_of(removed[0].content.participants) == [bob.id]
    assert removed[0].content.initiator.properties["id"] == alice.id
    assert int(removed[0].sequence_id) > 1
    # §9.6: a removed participant cannot send any more
    with acs.thread(bob, thread_id) as tc, pytest.raises(HttpResponseError) as caught:
        tc.send_message("am I still here?")
    assert caught.value.status_code == 403
    with acs.chat(bob) as client:
        listed = {t.id: t for t in client.list_chat_threads()}
    assert thread_id not in listed or listed[thread_id].deleted_on is None


def test_participant_can_leave(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "leave", (bob,))
    with acs.thread(bob, thread_id) as tc:
        assert tc.remove_participant(bob.identifier) is None
    with acs.thread(alice, thread_id) as tc:
        assert set(ids_of(list(tc.list_participants()))) == {alice.id}


def test_non_participant_cannot_manage_participants(acs: Acs, alice: User, bob: User, carol: User) -> None:
    thread_id = acs.create_thread(alice, "members only", (bob,))
    with acs.thread(carol, thread_id) as tc:
        for call in (
            lambda: list(tc.list_participants()),
            lambda: tc.add_participants([ChatParticipant(identifier=carol.identifier)]),
            lambda: tc.remove_participant(bob.identifier),
        ):
            with pytest.raises(HttpResponseError) as caught:
                call()
            assert caught.value.status_code == 403
    with acs.thread(alice, thread_id) as tc:
        assert set(ids_of(list(tc.list_participants()))) == {alice.id, bob.id}


def test_list_participants_pages_and_skip(acs: Acs, alice: User) -> None:
    others = acs.new_users(3)
    thread_id = acs.create_thread(alice, "many", tuple(others))
    expected = {alice.id, *(u.id for u in others)}
    with acs.thread(alice, thread_id) as tc:
        pages = [ids_of(list(page)) for page in tc.list_participants(results_per_page=1).by_page()]
        skipped = ids_of(list(tc.list_participants(skip=2)))
        everything = ids_of(list(tc.list_participants()))
    assert [len(p) for p in pages] == [1, 1, 1, 1]
    assert {i for page in pages for i in page} == expected
    assert skipped == everything[2:]


def test_share_history_time(acs: Acs, alice: User, bob: User, carol: User) -> None:
    """A participant sees messages from their shareHistoryTime on; without one, from when they joined."""
    thread_id = acs.create_thread(alice, "history")
    with acs.thread(alice, thread_id) as tc:
        m1 = tc.send_message("one").id
        time.sleep(0.05)
        m2 = tc.send_message("two").id
        time.sleep(0.05)
        m3 = tc.send_message("three").id
        share_from = tc.get_message(m2).created_on
        assert tc.add_participants([ChatParticipant(identifier=bob.identifier, share_history_time=share_from)]) == []
        assert tc.add_participants([ChatParticipant(identifier=carol.identifier)]) == []
        time.sleep(0.05)
        m4 = tc.send_message("four").id

    def texts_for(user: User) -> list[str]:
        with acs.thread(user, thread_id) as tc:
            return [m.id for m in tc.list_messages() if m.type == ChatMessageType.TEXT]

    assert texts_for(alice) == [m4, m3, m2, m1]
    assert texts_for(bob) == [m4, m3, m2]
    assert texts_for(carol) == [m4]
    with acs.thread(bob, thread_id) as tc:
        participants = {p.identifier.properties["id"]: p for p in tc.list_participants()}
    assert participants[bob.id].share_history_time == share_from


def test_share_history_time_at_creation(acs: Acs, alice: User, bob: User) -> None:
    with acs.chat(alice) as client:
        thread_id = client.create_chat_thread(
            "from the start",
            thread_participants=[
                ChatParticipant(identifier=bob.identifier, share_history_time=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
            ],
        ).chat_thread.id
    with acs.thread(alice, thread_id) as tc:
        sent = tc.send_message("welcome").id
    with acs.thread(bob, thread_id) as tc:
        assert sent in [m.id for m in tc.list_messages()]
