"""The same scenarios through `azure.communication.chat` and `hubbub.chat` against a live server.

The official SDK talks https (it refuses bearer tokens over http); Hubbub's SDK talks plain http to
the same server. Results are normalized (`_compare.norm`) and must be equal.
"""

from __future__ import annotations

import datetime as dt
import types
import uuid
from collections.abc import Callable
from typing import Any

import azure.communication.chat as official_chat
import azure.communication.chat.aio as official_chat_aio
import azure.communication.identity as official_identity
import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError

import hubbub.chat as hubbub_chat
import hubbub.chat.aio as hubbub_chat_aio
import hubbub.identity as hubbub_identity
from _services import HubbubServer

from ._compare import Labels, norm, unordered
from ._tokens import fake_token
from .conftest import User

UserFactory = Callable[[], User]


def sdks(server: HubbubServer) -> list[tuple[types.ModuleType, str, dict[str, Any]]]:
    return [(official_chat, server.https_url, {}), (hubbub_chat, server.http_url, {})]


def chat_scenario(chat: types.ModuleType, endpoint: str, users: list[User], **kwargs: Any) -> dict[str, Any]:
    """Every chat operation once, with paging over several pages and a by_page resume."""
    one, two, three, outsider = users
    user = chat.CommunicationUserIdentifier
    participant = chat.ChatParticipant
    out: dict[str, Any] = {}
    client = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(one.token), **kwargs)
    token = str(uuid.uuid4())
    created = client.create_chat_thread(
        "topic",
        thread_participants=[
            participant(
                identifier=user(two.identifier.raw_id),
                display_name="Two",
                share_history_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            ),
            participant(identifier=user("8:acs:nobody")),
        ],
        idempotency_token=token,
    )
    again = client.create_chat_thread("topic", idempotency_token=token)
    out["create"] = created
    out["create_replayed_same_thread"] = again.chat_thread.id == created.chat_thread.id
    thread_id = created.chat_thread.id
    thread = client.get_chat_thread_client(thread_id)
    out["thread_id"] = thread.thread_id
    out["properties"] = thread.get_properties()
    thread.update_topic("new topic")
    thread.update_topic()
    out["properties_after_update"] = thread.get_properties()
    sent = [thread.send_message(f"m{i}", sender_display_name="One", metadata={"i": str(i)}) for i in range(3)]
    html = thread.send_message("<b>x</b>", chat_message_type=chat.ChatMessageType.HTML)
    out["sent"] = [*sent, html]
    out["get_message"] = thread.get_message(sent[0].id)
    thread.update_message(sent[0].id, "edited", metadata={"e": "1"})
    thread.update_message(sent[0].id)
    out["edited"] = thread.get_message(sent[0].id)
    thread.delete_message(sent[1].id)
    pages = thread.list_messages(results_per_page=2).by_page()
    first = list(next(pages))
    resumed = thread.list_messages(results_per_page=2).by_page(continuation_token=pages.continuation_token)
    out["messages"] = [first, *[list(page) for page in resumed]]
    start = out["properties"].created_on - dt.timedelta(seconds=1)
    out["messages_since"] = [m.type for m in thread.list_messages(start_time=start)]
    out["added"] = thread.add_participants(
        [
            participant(identifier=user(three.identifier.raw_id), display_name="Three"),
            participant(identifier=user("8:acs:nobody2")),
        ]
    )
    out["participants"] = [list(page) for page in thread.list_participants(results_per_page=1).by_page()]
    out["participants_skip"] = list(thread.list_participants(skip=1))
    thread.remove_participant(user(three.identifier.raw_id))
    out["participants_after_remove"] = list(thread.list_participants())
    thread.send_typing_notification(sender_display_name="One")
    thread.send_typing_notification()
    thread.send_read_receipt(sent[2].id)
    thread.send_read_receipt(html.id)
    other = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(two.token), **kwargs)
    other.get_chat_thread_client(thread_id).send_read_receipt(html.id)
    out["receipts"] = [list(page) for page in thread.list_read_receipts(results_per_page=1).by_page()]
    out["receipts_skip"] = list(thread.list_read_receipts(skip=1))
    out["threads"] = [list(page) for page in client.list_chat_threads(results_per_page=1).by_page()]
    out["threads_since"] = len(list(client.list_chat_threads(start_time=start)))
    stranger = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(outsider.token), **kwargs)
    out["errors"] = {
        "403": capture(lambda: stranger.get_chat_thread_client(thread_id).get_properties()),
        "404": capture(lambda: thread.get_message("1234567890123")),
    }
    client.delete_chat_thread(thread_id)
    client.delete_chat_thread(thread_id)
    out["after_delete"] = capture(lambda: thread.get_properties())
    for c in (client, other, stranger, thread):
        c.close()
    return out


