"""`CommunicationTokenCredential`: the user access token the chat clients send, refreshed as needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.credentials import AccessToken

from hubbub._sdk import tokens
from hubbub._sdk.concurrency import AsyncLock, AsyncTimer


class CommunicationTokenCredential:
    """Credential type used for authenticating to an Azure Communication service.

    :param str token: The token used to authenticate to an Azure Communication service.
    :keyword token_refresher: A callable returning a fresh, valid `AccessToken`. Without it the
        token is static and calls fail with `ClientAuthenticationError` once it has expired.
    :paramtype token_refresher: Callable[[], Awaitable[AccessToken]]
    :keyword bool proactive_refresh: Refresh in the background from 10 minutes before expiry,
        instead of on demand in the last 2 minutes. Needs `token_refresher`; use the credential as
        a context manager or call `close()` when done.
    :raises: TypeError if `token` is not a string; ValueError if the token has no readable expiry or
        `proactive_refresh` is set without `token_refresher`.
    """

    _ON_DEMAND_REFRESHING_INTERVAL_MINUTES = 2
    _DEFAULT_AUTOREFRESH_INTERVAL_MINUTES = 10

    def __init__(self, token: str, **kwargs: Any) -> None:
        """Parse `token` now, so a malformed token fails here and not on the first call."""
        if not isinstance(token, str):
            raise TypeError("Token must be a string.")
        self._token = tokens.create_access_token(token)
        self._token_refresher: Callable[[], Awaitable[AccessToken]] | None = kwargs.pop("token_refresher", None)
        self._proactive_refresh: bool = kwargs.pop("proactive_refresh", False)
        if self._proactive_refresh and self._token_refresher is None:
            raise ValueError("When 'proactive_refresh' is True, 'token_refresher' must not be None.")
        self._timer: AsyncTimer | None = None
        self._lock = AsyncLock()
        self._is_closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The current token, refreshed first when it is about to expire and a refresher is set.

        :param scopes: Ignored; user tokens carry their own scopes.
        :return: AccessToken
        :rtype: ~azure.core.credentials.AccessToken
        """
        if self._proactive_refresh and self._is_closed:
            raise RuntimeError("An instance of CommunicationTokenCredential cannot be reused once it has been closed.")
        if not self._token_refresher or not self._expiring_soon():
            return self._token
        await self._update_token_and_reschedule()
        return self._token

    def _expiring_soon(self) -> bool:
        return tokens.is_expiring_soon(self._token, proactive=self._proactive_refresh)

    async def _update_token_and_reschedule(self) -> AccessToken:
        if self._lock.locked() and tokens.is_valid(self._token):
            return self._token  # someone else is refreshing and the current token still works
        async with self._lock:
            if self._expiring_soon() and self._token_refresher is not None:
                new_token = tokens.epoch_expiry(await self._token_refresher())
                if not tokens.is_valid(new_token):
                    raise ValueError("The token returned from the token_refresher is expired.")
                self._token = new_token
        if self._proactive_refresh:
            self._schedule_refresh()
        return self._token

    async def _replace_rejected_token(self, rejected: str) -> None:
        """The service rejected the token `rejected` before its expiry (it was revoked): replace it
        with the refresher's, unless another caller has done so already. Without a refresher the
        token stays (the service refuses it again: the caller gets its authentication error).

        Called by the event streams after `disconnect` / `tokenRevoked` (hubbub._sdk auth `refresh`).
        """
        if self._token_refresher is None:
            return
        async with self._lock:
            if self._token.token != rejected:
                return
            new_token = tokens.epoch_expiry(await self._token_refresher())
            if not tokens.is_valid(new_token):
                raise ValueError("The token returned from the token_refresher is expired.")
            self._token = new_token
        if self._proactive_refresh:
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if self._is_closed:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = tokens.next_refresh_delay(self._token, proactive=self._proactive_refresh)
        self._timer = AsyncTimer(delay, self._update_token_and_reschedule)
        self._timer.start()

    async def __aenter__(self) -> CommunicationTokenCredential:
        if self._proactive_refresh:
            if self._is_closed:
                raise RuntimeError(
                    "An instance of CommunicationTokenCredential cannot be reused once it has been closed."
                )
            self._schedule_refresh()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop proactive refreshing; a proactive credential cannot be used after this."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._is_closed = True
