"""`ChatClient`: create, list and delete chat threads, and hand out `ChatThreadClient`s."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from azure.core.async_paging import AsyncItemPaged

from hubbub._sdk import chat_calls
from hubbub._sdk._async.auth import AsyncBearerAuth
from hubbub._sdk._async.notifier import AsyncRealtimeNotifier
from hubbub._sdk._async.pipeline import AsyncPipeline
from hubbub._sdk._async.realtime import AsyncEventStream
from hubbub._sdk.chat_models import ChatMessageSearchResult, ChatParticipant, ChatThreadItem, CreateChatThreadResult
from hubbub._sdk.events import Handler, HandlerRegistry, RealtimeTransport
from hubbub._sdk.options import ClientOptions, normalize_endpoint
from hubbub.chat.aio._chat_thread_client import ChatThreadClient
from hubbub.chat.aio._credential import CommunicationTokenCredential


class ChatClient:
    """A client for the Azure Communication Services Chat API (or Hubbub), as one user.

    A drop-in for `azure.communication.chat.ChatClient` that also works over plain http, retries
    safely, and whose thread clients inherit its options.

    :param str endpoint: The endpoint of the Azure Communication resource.
    :param CommunicationTokenCredential credential: The user's access token credential.
    :keyword str api_version: The chat API version (default "2024-03-07").
    :keyword transport: An httpx transport (for example `httpx.MockTransport` in tests).
    :keyword connection_verify: False, or a CA bundle path, for TLS verification.
    :keyword float connection_timeout: Seconds to wait for a connection.
    :keyword float read_timeout: Seconds to wait for response data.
    :keyword int retry_total: How many times to retry throttled or failed requests (default 3).
    :keyword dict headers: Headers to add to every request.
    :keyword str realtime_transport: Hubbub addition: how `events()` and
        `start_realtime_notifications()` listen: "sse" (the default: Server-Sent Events through
        the client's httpx settings, `transport` included) or "websocket" (`/chat/events/ws` with
        the websockets library, `wss://` for an https endpoint; `transport` does not apply). Both
        deliver the same events, resume the same way and raise the same errors.

    Hubbub additions, real-time events (see docs/events.md), as in the ACS JS SDK:
    `start_realtime_notifications()`, `stop_realtime_notifications()`, `on(event_name, handler)`,
    `off(event_name, handler)`, and the iterator `events()`.
    """

    def __init__(self, endpoint: str, credential: CommunicationTokenCredential, **kwargs: Any) -> None:
        """Create the client; no connection is made until the first call."""
        if not credential:
            raise ValueError("credential can not be None")
        self._endpoint = normalize_endpoint(endpoint)
        self._credential = credential
        options = ClientOptions.from_kwargs(
            kwargs, api_version=chat_calls.CHAT_API_VERSION, sdk_moniker=chat_calls.SDK_MONIKER
        )
        self._pipeline = AsyncPipeline(self._endpoint, options, AsyncBearerAuth(credential))
        self._handlers = HandlerRegistry()
        self._notifier = AsyncRealtimeNotifier(self._event_stream, self._handlers)

    def get_chat_thread_client(self, thread_id: str, **kwargs: Any) -> ChatThreadClient:
        """Get a ChatThreadClient for a thread, with this client's options and connection pool.

        Keyword arguments override this client's options for the new client (which then gets its
        own connection pool).

        :param thread_id: Required. The thread id.
        :type thread_id: str
        :return: ChatThreadClient
        :rtype: ~hubbub.chat.aio.ChatThreadClient
        :raises: ValueError
        """
        if not thread_id:
            raise ValueError("thread_id cannot be None.")
        if kwargs:
            options = self._pipeline.options.merged(kwargs)
            pipeline = AsyncPipeline(self._endpoint, options, AsyncBearerAuth(self._credential))
        else:
            pipeline = self._pipeline.retain()
        return ChatThreadClient(
            endpoint=self._endpoint, credential=self._credential, thread_id=thread_id, _pipeline=pipeline
        )

    async def create_chat_thread(
        self,
        topic: str,
        *,
        thread_participants: list[ChatParticipant] | None = None,
        idempotency_token: str | uuid.UUID | None = None,
        **kwargs: Any,
    ) -> CreateChatThreadResult:
        """Creates a chat thread; the caller becomes a participant.

        The request always carries a repeatability id (a new uuid unless `idempotency_token` is
        given), so it is retried safely and repeating it returns the same thread.

        :param topic: Required. The thread topic.
        :type topic: str
        :keyword thread_participants: Optional. Participants to be added to the thread.
        :paramtype thread_participants: List[~hubbub.chat.ChatParticipant]
        :keyword idempotency_token: Optional. A client-generated, globally unique id for the request
            (a str, or a `uuid.UUID` as the official README passes; sent as `str(token)`).
        :paramtype idempotency_token: str or ~uuid.UUID
        :return: CreateChatThreadResult; `errors` lists the participants that could not be added.
        :rtype: ~hubbub.chat.CreateChatThreadResult
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.create_chat_thread(self._pipeline.api_version, topic, thread_participants, idempotency_token)
        response = await self._pipeline.send(call, **kwargs)
        return chat_calls.parse_create_chat_thread(response, thread_participants)

    def list_chat_threads(
        self, *, results_per_page: int | None = None, start_time: dt.datetime | None = None, **kwargs: Any
    ) -> AsyncItemPaged[ChatThreadItem]:
        """Gets the list of chat threads of the user.

        :keyword int results_per_page: The maximum number of chat threads returned per page.
        :keyword ~datetime.datetime start_time: Only threads with activity from this point in time on.
        :return: An iterator like instance of ChatThreadItem, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatThreadItem]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.list_chat_threads(self._pipeline.api_version, results_per_page, start_time)
        return self._pipeline.paged(call, ChatThreadItem._from_wire, **kwargs)

    def search_messages(
        self,
        query: str,
        *,
        results_per_page: int | None = None,
        order_by: str = "relevance",
        **kwargs: Any,
    ) -> AsyncItemPaged[ChatMessageSearchResult]:
        """Searches the messages of every thread the user is or was a participant of (a Hubbub
        extension; ACS has none), each thread inside the user's history of it, as `list_messages`.

        :param str query: The words to search for; a result holds every one.
        :keyword int results_per_page: The maximum number of results per page.
        :keyword str order_by: "relevance" (the default; newer first among equals) or "time" (newest first).
        :return: An iterator like instance of ChatMessageSearchResult, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatMessageSearchResult]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.search_messages(self._pipeline.api_version, None, query, results_per_page, order_by)
        return self._pipeline.paged(call, ChatMessageSearchResult._from_wire, **kwargs)

    async def delete_chat_thread(self, thread_id: str, **kwargs: Any) -> None:
        """Deletes a chat thread.

        :param thread_id: Required. Thread id to delete.
        :type thread_id: str
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.delete_chat_thread(self._pipeline.api_version, thread_id)
        await self._pipeline.send(call, **kwargs)

    def events(
        self,
        *,
        last_event_id: str | None = None,
        reconnect: bool = True,
        realtime_transport: RealtimeTransport | None = None,
    ) -> AsyncEventStream:
        """Hubbub addition: iterate over this user's real-time events.

        `async for event in chat_client.events(): ...` yields `ChatEvent`s with `.type`, `.id` (the
        stream position, opaque) and `.data` (a dict: the ACS JS SDK's event payload plus
        `recipient`). Types: `connected` (after every (re)connection, `data["resumed"]` tells
        whether the stream resumed without a gap), the ten chat events (chatMessageReceived, ...),
        `resyncRequired` (events were missed: refetch through the REST API), and `disconnect`
        (`data["reason"]`; `connectionLost` when the connection dropped). Heartbeats are consumed.
        The stream reconnects by itself with backoff, a fresh token and the last id (no duplicates,
        no gaps), and counts a connection without data for 3 heartbeat intervals as dead. Close it
        with `aclose()` or use it as a context manager.

        :keyword str last_event_id: Resume after this stream position.
        :keyword bool reconnect: Reconnect when the stream ends or fails (default True); False ends
            the iteration instead.
        :keyword str realtime_transport: "sse" or "websocket" (default: the client's
            `realtime_transport`, "sse" unless set).
        :return: An iterator of `ChatEvent` (asynchronous for the async client).
        :raises: ~azure.core.exceptions.HttpResponseError when the server refuses the stream
            (for example ClientAuthenticationError for a rejected token), ValueError for an
            unknown transport.
        """
        return AsyncEventStream(
            self._endpoint,
            self._pipeline.options,
            AsyncBearerAuth(self._credential),
            last_event_id=last_event_id,
            reconnect=reconnect,
            realtime_transport=realtime_transport or self._pipeline.options.realtime_transport,
        )

    def _event_stream(self, last_event_id: str | None) -> AsyncEventStream:
        return self.events(last_event_id=last_event_id)

    async def start_realtime_notifications(self) -> None:
        """Hubbub addition: start calling the `on()` handlers with this user's real-time events.

        Returns at once; `realTimeNotificationConnected` fires when the stream is connected (and
        after every reconnection). The stream reconnects by itself, resuming after the last event.
        Handlers run on the event loop of the async client, on a background thread of the sync
        client. A no-op if already started. Listens over the client's `realtime_transport`
        (Server-Sent Events unless "websocket" was chosen).
        """
        await self._notifier.start()

    async def stop_realtime_notifications(self) -> None:
        """Hubbub addition: stop the real-time notifications (`realTimeNotificationDisconnected` fires)."""
        await self._notifier.stop()

    def on(self, event_name: str, handler: Handler) -> None:
        """Hubbub addition: call `handler(event)` for each `event_name` event.

        Names: chatMessageReceived, chatMessageEdited, chatMessageDeleted, typingIndicatorReceived,
        readReceiptReceived, chatThreadCreated, chatThreadDeleted, chatThreadPropertiesUpdated,
        participantsAdded, participantsRemoved, realTimeNotificationConnected,
        realTimeNotificationDisconnected, and resyncRequired (events were missed: refetch through
        the REST API). `event` is a `ChatEvent` (`.type`, `.id`, `.data`; `event["threadId"]`
        reads `data`). The handler may be a plain function or a coroutine function.

        :param str event_name: The event name.
        :param handler: The callable.
        :raises: ValueError for an unknown event name.
        """
        self._handlers.on(event_name, handler)

    def off(self, event_name: str, handler: Handler) -> None:
        """Hubbub addition: stop calling `handler` for `event_name` events.

        :param str event_name: The event name.
        :param handler: The callable given to `on()`.
        """
        self._handlers.off(event_name, handler)

    async def close(self) -> None:
        """Close the client (and stop its real-time notifications; the pool closes with its last user)."""
        await self._notifier.stop()
        await self._pipeline.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()