def capture(action: Callable[[], Any]) -> tuple[str, int | None, str | None]:
    """The exception class, status and ACS error code of a failing call."""
    try:
        action()
    except HttpResponseError as exc:
        return type(exc).__name__, exc.status_code, exc.error.code if exc.error else None
    return "no error", None, None


def test_every_chat_operation_gives_equal_results(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    results = []
    for chat, endpoint, kwargs in sdks(sdk_server):
        users = [make_user() for _ in range(4)]
        result = norm(chat_scenario(chat, endpoint, users, **kwargs), Labels([u.identifier.raw_id for u in users]))
        # The server orders participants and receipts by (random) user id: compare those as sets.
        for key in ("participants", "receipts"):
            result[key] = unordered(result[key])
        for key in ("participants_skip", "participants_after_remove", "receipts_skip"):
            result[key] = unordered([result[key]])[0] if key.endswith("skip") else unordered([result[key]])
        results.append(result)
    official, ours = results
    assert official["create_replayed_same_thread"] is True
    assert len(official["messages"]) > 2  # several pages, resumed from a continuation token
    assert official["participants"][0] == [1, 1, 1]
    for key in official:
        assert ours[key] == official[key], key


async def async_scenario(chat: types.ModuleType, endpoint: str, users: list[User], **kwargs: Any) -> dict[str, Any]:
    one, two = users
    out: dict[str, Any] = {}
    async with chat.ChatClient(endpoint, chat.CommunicationTokenCredential(one.token), **kwargs) as client:
        created = await client.create_chat_thread(
            "async", thread_participants=[hubbub_or_official_participant(chat, two)]
        )
        out["create"] = created
        async with client.get_chat_thread_client(created.chat_thread.id, **kwargs) as thread:
            sent = [await thread.send_message(f"a{i}") for i in range(3)]
            await thread.update_message(sent[0].id, "edited")
            await thread.send_read_receipt(sent[2].id)
            await thread.send_typing_notification()
            out["get"] = await thread.get_message(sent[0].id)
            out["props"] = await thread.get_properties()
            pager = thread.list_messages(results_per_page=2).by_page()
            out["messages"] = [[m async for m in page] async for page in pager]
            out["participants"] = [
                [p async for p in page] async for page in thread.list_participants(results_per_page=1).by_page()
            ]
            out["receipts"] = [r async for r in thread.list_read_receipts()]
            out["threads"] = [t async for t in client.list_chat_threads(results_per_page=1)]
            try:
                await thread.get_message("1234567890123")
            except HttpResponseError as exc:
                out["404"] = (type(exc).__name__, exc.status_code)
            await client.delete_chat_thread(created.chat_thread.id)
    return out


def hubbub_or_official_participant(chat: types.ModuleType, user: User) -> Any:
    base = official_chat if chat is official_chat_aio else hubbub_chat
    return base.ChatParticipant(identifier=base.CommunicationUserIdentifier(user.identifier.raw_id), display_name="Two")


async def test_async_clients_give_equal_results(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    official = await async_scenario(
        official_chat_aio, sdk_server.https_url, [make_user(), make_user()], connection_verify=str(sdk_server.ca_path)
    )
    ours = await async_scenario(hubbub_chat_aio, sdk_server.http_url, [make_user(), make_user()])
    official, ours = norm(official, Labels()), norm(ours, Labels())
    for result in (official, ours):
        result["participants"] = unordered(result["participants"])
    assert ours == official


def test_identity_operations_give_equal_results(sdk_server: HubbubServer) -> None:
    def scenario(identity: types.ModuleType, conn_str: str) -> dict[str, Any]:
        client = identity.CommunicationIdentityClient.from_connection_string(conn_str)
        user = client.create_user()
        other, token = client.create_user_and_token([identity.CommunicationTokenScope.CHAT])
        issued = client.get_token(user, ["chat", "voip"], token_expires_in=dt.timedelta(minutes=90))
        out = {
            "user": user,
            "other": other,
            "token_parts": len(token.token.split(".")),
            "issued_parts": len(issued.token.split(".")),
            "no_scopes": capture(lambda: client.get_token(user, None)),
            "too_long": capture(lambda: client.get_token(user, ["chat"], token_expires_in=dt.timedelta(hours=25))),
            "teams": capture(lambda: client.get_token_for_teams_user("bad", "app", "user")),
        }
        client.revoke_tokens(user)
        client.delete_user(user)
        return out

    official = scenario(official_identity, sdk_server.connection_string)
    ours = scenario(hubbub_identity, sdk_server.http_connection_string)
    assert norm(ours, Labels()) == norm(official, Labels())


def test_errors_401_403_404_raise_the_same_exceptions(
    sdk_server: HubbubServer, identity: Any, make_user: UserFactory
) -> None:
    results = []
    for chat, endpoint, kwargs in sdks(sdk_server):
        one, outsider = make_user(), make_user()
        client = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(one.token), **kwargs)
        thread_id = client.create_chat_thread("errors").chat_thread.id
        stranger = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(outsider.token), **kwargs)
        expired = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(fake_token(-60)), **kwargs)
        results.append(
            {
                "401 expired": capture(lambda: list(expired.list_chat_threads())),  # noqa: B023
                "403": capture(lambda: stranger.get_chat_thread_client(thread_id).send_message("x")),  # noqa: B023
                "404": capture(lambda: client.get_chat_thread_client(thread_id).get_message("1234567890123")),  # noqa: B023
            }
        )
        identity.revoke_tokens(one.identifier)
        results[-1]["401 revoked"] = capture(lambda: list(client.list_chat_threads()))  # noqa: B023
    official, ours = results
    assert official["401 expired"][:2] == ("ClientAuthenticationError", 401)
    assert official["404"][:2] == ("ResourceNotFoundError", 404)
    assert ours == official


