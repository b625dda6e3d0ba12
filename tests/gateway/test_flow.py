"""The original ACS Flask example's flow and every endpoint's JSON shape, mounted and standalone."""

from __future__ import annotations

import datetime as dt

import httpx

from ._client import Gateway, error_of


def parse_utc(value: str) -> dt.datetime:
    assert value.endswith("Z"), value
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0)
    return parsed


def test_example_flow(gateway: Gateway) -> None:
    users = gateway.ok(gateway.post("/create_users"))
    assert set(users) == {"user1_id", "user2_id", "user1_token", "user2_token"}
    assert users["user1_id"].startswith("8:acs:") and users["user2_id"].startswith("8:acs:")
    assert users["user1_id"] != users["user2_id"]
    u1, u2, t1, t2 = users["user1_id"], users["user2_id"], users["user1_token"], users["user2_token"]

    created = gateway.ok(gateway.post("/create_thread", {"user1_id": u1}, t1))
    assert set(created) == {"thread_id"}
    thread_id = created["thread_id"]
    added = gateway.ok(gateway.post("/add_user", {"thread_id": thread_id, "user2_id": u2}, t1))
    assert added == {"message": "User added successfully"}

    first = gateway.ok(gateway.post("/send_message", {"thread_id": thread_id, "user_id": u1, "message": "Hello!"}, t1))
    assert first["message"] == "Message sent successfully" and first["message_id"]
    second = gateway.ok(
        gateway.post("/send_message", {"thread_id": thread_id, "user_id": u2, "message": "Hi, user1"}, t2)
    )
    assert second["message_id"] != first["message_id"]

    received_by_2 = gateway.ok(gateway.get("/get_messages", t2, thread_id=thread_id, user_id=u2))["messages"]
    assert [(m["sender"], m["message"]) for m in received_by_2] == [(u1, "Hello!")]
    assert {"sender", "message", "created_on"} <= set(received_by_2[0])
    parse_utc(received_by_2[0]["created_on"])
    received_by_1 = gateway.ok(gateway.get("/get_messages", t1, thread_id=thread_id, user_id=u1))["messages"]
    assert [(m["sender"], m["message"]) for m in received_by_1] == [(u2, "Hi, user1")]

    for user_id, token in ((u1, t1), (u2, t2)):
        everything = gateway.ok(gateway.get("/get_all_messages", token, thread_id=thread_id, user_id=user_id))
        assert [(m["sender"], m["message"]) for m in everything["messages"]] == [(u1, "Hello!"), (u2, "Hi, user1")]
        times = [parse_utc(m["created_on"]) for m in everything["messages"]]
        assert times == sorted(times)


def test_get_messages_is_newest_first_and_honours_since(gateway: Gateway) -> None:
    pair = gateway.create_users()
    thread_id = gateway.thread_for(pair)
    for text in ("one", "two", "three"):
        gateway.send(thread_id, pair.user1_id, pair.user1_token, text)
    gateway.send(thread_id, pair.user2_id, pair.user2_token, "mine, not received")
    messages = gateway.ok(gateway.get("/get_messages", pair.user2_token, thread_id=thread_id, user_id=pair.user2_id))
    assert [m["message"] for m in messages["messages"]] == ["three", "two", "one"]

    since = messages["messages"][1]["created_on"]  # "two"
    later = gateway.ok(
        gateway.get("/get_messages", pair.user2_token, thread_id=thread_id, user_id=pair.user2_id, since=since)
    )
    assert [m["message"] for m in later["messages"]] == ["three", "two"]


def test_get_all_messages_reads_every_page(gateway: Gateway) -> None:
    """The servers page at 7 messages, so 30 messages take five pages."""
    pair = gateway.create_users()
    thread_id = gateway.thread_for(pair)
    sent = []
    for i in range(30):
        user, token = (pair.user1_id, pair.user1_token) if i % 2 == 0 else (pair.user2_id, pair.user2_token)
        sent.append((user, f"message {i}"))
        gateway.send(thread_id, user, token, f"message {i}")
    everything = gateway.ok(
        gateway.get("/get_all_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id)
    )
    assert [(m["sender"], m["message"]) for m in everything["messages"]] == sent
    received = gateway.ok(gateway.get("/get_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id))
    assert [m["message"] for m in received["messages"]] == [f"message {i}" for i in range(29, 0, -2)]


def test_only_text_and_html_messages_are_listed(gateway: Gateway) -> None:
    """The thread's system messages (participant added, ...) are not part of the conversation."""
    pair = gateway.create_users()
    thread_id = gateway.thread_for(pair)
    gateway.send(thread_id, pair.user2_id, pair.user2_token, "<b>bold</b> stays as sent")
    everything = gateway.ok(
        gateway.get("/get_all_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id)
    )
    assert [m["message"] for m in everything["messages"]] == ["<b>bold</b> stays as sent"]
    assert all(m["type"] in ("text", "html") for m in everything["messages"])


def test_create_thread_with_topic_and_a_fresh_thread_is_empty(gateway: Gateway) -> None:
    pair = gateway.create_users()
    thread_id = gateway.create_thread(pair.user1_id, pair.user1_token, topic="Design review")
    assert thread_id
    empty = gateway.ok(gateway.get("/get_all_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id))
    assert empty == {"messages": []}


def test_openapi_description(gateway: Gateway) -> None:
    document = gateway.ok(gateway.get("/gateway/openapi.json"))
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/create_users",
        "/create_thread",
        "/add_user",
        "/send_message",
        "/get_messages",
        "/get_all_messages",
    }
    assert document["paths"]["/get_messages"]["get"]["security"] == [{"userToken": []}]


def test_identity_endpoint_for_the_page(gateway: Gateway) -> None:
    body = gateway.ok(gateway.post("/gateway/identity"))
    assert set(body) == {"user_id", "token", "expires_on"} and body["user_id"].startswith("8:acs:")
    assert parse_utc(body["expires_on"]) > dt.datetime.now(dt.UTC)
    thread_id = gateway.create_thread(body["user_id"], body["token"])
    assert thread_id


def test_unknown_path_and_wrong_method_are_json_errors(gateway: Gateway) -> None:
    error_of(gateway.http.get("/create_users"), 405)
    error_of(gateway.http.delete("/send_message"), 405)
    response = gateway.http.get("/no/such/endpoint")
    assert response.status_code == 404 and "error" in response.json()


def test_mounted_page_is_served_at_root(serve_process: object) -> None:
    response = httpx.get(f"{serve_process.http_url}/", trust_env=False)  # type: ignore[attr-defined]
    assert response.status_code == 200 and "<title>Hubbub chat</title>" in response.text
    for asset in ("app.js", "style.css"):
        assert httpx.get(f"{serve_process.http_url}/{asset}", trust_env=False).status_code == 200  # type: ignore[attr-defined]
