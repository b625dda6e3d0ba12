"""Message search (docs/search.md), an extension: raw requests on both engines.

The history and membership changes go through the official SDK, as an app would make them; search
has no official client, so it is called with hand-made requests.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from azure.communication.chat import ChatParticipant

from ._acs import Acs, RawApi, User, assert_acs_error, utcnow


def search(raw: RawApi, user: User, q: str, thread_id: str | None = None, **params: str) -> httpx.Response:
    path = f"/chat/threads/{thread_id}/messages:search" if thread_id else "/chat/messages:search"
    return raw.chat("GET", path, user.token, params={"q": q, **params})


def found(raw: RawApi, user: User, q: str, thread_id: str | None = None, **params: str) -> list[dict[str, Any]]:
    """Every result of a search, following nextLink."""
    response = search(raw, user, q, thread_id, **params)
    results: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        results += body["value"]
        if "nextLink" not in body:
            return results
        response = raw.client.get(body["nextLink"], headers={"Authorization": f"Bearer {user.token}"})


def texts(results: list[dict[str, Any]]) -> list[str]:
    return [r["message"]["content"]["message"] for r in results]


def send(acs: Acs, user: User, thread_id: str, *messages: str, type: str = "text") -> list[str]:
    with acs.thread(user, thread_id) as tc:
        return [tc.send_message(m, chat_message_type=type).id for m in messages]


def test_search_in_a_thread_finds_whole_words(acs: Acs, raw: RawApi, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "search", (bob,))
    send(acs, alice, thread_id, "Lunch at the noodle bar?", "No, noodles are boring", "NOODLE time")
    results = found(raw, bob, "noodle", thread_id)
    assert sorted(texts(results)) == ["Lunch at the noodle bar?", "NOODLE time"]
    first = results[0]
    assert first["chatThreadId"] == thread_id
    assert first["message"]["type"] == "text" and first["message"]["senderCommunicationIdentifier"]
    assert "<mark>" in first["snippet"]
    assert texts(found(raw, bob, "noodle bar", thread_id)) == ["Lunch at the noodle bar?"]  # every word
    assert found(raw, bob, "pizza", thread_id) == []


def test_results_rank_by_relevance_then_recency_or_by_time(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "ranking")
    send(acs, alice, thread_id, "tea", "tea tea tea, tea and more tea", "I like tea a lot more than anything else here")
    relevance = texts(found(raw, alice, "tea", thread_id))
    assert relevance[0] == "tea tea tea, tea and more tea"
    by_time = texts(found(raw, alice, "tea", thread_id, orderBy="time"))
    assert by_time == [
        "I like tea a lot more than anything else here",
        "tea tea tea, tea and more tea",
        "tea",
    ]
    send(acs, alice, thread_id, "tea", "tea")
    ties = found(raw, alice, "tea", thread_id)
    plain = [r for r in ties if r["message"]["content"]["message"] == "tea"]
    stamps = [r["message"]["createdOn"] for r in plain]
    assert len(plain) == 3 and stamps == sorted(stamps, reverse=True)  # equal rank: newest first


def test_an_outsider_finds_nothing_and_may_not_search_the_thread(
    acs: Acs, raw: RawApi, alice: User, bob: User, carol: User
) -> None:
    thread_id = acs.create_thread(alice, "private", (bob,))
    send(acs, alice, thread_id, "the secret password is swordfish")
    assert found(raw, carol, "swordfish") == []
    assert_acs_error(search(raw, carol, "swordfish", thread_id), 403)
    assert_acs_error(search(raw, carol, "swordfish", "19:nosuchthread@thread.v2"), 404)
    assert texts(found(raw, bob, "swordfish")) == ["the secret password is swordfish"]


def test_a_later_share_history_time_hides_earlier_messages(acs: Acs, raw: RawApi, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "history")
    send(acs, alice, thread_id, "early walrus")
    time.sleep(0.05)
    cutoff = utcnow()
    time.sleep(0.05)
    send(acs, alice, thread_id, "late walrus")
    with acs.thread(alice, thread_id) as tc:
        tc.add_participants([ChatParticipant(identifier=bob.identifier, share_history_time=cutoff)])
    assert texts(found(raw, bob, "walrus", thread_id)) == ["late walrus"]
    assert texts(found(raw, bob, "walrus")) == ["late walrus"]
    with acs.thread(bob, thread_id) as tc:
        listed = [m.content.message for m in tc.list_messages() if m.type == "text"]
    assert listed == ["late walrus"]  # the same window as the history


def test_a_removed_participant_finds_what_it_could_read(acs: Acs, raw: RawApi, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "leaving", (bob,))
    send(acs, alice, thread_id, "before penguin")
    with acs.thread(alice, thread_id) as tc:
        tc.remove_participant(bob.identifier)
    send(acs, alice, thread_id, "after penguin")
    assert texts(found(raw, bob, "penguin", thread_id)) == ["before penguin"]
    assert texts(found(raw, bob, "penguin")) == ["before penguin"]
    assert sorted(texts(found(raw, alice, "penguin"))) == ["after penguin", "before penguin"]


def test_edits_and_deletes_show_at_once(acs: Acs, raw: RawApi, alice: User, bob: User) -> None:
    thread_id = acs.create_thread(alice, "changes", (bob,))
    edited, deleted = send(acs, alice, thread_id, "meet at the harbour", "bring the lobster")
    with acs.thread(alice, thread_id) as tc:
        tc.update_message(edited, content="meet at the station")
        tc.delete_message(deleted)
    assert found(raw, bob, "harbour", thread_id) == []
    assert texts(found(raw, bob, "station", thread_id)) == ["meet at the station"]
    assert found(raw, bob, "lobster", thread_id) == []
    assert found(raw, bob, "lobster") == []


def test_a_deleted_thread_is_not_searched(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "gone")
    send(acs, alice, thread_id, "ephemeral narwhal")
    assert len(found(raw, alice, "narwhal")) == 1
    with acs.chat(alice) as client:
        client.delete_chat_thread(thread_id)
    assert found(raw, alice, "narwhal") == []
    assert_acs_error(search(raw, alice, "narwhal", thread_id), 404)


def test_html_is_searched_by_its_text(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "html")
    (html_id,) = send(
        acs,
        alice,
        thread_id,
        '<p class="highlight">Fish &amp; <b>chips</b><br>tonight</p><script>x()</script>',
        type="html",
    )
    assert found(raw, alice, "highlight", thread_id) == []  # an attribute, not text
    assert found(raw, alice, "script", thread_id) == []
    assert found(raw, alice, "amp", thread_id) == []
    results = found(raw, alice, "chips tonight", thread_id)
    assert [r["message"]["id"] for r in results] == [html_id]
    assert results[0]["message"]["content"]["message"].startswith("<p ")  # the message as sent
    assert results[0]["snippet"] == "Fish &amp; <mark>chips</mark> <mark>tonight</mark>"
    with acs.thread(alice, thread_id) as tc:
        tc.update_message(html_id, content="<i>salad</i>")
    assert found(raw, alice, "chips", thread_id) == []
    assert len(found(raw, alice, "salad", thread_id)) == 1


def test_non_ascii_words(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "unicode")
    send(acs, alice, thread_id, "Schöne Grüße aus Köln", "привет, как дела?", "東京 で 会いましょう", "cafe")
    assert texts(found(raw, alice, "grüße", thread_id)) == ["Schöne Grüße aus Köln"]
    assert texts(found(raw, alice, "привет", thread_id)) == ["привет, как дела?"]
    assert texts(found(raw, alice, "東京", thread_id)) == ["東京 で 会いましょう"]
    assert texts(found(raw, alice, "café", thread_id)) == []  # accents count, on every engine
    assert "<mark>Grüße</mark>" in found(raw, alice, "Grüße", thread_id)[0]["snippet"]
    # Case folds beyond ASCII on every engine (a PostgreSQL database in the C locale too).
    send(acs, alice, thread_id, "ÄRGER im BÜRO", "Ещё ПРИВЕТ")
    assert texts(found(raw, alice, "ärger büro", thread_id)) == ["ÄRGER im BÜRO"]
    assert sorted(texts(found(raw, alice, "ПрИвЕт", thread_id))) == ["Ещё ПРИВЕТ", "привет, как дела?"]


def test_paging_with_next_link(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "pages")
    ids = send(acs, alice, thread_id, *[f"otter number {i}" for i in range(7)])
    first = search(raw, alice, "otter", thread_id, maxPageSize="3", orderBy="time").json()
    assert len(first["value"]) == 3 and "nextLink" in first
    everything = found(raw, alice, "otter", thread_id, maxPageSize="3", orderBy="time")
    assert [r["message"]["id"] for r in everything] == list(reversed(ids))
    across = found(raw, alice, "otter", maxPageSize="2")
    assert sorted(r["message"]["id"] for r in across) == sorted(ids)


def test_query_syntax_is_only_words(acs: Acs, raw: RawApi, alice: User) -> None:
    thread_id = acs.create_thread(alice, "syntax")
    send(acs, alice, thread_id, 'say "hello" OR NOT goodbye')
    assert len(found(raw, alice, '"hello" OR', thread_id)) == 1
    assert len(found(raw, alice, "hello* (goodbye", thread_id)) == 1
    assert_acs_error(search(raw, alice, " ,;* ", thread_id), 400)
    assert_acs_error(search(raw, alice, "x" * 300, thread_id), 400)
    assert_acs_error(raw.chat("GET", f"/chat/threads/{thread_id}/messages:search", alice.token), 400)
    assert_acs_error(search(raw, alice, "hello", thread_id, orderBy="size"), 400)
    assert_acs_error(search(raw, alice, "hello", thread_id, syncState="not-a-token"), 400)


@pytest.mark.parametrize("path", ["/chat/messages:search", "/chat/threads/19:x@thread.v2/messages:search"])
def test_search_needs_a_token_and_an_api_version(raw: RawApi, alice: User, path: str) -> None:
    assert_acs_error(raw.chat("GET", path, None, params={"q": "x"}), 401)
    assert_acs_error(raw.chat("GET", path, alice.token, params={"q": "x"}, api_version=None), 400)


def test_the_openapi_file_describes_the_routes() -> None:
    import json

    from _services import REPO_ROOT
    from hubbub.server.api import search as search_api

    document = json.loads((REPO_ROOT / "docs" / "search.openapi.json").read_text())
    routes = {route.path.replace("{thread_id}", "{chatThreadId}") for route in search_api.routes}
    assert set(document["paths"]) == routes
    for path in routes:
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert {"q", "maxPageSize", "orderBy", "syncState", "api-version"} <= names
