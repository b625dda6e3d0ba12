"""Every identity operation as an I/O-free (build the `Call`, parse the response) pair (spec §8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import Enum
from typing import Any

from azure.core import CaseInsensitiveEnumMeta
from azure.core.credentials import AccessToken

from hubbub import wire

from .calls import JSON_CONTENT_TYPE, Call, json_body, json_of, query, segment
from .errors import ResponseView
from .identifiers import CommunicationUserIdentifier

IDENTITY_API_VERSION = wire.IDENTITY_DEFAULT_API_VERSION
"""The api-version azure-communication-identity 1.5.0 sends."""

SDK_MONIKER = "communication-identity/0.1.0 (hubbub)"


class CommunicationTokenScope(str, Enum, metaclass=CaseInsensitiveEnumMeta):  # noqa: UP042 - str+Enum like the official SDK, so str() matches
    """List of scopes for an access token."""

    CHAT = "chat"
    """Use this for full access to Chat APIs."""
    VOIP = "voip"
    """Use this for full access to Calling APIs."""
    CHAT_JOIN = "chat.join"
    """Access to Chat APIs but without the authorization to create, delete or update chat threads."""
    CHAT_JOIN_LIMITED = "chat.join.limited"
    """A more limited version of chat.join that doesn't allow to add or remove participants."""
    VOIP_JOIN = "voip.join"
    """Access to Calling APIs but without the authorization to start new calls."""


def minutes(duration: dt.timedelta | None) -> int | None:
    """A token lifetime in whole minutes, as the official SDK rounds it; None stays None."""
    return None if duration is None else int(duration.total_seconds() / 60)


def _scopes(scopes: Sequence[str] | None) -> list[str] | None:
    return None if scopes is None else [s.value if isinstance(s, Enum) else str(s) for s in scopes]


def _identity_path(user: CommunicationUserIdentifier, suffix: str = "") -> str:
    return "/identities/" + segment(user.properties["id"]) + suffix


def _version(api_version: str) -> tuple[tuple[str, str], ...]:
    return query(("api-version", api_version))


def create_user(api_version: str) -> Call:
    """POST /identities with no body."""
    return Call("POST", "/identities", _version(api_version), b"", JSON_CONTENT_TYPE, expected=201)


def parse_user(response: ResponseView) -> CommunicationUserIdentifier:
    """The new user's identifier."""
    user_id = (json_of(response) or {}).get("identity", {}).get("id")
    return CommunicationUserIdentifier(user_id, raw_id=user_id)


def create_user_and_token(
    api_version: str, scopes: Sequence[str] | None, token_expires_in: dt.timedelta | None
) -> Call:
    """POST /identities with `createTokenWithScopes`."""
    body = wire.CreateIdentityRequest(
        create_token_with_scopes=_scopes(scopes), expires_in_minutes=minutes(token_expires_in)
    )
    return Call("POST", "/identities", _version(api_version), json_body(body), JSON_CONTENT_TYPE, expected=201)


def access_token(body: dict[str, Any]) -> AccessToken:
    """An `AccessToken` from `{"token", "expiresOn"}`, exactly as identity 1.5.0 builds it.

    Its generated model types `expiresOn` as `str`, so `expires_on` is the response's raw
    ISO-8601 string (for example "2024-05-02T10:00:00.1234567+00:00"), not epoch seconds as
    `AccessToken` documents; None when the response has none. `CommunicationTokenCredential`
    accepts such tokens from a refresher (see `tokens.epoch_expiry`).
    """
    return AccessToken(body.get("token"), body.get("expiresOn"))  # type: ignore[arg-type]


def parse_user_and_token(response: ResponseView) -> tuple[CommunicationUserIdentifier, AccessToken]:
    """The new user and its token."""
    body = json_of(response) or {}
    user_id = body.get("identity", {}).get("id")
    return CommunicationUserIdentifier(user_id, raw_id=user_id), access_token(body.get("accessToken") or {})


def delete_user(api_version: str, user: CommunicationUserIdentifier) -> Call:
    """DELETE /identities/{id}."""
    return Call("DELETE", _identity_path(user), _version(api_version), expected=204, safe=True)


def get_token(
    api_version: str,
    user: CommunicationUserIdentifier,
    scopes: Sequence[str] | None,
    token_expires_in: dt.timedelta | None,
) -> Call:
    """POST /identities/{id}/:issueAccessToken."""
    body = wire.IssueTokenRequest(scopes=_scopes(scopes), expires_in_minutes=minutes(token_expires_in))
    return Call(
        "POST",
        _identity_path(user, "/:issueAccessToken"),
        _version(api_version),
        json_body(body),
        JSON_CONTENT_TYPE,
        expected=200,
    )


def parse_token(response: ResponseView) -> AccessToken:
    """The issued token."""
    return access_token(json_of(response) or {})


def revoke_tokens(api_version: str, user: CommunicationUserIdentifier) -> Call:
    """POST /identities/{id}/:revokeAccessTokens (no body). Safe to repeat."""
    return Call(
        "POST",
        _identity_path(user, "/:revokeAccessTokens"),
        _version(api_version),
        b"",
        expected=204,
        safe=True,
    )


def get_token_for_teams_user(api_version: str, aad_token: str, client_id: str, user_object_id: str) -> Call:
    """POST /teamsUser/:exchangeAccessToken."""
    body = wire.TeamsUserExchangeTokenRequest(token=aad_token, app_id=client_id, user_id=user_object_id)
    return Call(
        "POST",
        "/teamsUser/:exchangeAccessToken",
        _version(api_version),
        json_body(body),
        JSON_CONTENT_TYPE,
        expected=200,
    )
