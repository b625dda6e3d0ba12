"""`CommunicationTokenCredential`: token parsing and refresh, sync and async, like the official 1.2.0+."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.credentials import AccessToken

from hubbub._sdk.tokens import create_access_token
from hubbub.chat import CommunicationTokenCredential
from hubbub.chat.aio import CommunicationTokenCredential as AsyncCommunicationTokenCredential

from ._tokens import fake_token


def test_static_token_is_returned_even_when_expired() -> None:
    token = fake_token(-10)
    assert CommunicationTokenCredential(token).get_token().token == token


def test_malformed_tokens_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="Token is not formatted correctly"):
        CommunicationTokenCredential("not-a-jwt")
    with pytest.raises(TypeError):
        CommunicationTokenCredential(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token_refresher"):
        CommunicationTokenCredential(fake_token(3600), proactive_refresh=True)


def test_expiring_token_is_refreshed_on_demand_once() -> None:
    fresh = fake_token(3600)
    calls: list[int] = []

    def refresher() -> AccessToken:
        calls.append(1)
        return create_access_token(fresh)

    credential = CommunicationTokenCredential(fake_token(60), token_refresher=refresher)
    assert credential.get_token().token == fresh
    assert credential.get_token().token == fresh
    assert calls == [1]


def test_refresher_returning_an_expired_token_is_an_error() -> None:
    credential = CommunicationTokenCredential(
        fake_token(60), token_refresher=lambda: create_access_token(fake_token(-5))
    )
    with pytest.raises(ValueError, match="expired"):
        credential.get_token()


def test_proactive_credential_refreshes_early_and_cannot_be_reused_after_close() -> None:
    fresh = fake_token(3600)
    with CommunicationTokenCredential(
        fake_token(300), token_refresher=lambda: create_access_token(fresh), proactive_refresh=True
    ) as credential:
        assert credential.get_token().token == fresh  # inside the 10-minute proactive window
    with pytest.raises(RuntimeError):
        credential.get_token()


async def test_async_credential_refreshes_with_an_async_refresher() -> None:
    fresh = fake_token(3600)
    calls: list[int] = []

    async def refresher() -> AccessToken:
        calls.append(1)
        await asyncio.sleep(0.01)
        return create_access_token(fresh)

    old = fake_token(60)
    credential = AsyncCommunicationTokenCredential(old, token_refresher=refresher)
    tokens = await asyncio.gather(*(credential.get_token() for _ in range(5)))
    assert {t.token for t in tokens} <= {fresh, old}  # callers may use the still-valid old token meanwhile
    assert (await credential.get_token()).token == fresh
    assert calls == [1]
    await credential.close()


async def test_async_proactive_credential_schedules_and_closes() -> None:
    fresh = fake_token(3600)

    async def refresher() -> AccessToken:
        return create_access_token(fresh)

    async with AsyncCommunicationTokenCredential(
        fake_token(300), token_refresher=refresher, proactive_refresh=True
    ) as credential:
        await asyncio.sleep(0.05)  # the first refresh is due at once (half of the remaining window)
        assert (await credential.get_token()).token == fresh
    with pytest.raises(RuntimeError):
        await credential.get_token()
