"""Bad input is a 4xx with a JSON `{"error": ...}` body, never a 500."""

from __future__ import annotations

import pytest

from ._client import Gateway, Pair, error_of


@pytest.fixture
def pair(gateway: Gateway) -> Pair:
    return gateway.create_users()


def test_bodies_that_are_not_json_objects(gateway: Gateway, pair: Pair) -> None:
    for path in ("/create_thread", "/add_user", "/send_message"):
        error_of(gateway.post(path, token=pair.user1_token), 400)
        error_of(gateway.post(path, token=pair.user1_token, content=b"{not json"), 400)
        error_of(gateway.post(path, ["a", "list"], pair.user1_token), 400)
    error_of(gateway.post("/send_message", token=pair.user1_token, content=b"x" * 70_000), 413)


def test_missing_and_mistyped_fields(gateway: Gateway, pair: Pair) -> None:
    thread_id = gateway.thread_for(pair)
    u1, t1 = pair.user1_id, pair.user1_token
    cases = [
        ("/create_thread", {}),
        ("/create_thread", {"user1_id": 42}),
        ("/create_thread", {"user1_id": "alice"}),
        ("/create_thread", {"user1_id": u1, "topic": ["x"]}),
        ("/create_thread", {"user1_id": u1, "topic": "t" * 251}),
        ("/add_user", {"thread_id": thread_id}),
        ("/add_user", {"user2_id": pair.user2_id}),
        ("/add_user", {"thread_id": thread_id, "user2_id": ""}),
        ("/send_message", {"thread_id": thread_id, "user_id": u1}),
        ("/send_message", {"thread_id": thread_id, "user_id": u1, "message": ""}),
        ("/send_message", {"thread_id": thread_id, "user_id": u1, "message": {"text": "hi"}}),
        ("/send_message", {"user_id": u1, "message": "hi"}),
    ]
    for path, body in cases:
        message = error_of(gateway.post(path, body, t1), 400)
        assert "'" in message, message  # names the field


def test_bad_query_parameters(gateway: Gateway, pair: Pair) -> None:
    thread_id = gateway.thread_for(pair)
    u1, t1 = pair.user1_id, pair.user1_token
    for path in ("/get_messages", "/get_all_messages"):
        error_of(gateway.get(path, t1), 400)
        error_of(gateway.get(path, t1, thread_id=thread_id), 400)
        error_of(gateway.get(path, t1, user_id=u1), 400)
    error_of(gateway.get("/get_messages", t1, thread_id=thread_id, user_id=u1, since="yesterday"), 400)


def test_unknown_thread_is_a_client_error(gateway: Gateway, pair: Pair) -> None:
    missing = "19:00000000000000000000000000000000@thread.v2"
    u1, t1 = pair.user1_id, pair.user1_token
    for response in (
        gateway.get("/get_messages", t1, thread_id=missing, user_id=u1),
        gateway.post("/send_message", {"thread_id": missing, "user_id": u1, "message": "hi"}, t1),
        gateway.post("/add_user", {"thread_id": missing, "user2_id": pair.user2_id}, t1),
        gateway.get("/get_all_messages", t1, thread_id="not a thread id", user_id=u1),
    ):
        assert 400 <= response.status_code < 500, response.text
        assert isinstance(response.json()["error"], str)


def test_adding_a_nonexistent_user(gateway: Gateway, pair: Pair) -> None:
    thread_id = gateway.thread_for(pair)
    response = gateway.post("/add_user", {"thread_id": thread_id, "user2_id": "8:acs:nobody_here"}, pair.user1_token)
    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json()["error"], str)
