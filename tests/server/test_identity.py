"""Identity operations (spec §8) through the official identity SDK, sync and async, over HTTPS + HMAC."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from ._acs import Acs, User, token_claims, utcnow

pytestmark = pytest.mark.usefixtures("server")


def parse_expires_on(value: object) -> dt.datetime:
    """identity 1.5.0 hands `expiresOn` back as the raw string (spec §8); it must carry an offset."""
    assert isinstance(value, str), value
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"expiresOn without offset: {value!r}"
    return parsed


def assert_expires_in(expires_on: object, minutes: int) -> None:
    """|expiresOn - now - requested| < 5 % of requested, as the official test checks (spec §8)."""
    expected = utcnow() + dt.timedelta(minutes=minutes)
    assert abs((parse_expires_on(expires_on) - expected).total_seconds()) < 0.05 * minutes * 60


def list_threads_works(acs: Acs, token: str) -> None:
    with acs.chat(User("", token)) as client:
        list(client.list_chat_threads())


def test_create_user(acs: Acs) -> None:
    with acs.identity() as client:
        first = client.create_user()
        second = client.create_user()
    assert first.properties["id"].startswith("8:acs:")
    assert first.raw_id == first.properties["id"]
    assert first.properties["id"] != second.properties["id"]
    assert "/" not in first.properties["id"]


def test_create_user_and_token_honours_expiry(acs: Acs) -> None:
    with acs.identity() as client:
        user, token = client.create_user_and_token(["chat", "voip"], token_expires_in=dt.timedelta(hours=2))
    assert user.properties["id"].startswith("8:acs:")
    assert_expires_in(token.expires_on, 120)
    claims = token_claims(token.token)  # must decode with the Python SDK's base64 (spec §3.2)
    assert isinstance(claims["exp"], int | float)
    assert abs(claims["exp"] - (utcnow() + dt.timedelta(hours=2)).timestamp()) < 360
    list_threads_works(acs, token.token)


def test_get_token_default_and_custom_expiry(acs: Acs) -> None:
    with acs.identity() as client:
        user = client.create_user()
        default = client.get_token(user, ["chat"])
        custom = client.get_token(user, ["chat"], token_expires_in=dt.timedelta(minutes=60))
        longest = client.get_token(user, ["chat"], token_expires_in=dt.timedelta(minutes=1440))
    assert_expires_in(default.expires_on, 1440)
    assert_expires_in(custom.expires_on, 60)
    assert_expires_in(longest.expires_on, 1440)
    for token in (default, custom, longest):
        list_threads_works(acs, token.token)


@pytest.mark.parametrize("minutes", [59, 1441])
def test_expiry_out_of_range_is_400(acs: Acs, minutes: int) -> None:
    with acs.identity() as client:
        user = client.create_user()
        with pytest.raises(HttpResponseError) as issued:
            client.get_token(user, ["chat"], token_expires_in=dt.timedelta(minutes=minutes))
        assert issued.value.status_code == 400
        assert issued.value.message
        with pytest.raises(HttpResponseError) as created:
            client.create_user_and_token(["chat"], token_expires_in=dt.timedelta(minutes=minutes))
        assert created.value.status_code == 400


def test_get_token_without_scopes_is_400(acs: Acs) -> None:
    with acs.identity() as client:
        user = client.create_user()
        with pytest.raises(HttpResponseError) as caught:
            client.get_token(user, scopes=None)
    assert caught.value.status_code == 400
    assert caught.value.message is not None


def test_revoke_tokens_makes_old_tokens_401(acs: Acs) -> None:
    with acs.identity() as client:
        user = client.create_user()
        old = client.get_token(user, ["chat"]).token
        list_threads_works(acs, old)
        assert client.revoke_tokens(user) is None
        with pytest.raises(ClientAuthenticationError) as caught:
            list_threads_works(acs, old)
        assert caught.value.status_code == 401
        fresh = client.get_token(user, ["chat"]).token
    list_threads_works(acs, fresh)


def test_delete_user_makes_tokens_401(acs: Acs) -> None:
    with acs.identity() as client:
        user, token = client.create_user_and_token(["chat"])
        list_threads_works(acs, token.token)
        assert client.delete_user(user) is None
    with pytest.raises(ClientAuthenticationError) as caught:
        list_threads_works(acs, token.token)
    assert caught.value.status_code == 401


def test_teams_token_exchange_is_a_clear_error(acs: Acs) -> None:
    with acs.identity() as client, pytest.raises(HttpResponseError) as caught:
        client.get_token_for_teams_user("aad.token.value", "client-id", "user-object-id")
    assert 400 <= caught.value.status_code < 500
    assert caught.value.error is not None and caught.value.error.code
    assert caught.value.message


@pytest.mark.parametrize("scopes", [["voip"], ["voip.join"]])
def test_token_without_chat_scope_cannot_chat(acs: Acs, scopes: list[str]) -> None:
    voip_only = acs.new_user(tuple(scopes))
    with acs.chat(voip_only) as client, pytest.raises(HttpResponseError) as caught:
        client.create_chat_thread("not allowed")
    assert caught.value.status_code in (401, 403)
    with acs.chat(voip_only) as client, pytest.raises(HttpResponseError) as listed:
        list(client.list_chat_threads())
    assert listed.value.status_code in (401, 403)


# -- async ------------------------------------------------------------------------------------------


async def test_async_identity_operations(acs: Acs) -> None:
    async with acs.aidentity() as client:
        user = await client.create_user()
        assert user.properties["id"].startswith("8:acs:")
        other, token = await client.create_user_and_token(["chat"], token_expires_in=dt.timedelta(hours=1))
        assert_expires_in(token.expires_on, 60)
        issued = await client.get_token(user, ["chat"], token_expires_in=dt.timedelta(hours=3))
        assert_expires_in(issued.expires_on, 180)

        async with acs.achat(User(user.properties["id"], issued.token)) as chat:
            assert [t async for t in chat.list_chat_threads()] == []

        with pytest.raises(HttpResponseError) as too_short:
            await client.get_token(user, ["chat"], token_expires_in=dt.timedelta(minutes=59))
        assert too_short.value.status_code == 400
        with pytest.raises(HttpResponseError) as no_scopes:
            await client.get_token(user, scopes=None)
        assert no_scopes.value.status_code == 400

        assert await client.revoke_tokens(user) is None
        async with acs.achat(User(user.properties["id"], issued.token)) as chat:
            with pytest.raises(ClientAuthenticationError):
                [t async for t in chat.list_chat_threads()]

        assert await client.delete_user(other) is None
        async with acs.achat(User(other.properties["id"], token.token)) as chat:
            with pytest.raises(ClientAuthenticationError):
                await chat.create_chat_thread("gone")

        with pytest.raises(HttpResponseError) as teams:
            await client.get_token_for_teams_user("aad", "client", "oid")
        assert 400 <= teams.value.status_code < 500
