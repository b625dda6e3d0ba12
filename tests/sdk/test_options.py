"""Keyword arguments: azure-core's options pass quietly, anything else warns at the caller's line."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from hubbub import chat, identity
from hubbub.chat import aio as chat_aio
from hubbub.identity import aio as identity_aio

from ._tokens import fake_token

THREAD = "19:abc@thread.v2"
THREAD_BODY = {"id": THREAD, "topic": "t", "createdOn": "2024-05-01T10:00:00Z"}
KEY = "ZmFrZS1rZXk="


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/messages"):
        return httpx.Response(200, json={"value": []})
    if request.url.path.endswith(":issueAccessToken"):
        return httpx.Response(200, json={"token": "t", "expiresOn": "2024-05-01T10:00:00Z"})
    return httpx.Response(200, json=THREAD_BODY)


def chat_client(**kwargs: object) -> chat.ChatClient:
    return chat.ChatClient("http://hubbub.test", credential(), transport=httpx.MockTransport(answer), **kwargs)


def credential() -> chat.CommunicationTokenCredential:
    return chat.CommunicationTokenCredential(fake_token(3600))


@contextmanager
def warns_here(*names: str) -> Iterator[None]:
    """Expect one `UnknownOptionWarning` naming `names`, reported at the line after the `with`."""
    line = inspect.stack()[2].lineno + 1
    with pytest.warns(chat.UnknownOptionWarning) as record:
        yield
    assert len(record) == 1
    assert record[0].filename == __file__
    assert record[0].lineno == line
    assert str(record[0].message) == "ignored unknown keyword argument(s): " + ", ".join(map(repr, names))


def test_a_misspelt_client_option_warns_at_the_callers_line() -> None:
    with warns_here("retry_totl"):
        chat.ChatClient("http://hubbub.test", credential(), retry_totl=0)
    with warns_here("connection_timout", "realtime_transprot"):
        chat.ChatThreadClient("http://hubbub.test", credential(), THREAD, connection_timout=1, realtime_transprot="sse")


def test_a_misspelt_per_call_option_warns_at_the_callers_line() -> None:
    thread = chat_client().get_chat_thread_client(THREAD)
    with warns_here("header"):
        thread.get_properties(header={"x-a": "b"})


def test_a_pager_warns_when_it_is_made_not_when_it_is_read() -> None:
    thread = chat_client().get_chat_thread_client(THREAD)
    with warns_here("results_per_pag"):
        pager = thread.list_messages(results_per_pag=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(pager) == []


def test_thread_client_options_warn_once() -> None:
    with warns_here("colour"):
        client = chat.ChatClient("http://hubbub.test", credential(), transport=httpx.MockTransport(answer), colour="x")
    with warns_here("shade"):
        thread = client.get_chat_thread_client(THREAD, shade="dark")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.get_chat_thread_client(THREAD, api_version="2024-03-07").get_properties()  # colour is not new
        thread.get_properties()


def test_azure_core_options_pass_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = chat_client(
            logging_enable=True,
            per_call_policies=[],
            retry_mode="fixed",
            user_agent_overwrite=False,
            proxies={},
            connection_data_block_size=4096,
        )
        thread = client.get_chat_thread_client(THREAD, logging_enable=False)
        thread.get_properties(
            headers={"x-a": "b"},
            timeout=5,
            retry_total=0,
            logging_enable=True,
            enforce_https=False,
            raw_response_hook=lambda response: None,
            error_map={},
        )
        identity.CommunicationIdentityClient("http://hubbub.test", KEY, transport=httpx.MockTransport(answer))


def test_identity_client_warns_too() -> None:
    with warns_here("api_verison"):
        client = identity.CommunicationIdentityClient(
            "http://hubbub.test", KEY, transport=httpx.MockTransport(answer), api_verison="2023-10-01"
        )
    user = identity.CommunicationUserIdentifier("8:acs:u1")
    with warns_here("token_expire_in"):
        client.get_token(user, ["chat"], token_expire_in=60)


async def test_async_clients_warn_at_the_awaiting_line() -> None:
    credential = chat_aio.CommunicationTokenCredential(fake_token(3600))
    async with chat_aio.ChatClient("http://hubbub.test", credential, transport=httpx.MockTransport(answer)) as client:
        thread = client.get_chat_thread_client(THREAD)
        with warns_here("retry_totl"):
            await thread.get_properties(retry_totl=0)
    async with identity_aio.CommunicationIdentityClient(
        "http://hubbub.test", KEY, transport=httpx.MockTransport(answer)
    ) as identity_client:
        with warns_here("scope"):
            await identity_client.get_token(identity.CommunicationUserIdentifier("8:acs:u1"), ["chat"], scope="x")
