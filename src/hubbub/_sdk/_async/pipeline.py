"""The async pipeline: sends `Call`s over one pooled httpx client, with auth and retries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import httpx
from azure.core.async_paging import AsyncItemPaged, AsyncList
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from hubbub._sdk._async.auth import AsyncBearerAuth, AsyncHmacAuth
from hubbub._sdk.calls import Call, check, next_page_call, page_of
from hubbub._sdk.concurrency import async_sleep
from hubbub._sdk.errors import ResponseView
from hubbub._sdk.options import CallOptions, ClientOptions

T = TypeVar("T")

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class AsyncPipeline:
    """Sends requests for one client (or a client and the thread clients it hands out).

    The httpx client is opened on first use and reopened if used after `close()`, like azure-core
    transports. `retain()`/`close()` count users, so a shared pipeline closes with its last user.
    """

    def __init__(self, endpoint: str, options: ClientOptions, auth: AsyncBearerAuth | AsyncHmacAuth) -> None:
        """Prepare a pipeline for `endpoint`; no connection is made yet."""
        self.endpoint = endpoint.rstrip("/")
        self.options = options
        self._auth = auth
        self._client: httpx.AsyncClient | None = None
        self._users = 1

    @property
    def api_version(self) -> str:
        """The api-version every request of this pipeline carries."""
        return self.options.api_version

    def retain(self) -> AsyncPipeline:
        """Register one more user of this pipeline (it stays open until each has closed it)."""
        self._users += 1
        return self

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                transport=self.options.transport,
                timeout=self.options.timeout(),
                verify=self.options.ssl_verify(),
                follow_redirects=False,
            )
        return self._client

    async def close(self) -> None:
        """Release this user; the connections close when the last user is gone."""
        self._users -= 1
        if self._users <= 0 and self._client is not None:
            await self._client.aclose()
            self._client = None
            self._users = 0

    def _build(self, call: Call, call_options: CallOptions) -> httpx.Request:
        headers = {
            "Accept": "application/json",
            "x-ms-client-request-id": str(uuid.uuid4()),
            "User-Agent": self.options.user_agent_header(),
            **self.options.headers,
            **call.headers,
            **call_options.headers,
        }
        if call.content_type is not None:
            headers["Content-Type"] = call.content_type
        return self._http().build_request(
            call.method,
            call.full_url(self.endpoint),
            headers=headers,
            content=call.body,
            timeout=call_options.timeout if call_options.timeout is not None else self.options.timeout(),
        )

    async def send(self, call: Call, **kwargs: Any) -> ResponseView:
        """Send `call` (retrying as `RetryPolicy` allows) and return its response.

        Raises the azure-core error for an unexpected status, `ServiceRequestError` when the
        request could not be sent and `ServiceResponseError` when no response came back.
        """
        return await self._send(call, CallOptions.from_kwargs(kwargs))

    async def _send(self, call: Call, call_options: CallOptions) -> ResponseView:
        policy = self.options.retry
        if call_options.retry_total is not None:
            policy = replace(policy, total=call_options.retry_total)
        retries = 0
        while True:
            request = self._build(call, call_options)
            await self._auth.apply(request)
            delay: float | None
            try:
                response = await self._http().send(request)
                content = await response.aread()
                await response.aclose()
            except httpx.TransportError as exc:
                sent = not isinstance(exc, _CONNECT_ERRORS)
                delay = policy.delay_after_error(retries, sent=sent, safe=call.safe)
                if delay is None:
                    error_type = ServiceResponseError if sent else ServiceRequestError
                    raise error_type(str(exc) or type(exc).__name__, error=exc) from exc
            else:
                view = ResponseView(
                    response.status_code, response.headers, content, method=call.method, url=str(request.url)
                )
                if view.status_code == call.expected:
                    return view
                delay = policy.delay_after_status(retries, view.status_code, view.headers, safe=call.safe)
                if delay is None:
                    check(call, view)
                    return view
            retries += 1
            await async_sleep(delay)

    def paged(self, first: Call, parse_item: Callable[[Mapping[str, Any]], T], **kwargs: Any) -> AsyncItemPaged[T]:
        """An azure-core pager over a collection: `by_page(continuation_token)` resumes at a nextLink."""
        call_options = CallOptions.from_kwargs(kwargs)  # now, so a warning names the caller's line

        async def get_next(continuation_token: str | None = None) -> ResponseView:
            call = (
                first
                if continuation_token is None
                else next_page_call(self.endpoint, continuation_token, self.api_version)
            )
            return await self._send(call, call_options)

        async def extract_data(response: ResponseView) -> tuple[str | None, AsyncIterator[T]]:
            next_link, items = page_of(response, parse_item)
            return next_link, AsyncList(items)

        return AsyncItemPaged(get_next, extract_data)
