"""Typing notifications and read receipts (spec §5 ops 14-16, §9.5, §9.13)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from ._acs import Acs, User, utcnow


def test_typing_notification_is_200(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "typing", (bob,))
    with acs.thread(bob, thread_id) as tc:
        assert tc.send_typing_notification() is None
        assert tc.send_typing_notification(sender_display_name="Bob") is None


def test_one_read_receipt_per_participant(acs: Acs, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "receipts", (bob,))
    with acs.thread(alice, thread_id) as tc:
        first = tc.send_message("first").id
        second = tc.send_message("second").id
        assert tc.send_read_receipt(first) is None
        assert tc.send_read_receipt(second) is None
    with acs.thread(bob, thread_id) as tc:
        assert tc.send_read_receipt(first) is None
        receipts = list(tc.list_read_receipts(results_per_page=2, skip=0))
        pages = [list(page) for page in tc.list_read_receipts(results_per_page=1).by_page()]
    by_reader = {r.sender.properties["id"]: r for r in receipts}
    assert len(receipts) == 2
    assert by_reader[alice.id].chat_message_id == second  # the latest one wins
    assert by_reader[bob.id].chat_message_id == first
    for receipt in receipts:
        assert receipt.read_on.tzinfo is not None
        assert abs((receipt.read_on - utcnow()).total_seconds()) < 30
    assert [len(page) for page in pages] == [1, 1]


def test_read_receipt_is_visible_at_once(acs: Acs, alice: User, bob: User) -> None:
    """The official e2e tests poll for the id they just acknowledged (§9.5, read-after-write)."""
    thread_id = acs.create_thread(alice, "now", (bob,))
    with acs.thread(alice, thread_id) as tc:
        ids = [tc.send_message(f"m{i}").id for i in range(3)]
    with acs.thread(bob, thread_id) as tc:
        for message_id in ids:
            tc.send_read_receipt(message_id)
            assert [r.chat_message_id for r in tc.list_read_receipts()] == [message_id]


def test_non_participant_cannot_type_or_read(acs: Acs, alice: User, carol: User) -> None:
    thread_id = acs.create_thread(alice)
    with acs.thread(alice, thread_id) as tc:
        message_id = tc.send_message("x").id
    with acs.thread(carol, thread_id) as tc:
        for call in (
            lambda: tc.send_typing_notification(),
            lambda: tc.send_read_receipt(message_id),
            lambda: list(tc.list_read_receipts()),
        ):
            with pytest.raises(HttpResponseError) as caught:
                call()
            assert caught.value.status_code == 403
