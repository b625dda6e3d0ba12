"""`search_messages` in Hubbub's SDK (an extension), sync and async, against a real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from _services import HubbubServer
from hubbub._sdk import chat_calls
from hubbub.chat import ChatClient, ChatMessageSearchResult, ChatParticipant, CommunicationTokenCredential
from hubbub.chat.aio import ChatClient as AsyncChatClient
from hubbub.chat.aio import CommunicationTokenCredential as AsyncCredential

from ._tokens import fake_token
from .conftest import User


def test_search_requests() -> None:
    thread = chat_calls.search_messages("2024-03-07", "19:a b@thread.v2", "fish chips", 5, "time")
    assert thread.method == "GET" and thread.path == "/chat/threads/19%3Aa%20b%40thread.v2/messages:search"
    assert dict(thread.params) == {
        "q": "fish chips",
        "maxPageSize": "5",
        "orderBy": "time",
        "api-version": "2024-03-07",
    }
    everywhere = chat_calls.search_messages("2024-03-07", None, "fish", None, "relevance")
    assert everywhere.path == "/chat/messages:search" and "maxPageSize" not in dict(everywhere.params)
    with pytest.raises(ValueError, match="query"):
        chat_calls.search_messages("2024-03-07", None, "  ", None, "relevance")
    with pytest.raises(ValueError, match="order_by"):
        chat_calls.search_messages("2024-03-07", None, "fish", None, "size")


def test_sync_search_in_a_thread_and_across_threads(sdk_server: HubbubServer, make_user: Callable[[], User]) -> None:
    alice, bob = make_user(), make_user()
    with ChatClient(sdk_server.http_url, CommunicationTokenCredential(alice.token)) as chat:
        first = chat.create_chat_thread("one", thread_participants=[ChatParticipant(identifier=bob.identifier)])
        second = chat.create_chat_thread("two")
        one = chat.get_chat_thread_client(first.chat_thread.id)
        two = chat.get_chat_thread_client(second.chat_thread.id)
        sent = [one.send_message(f"heron sighting {i}").id for i in range(5)]
        html = two.send_message("<p>a <b>heron</b> again</p>", chat_message_type="html").id

        results = list(one.search_messages("heron", order_by="time"))
        assert all(isinstance(r, ChatMessageSearchResult) for r in results)
        assert [r.message.id for r in results] == list(reversed(sent))
        assert {r.thread_id for r in results} == {first.chat_thread.id}
        assert results[0].snippet == "<mark>heron</mark> sighting 4"
        assert results[0].message.content is not None and results[0].message.content.message == "heron sighting 4"
        assert isinstance(results[0].message.created_on, dt.datetime)

        pages = [[r.message.id for r in page] for page in one.search_messages("heron", results_per_page=2).by_page()]
        assert [len(page) for page in pages] == [2, 2, 1]
        pager = one.search_messages("heron", results_per_page=2, order_by="time").by_page()
        next(pager)
        token = pager.continuation_token
        assert token
        rest = [r.message.id for page in one.search_messages("heron").by_page(token) for r in page]
        assert rest == list(reversed(sent))[2:]

        everywhere = list(chat.search_messages("heron"))
        assert {r.message.id for r in everywhere} == {*sent, html}
        (html_result,) = [r for r in everywhere if r.thread_id == second.chat_thread.id]
        assert html_result.snippet == "a <mark>heron</mark> again"
    with ChatClient(sdk_server.http_url, CommunicationTokenCredential(bob.token)) as chat:
        assert {r.message.id for r in chat.search_messages("heron")} == set(sent)  # not the thread bob is not in


async def test_async_search(sdk_server: HubbubServer, make_user: Callable[[], User]) -> None:
    alice = make_user()
    async with AsyncChatClient(sdk_server.http_url, AsyncCredential(alice.token)) as chat:
        created = await chat.create_chat_thread("async")
        thread = chat.get_chat_thread_client(created.chat_thread.id)
        ids = [(await thread.send_message(f"grebe {i}")).id for i in range(3)]
        found = [r.message.id async for r in thread.search_messages("grebe", order_by="time")]
        assert found == list(reversed(ids))
        across = [r async for r in chat.search_messages("grebe", results_per_page=1)]
        assert sorted(r.message.id for r in across) == sorted(ids)
        assert all(r.thread_id == created.chat_thread.id for r in across)


def test_the_request_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"value": [{"chatThreadId": "t", "snippet": "<mark>x</mark>", "message": {"id": "1", "type": "text"}}]}
        return httpx.Response(200, json=body)

    chat = ChatClient(
        "http://hubbub.test", CommunicationTokenCredential(fake_token(3600)), transport=httpx.MockTransport(handler)
    )
    (result,) = list(chat.search_messages("x y", results_per_page=3))
    assert result.thread_id == "t" and result.snippet == "<mark>x</mark>" and result.message.id == "1"
    url = urlsplit(str(seen[0].url))
    assert url.path == "/chat/messages:search"
    assert parse_qs(url.query) == {
        "q": ["x y"],
        "maxPageSize": ["3"],
        "orderBy": ["relevance"],
        "api-version": ["2024-03-07"],
    }
