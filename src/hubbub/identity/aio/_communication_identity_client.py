"""`CommunicationIdentityClient`: users and their access tokens, authenticated with the resource key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AccessToken, AzureKeyCredential

from hubbub._sdk import identity_calls
from hubbub._sdk._async.auth import async_auth_for
from hubbub._sdk._async.pipeline import AsyncPipeline
from hubbub._sdk.identifiers import CommunicationUserIdentifier
from hubbub._sdk.identity_calls import CommunicationTokenScope
from hubbub._sdk.options import ClientOptions, normalize_endpoint
from hubbub._sdk.signing import parse_connection_string


class CommunicationIdentityClient:
    """Azure Communication Services Identity client (works with Hubbub and real ACS).

    A drop-in for `azure.communication.identity.CommunicationIdentityClient` that keeps an
    `http://` endpoint as given and retries safely.

    :param str endpoint: The endpoint url for Azure Communication Service resource.
    :param credential: The access key (str or `AzureKeyCredential`, signed with HMAC-SHA256) or a
        `TokenCredential` (AAD bearer).
    :keyword str api_version: The identity API version (default "2023-10-01").
    :keyword transport: An httpx transport (for example `httpx.MockTransport` in tests).
    :keyword connection_verify: False, or a CA bundle path, for TLS verification.
    :keyword int retry_total: How many times to retry throttled or failed requests (default 3).
    """

    def __init__(self, endpoint: str, credential: str | AzureKeyCredential | Any, **kwargs: Any) -> None:
        """Create the client; no connection is made until the first call."""
        self._endpoint = normalize_endpoint(endpoint, message="Account URL must be a string.")
        if not credential:
            raise ValueError("You need to provide account shared key to authenticate.")
        options = ClientOptions.from_kwargs(
            kwargs, api_version=identity_calls.IDENTITY_API_VERSION, sdk_moniker=identity_calls.SDK_MONIKER
        )
        self._pipeline = AsyncPipeline(self._endpoint, options, async_auth_for(credential))

    @classmethod
    def from_connection_string(cls, conn_str: str, **kwargs: Any) -> CommunicationIdentityClient:
        """Create CommunicationIdentityClient from a Connection String.

        The endpoint keeps its scheme, so `endpoint=http://...` talks plain http.

        :param str conn_str: A connection string to an Azure Communication Service resource.
        :returns: Instance of CommunicationIdentityClient.
        :rtype: ~hubbub.identity.aio.CommunicationIdentityClient
        """
        endpoint, access_key = parse_connection_string(conn_str)
        return cls(endpoint, access_key, **kwargs)

    async def create_user(self, **kwargs: Any) -> CommunicationUserIdentifier:
        """Create a single Communication user.

        :return: CommunicationUserIdentifier
        :rtype: ~hubbub.identity.CommunicationUserIdentifier
        """
        call = identity_calls.create_user(self._pipeline.api_version)
        return identity_calls.parse_user(await self._pipeline.send(call, **kwargs))

    async def create_user_and_token(
        self,
        scopes: Sequence[str | CommunicationTokenScope],
        *,
        token_expires_in: dt.timedelta | None = None,
        **kwargs: Any,
    ) -> tuple[CommunicationUserIdentifier, AccessToken]:
        """Create a single Communication user with an access token.

        :param scopes: List of scopes to be added to the token.
        :type scopes: list[str or ~hubbub.identity.CommunicationTokenScope]
        :keyword token_expires_in: Validity of the token, within [1, 24] hours (default 24 hours).
        :paramtype token_expires_in: ~datetime.timedelta
        :return: A tuple of a CommunicationUserIdentifier and an AccessToken (`expires_on` is the
            response's ISO-8601 `expiresOn` string, as in the official 1.5.0 client).
        :rtype: tuple of (~hubbub.identity.CommunicationUserIdentifier, ~azure.core.credentials.AccessToken)
        """
        call = identity_calls.create_user_and_token(self._pipeline.api_version, scopes, token_expires_in)
        return identity_calls.parse_user_and_token(await self._pipeline.send(call, **kwargs))

    async def delete_user(self, user: CommunicationUserIdentifier, **kwargs: Any) -> None:
        """Triggers revocation event for user and deletes all its data.

        :param user: Azure Communication User to delete
        :type user: ~hubbub.identity.CommunicationUserIdentifier
        :return: None
        """
        call = identity_calls.delete_user(self._pipeline.api_version, user)
        await self._pipeline.send(call, **kwargs)

    async def get_token(
        self,
        user: CommunicationUserIdentifier,
        scopes: Sequence[str | CommunicationTokenScope],
        *,
        token_expires_in: dt.timedelta | None = None,
        **kwargs: Any,
    ) -> AccessToken:
        """Generates a new token for an identity.

        :param user: Azure Communication User
        :type user: ~hubbub.identity.CommunicationUserIdentifier
        :param scopes: List of scopes to be added to the token.
        :type scopes: list[str or ~hubbub.identity.CommunicationTokenScope]
        :keyword token_expires_in: Validity of the token, within [1, 24] hours (default 24 hours).
        :paramtype token_expires_in: ~datetime.timedelta
        :return: AccessToken (`expires_on` is the response's ISO-8601 `expiresOn` string, as in 1.5.0)
        :rtype: ~azure.core.credentials.AccessToken
        """
        call = identity_calls.get_token(self._pipeline.api_version, user, scopes, token_expires_in)
        return identity_calls.parse_token(await self._pipeline.send(call, **kwargs))

    async def revoke_tokens(self, user: CommunicationUserIdentifier, **kwargs: Any) -> None:
        """Revoke all access tokens of an identity.

        :param user: Azure Communication User.
        :type user: ~hubbub.identity.CommunicationUserIdentifier
        :return: None
        """
        call = identity_calls.revoke_tokens(self._pipeline.api_version, user)
        await self._pipeline.send(call, **kwargs)

    async def get_token_for_teams_user(
        self, aad_token: str, client_id: str, user_object_id: str, **kwargs: Any
    ) -> AccessToken:
        """Exchanges an Azure AD access token of a Teams User for a new Communication Identity access token.

        :param aad_token: an Azure AD access token of a Teams User.
        :type aad_token: str
        :param client_id: a Client ID of an Azure AD application to be verified against the appId
            claim in the Azure AD access token.
        :type client_id: str
        :param user_object_id: an Object ID of an Azure AD user (Teams User) to be verified against
            the OID claim in the Azure AD access token.
        :type user_object_id: str
        :return: AccessToken
        :rtype: ~azure.core.credentials.AccessToken
        """
        call = identity_calls.get_token_for_teams_user(self._pipeline.api_version, aad_token, client_id, user_object_id)
        return identity_calls.parse_token(await self._pipeline.send(call, **kwargs))

    async def close(self) -> None:
        """Close the client's connections."""
        await self._pipeline.close()

    async def __aenter__(self) -> CommunicationIdentityClient:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()
