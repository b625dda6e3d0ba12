"""`GET /search_messages` on the simple REST API, mounted and standalone (both over a Hubbub upstream)."""

from __future__ import annotations

from ._client import Gateway, error_of


def test_search_in_a_thread_and_across_threads(gateway: Gateway) -> None:
    pair = gateway.create_users()
    thread_id = gateway.thread_for(pair)
    other = gateway.create_thread(pair.user1_id, pair.user1_token, "other")
    for i in range(9):  # more than one page of the servers' maximum page size (7)
        gateway.send(thread_id, pair.user1_id, pair.user1_token, f"pelican {i} <here>")
    gateway.send(other, pair.user1_id, pair.user1_token, "a pelican elsewhere")

    in_thread = gateway.ok(
        gateway.get("/search_messages", pair.user2_token, thread_id=thread_id, user_id=pair.user2_id, q="pelican")
    )["results"]
    assert len(in_thread) == 9 and {r["thread_id"] for r in in_thread} == {thread_id}
    first = in_thread[0]
    assert first["message"]["sender"] == pair.user1_id and first["message"]["message"].startswith("pelican")
    assert first["snippet"].startswith("<mark>pelican</mark>") and "&lt;here&gt;" in first["snippet"]

    everywhere = gateway.ok(gateway.get("/search_messages", pair.user1_token, user_id=pair.user1_id, q="pelican"))
    assert len(everywhere["results"]) == 10
    for_user2 = gateway.ok(gateway.get("/search_messages", pair.user2_token, user_id=pair.user2_id, q="pelican"))
    assert {r["thread_id"] for r in for_user2["results"]} == {thread_id}  # user2 is not in `other`


def test_search_needs_the_users_token(gateway: Gateway) -> None:
    pair = gateway.create_users()
    thread_id = gateway.thread_for(pair)
    params = {"thread_id": thread_id, "user_id": pair.user2_id, "q": "x"}
    assert error_of(gateway.get("/search_messages", None, **params), 401)
    assert error_of(gateway.get("/search_messages", pair.user1_token, **params), 403)
    assert error_of(gateway.get("/search_messages", pair.user2_token, thread_id=thread_id, user_id=pair.user2_id), 400)
    assert error_of(gateway.get("/search_messages", pair.user2_token, **{**params, "thread_id": "nope"}), 400)
    outsider = gateway.create_users()
    assert error_of(
        gateway.get("/search_messages", outsider.user1_token, **{**params, "user_id": outsider.user1_id}), 403
    )