def test_429_raises_the_same_exception(limited_server: HubbubServer) -> None:
    admin = hubbub_identity.CommunicationIdentityClient.from_connection_string(limited_server.http_connection_string)
    results = []
    for chat, endpoint, _ in sdks(limited_server):
        _, token = admin.create_user_and_token(["chat"])
        client = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(token.token), retry_total=0)
        thread = client.get_chat_thread_client(client.create_chat_thread("busy").chat_thread.id, retry_total=0)
        outcome = ("no error", None, None)
        for _ in range(30):
            outcome = capture(thread.send_typing_notification)
            if outcome[0] != "no error":
                break
        results.append(outcome)
    assert results[0][:2] == ("HttpResponseError", 429)
    assert results[1] == results[0]


def test_expiring_token_is_refreshed_and_static_expired_token_fails(
    sdk_server: HubbubServer, identity: Any, make_user: UserFactory
) -> None:
    results = []
    for chat, endpoint, kwargs in sdks(sdk_server):
        user = make_user()
        calls: list[int] = []

        def refresher() -> Any:
            calls.append(1)  # noqa: B023
            issued = identity.get_token(user.identifier, ["chat"])  # noqa: B023
            # identity 1.5.0 returns expires_on as the response's string, which the official chat
            # credential cannot compare: a refresher for it must convert (see test_differential).
            return AccessToken(issued.token, int(dt.datetime.fromisoformat(issued.expires_on).timestamp()))

        expiring = chat.CommunicationTokenCredential(fake_token(60), token_refresher=refresher)
        client = chat.ChatClient(endpoint, expiring, **kwargs)
        created = client.create_chat_thread("refreshed")
        results.append((created.chat_thread.topic, len(calls)))
    assert results == [("refreshed", 1), ("refreshed", 1)]


def test_create_thread_is_idempotent_when_a_response_is_lost(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    """The server creates the thread but the response is lost (a 503 arrives instead): the SDK
    retries with the same repeatability id and gets the same thread, never a second one. A message
    send in the same situation is not retried, so it is not duplicated."""
    user = make_user()
    real = httpx.HTTPTransport()
    lose_next = {"POST"}

    def lossy(request: httpx.Request) -> httpx.Response:
        response = real.handle_request(request)
        if request.method in lose_next:
            lose_next.clear()
            response.read()
            return httpx.Response(503, json={"error": {"code": "ServiceUnavailable", "message": "lost"}})
        return response

    client = hubbub_chat.ChatClient(
        sdk_server.http_url,
        hubbub_chat.CommunicationTokenCredential(user.token),
        transport=httpx.MockTransport(lossy),
        retry_backoff_factor=0.01,
    )
    created = client.create_chat_thread("once")
    assert [t.id for t in client.list_chat_threads()] == [created.chat_thread.id]
    thread = client.get_chat_thread_client(created.chat_thread.id)
    lose_next.add("POST")
    with pytest.raises(HttpResponseError) as caught:
        thread.send_message("exactly once")
    assert caught.value.status_code == 503
    texts = [m.content.message for m in thread.list_messages() if m.type == hubbub_chat.ChatMessageType.TEXT]
    assert texts == ["exactly once"]
    client.close()
