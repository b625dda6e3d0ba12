"""Bad input is a 4xx with a JSON `{"error": ...}` body, never a 500."""

from __future__ import annotations

import base64

import pytest

from hubbub._sdk import chat_calls

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


# Thread ids that, sent upstream as they are, would change the path of the upstream call (or that no
# thread id looks like); each one is refused at the edge with a 400 before any upstream call.
BAD_THREAD_IDS = [
    "../../identities",
    "..",
    "a/b",
    "19:x@thread.v2/../../identities",
    "19:x@thread.v2?api-version=1999-01-01",
    "19:x@thread.v2#fragment",
    "19:x%2F..%2F@thread.v2",
    "%2e%2e",
    "19:a\x00b@thread.v2",
    "19:a b@thread.v2",
    "19:" + "x" * 300 + "@thread.v2",
]
BAD_USER_IDS = ["8:acs:a/../b", "8:acs:a\x00b", "8:", "8:acs:a?b", "8:acs:a b"]


@pytest.mark.parametrize("bad", BAD_THREAD_IDS)
def test_thread_ids_are_checked_before_the_upstream_call(gateway: Gateway, pair: Pair, bad: str) -> None:
    u1, t1 = pair.user1_id, pair.user1_token
    for response in (
        gateway.post("/send_message", {"thread_id": bad, "user_id": u1, "message": "hi"}, t1),
        gateway.post("/add_user", {"thread_id": bad, "user2_id": pair.user2_id}, t1),
        gateway.get("/get_messages", t1, thread_id=bad, user_id=u1),
        gateway.get("/get_all_messages", t1, thread_id=bad, user_id=u1),
    ):
        assert "thread_id" in error_of(response, 400)


@pytest.mark.parametrize("bad", BAD_USER_IDS)
def test_user_ids_are_checked_at_the_edge(gateway: Gateway, pair: Pair, bad: str) -> None:
    thread_id = gateway.thread_for(pair)
    t1 = pair.user1_token
    for response in (
        gateway.post("/create_thread", {"user1_id": bad}, t1),
        gateway.post("/add_user", {"thread_id": thread_id, "user2_id": bad}, t1),
        gateway.post("/add_user", {"thread_id": thread_id, "user2_id": pair.user2_id, "user_id": bad}, t1),
        gateway.post("/send_message", {"thread_id": thread_id, "user_id": bad, "message": "hi"}, t1),
        gateway.get("/get_messages", t1, thread_id=thread_id, user_id=bad),
        gateway.get("/get_all_messages", t1, thread_id=thread_id, user_id=bad),
    ):
        assert "user" in error_of(response, 400)


def test_more_bodies_and_parameters_that_used_to_fail(gateway: Gateway, pair: Pair) -> None:
    thread_id = gateway.thread_for(pair)
    u1, t1 = pair.user1_id, pair.user1_token
    deep = b'{"thread_id": "x", "extra": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    error_of(gateway.post("/send_message", token=t1, content=deep), 400)
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        error_of(gateway.get("/get_messages", t1, thread_id=thread_id, user_id=u1, since=since), 400)
    # a NUL in a message passes the gateway and is refused upstream, on the user's behalf
    error_of(gateway.post("/send_message", {"thread_id": thread_id, "user_id": u1, "message": "a\x00b"}, t1), 400)
    deep_token = "e30." + base64.b64encode(b"[" * 5_000 + b"]" * 5_000).decode() + ".c2ln"
    response = gateway.get("/get_messages", deep_token, thread_id=thread_id, user_id=u1)
    assert response.status_code == 401, response.text


def test_upstream_paths_are_percent_encoded() -> None:
    """The SDK calls the gateway makes encode every path segment (`quote(safe="")`, spec §2.1)."""
    call = chat_calls.send_message("2024-03-07", "../../identities", "hi", None, None, None)
    assert call.path == "/chat/threads/..%2F..%2Fidentities/messages"
    call = chat_calls.send_message("2024-03-07", "19:a@thread.v2", "hi", None, None, None)
    assert call.path == "/chat/threads/19%3Aa%40thread.v2/messages"
