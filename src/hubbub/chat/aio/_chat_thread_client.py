"""`ChatThreadClient`: messages, participants, read receipts and typing in one chat thread."""

from __future__ import annotations

import datetime as dt
from typing import Any

from azure.core.async_paging import AsyncItemPaged

from hubbub._sdk import chat_calls
from hubbub._sdk._async.auth import AsyncBearerAuth
from hubbub._sdk._async.pipeline import AsyncPipeline
from hubbub._sdk.chat_models import (
    ChatError,
    ChatMessage,
    ChatMessageReadReceipt,
    ChatMessageSearchResult,
    ChatMessageType,
    ChatParticipant,
    ChatThreadProperties,
    SendChatMessageResult,
)
from hubbub._sdk.identifiers import CommunicationIdentifier
from hubbub._sdk.options import ClientOptions, normalize_endpoint
from hubbub.chat.aio._credential import CommunicationTokenCredential


class ChatThreadClient:
    """A client for one chat thread of the Azure Communication Services Chat API (or Hubbub).

    Usually obtained from `ChatClient.get_chat_thread_client()`, which passes on the chat client's
    options and connection pool. Works over https and plain http.

    :param str endpoint: The endpoint of the Azure Communication resource.
    :param CommunicationTokenCredential credential: The user's access token credential.
    :param str thread_id: The unique thread id.
    :keyword str api_version: The chat API version (default "2024-03-07").
    :keyword transport: An httpx transport (for example `httpx.MockTransport` in tests).
    :keyword connection_verify: False, or a CA bundle path, for TLS verification.
    :keyword float connection_timeout: Seconds to wait for a connection.
    :keyword float read_timeout: Seconds to wait for response data.
    :keyword int retry_total: How many times to retry throttled or failed requests (default 3).
    :keyword dict headers: Headers to add to every request.
    """

    def __init__(
        self,
        endpoint: str,
        credential: CommunicationTokenCredential,
        thread_id: str,
        **kwargs: Any,
    ) -> None:
        """Create the client; no connection is made until the first call."""
        if not thread_id:
            raise ValueError("thread_id can not be None or empty")
        if not credential:
            raise ValueError("credential can not be None")
        self._endpoint = normalize_endpoint(endpoint)
        self._credential = credential
        self._thread_id = thread_id
        pipeline: AsyncPipeline | None = kwargs.pop("_pipeline", None)
        if pipeline is None:
            options = ClientOptions.from_kwargs(
                kwargs, api_version=chat_calls.CHAT_API_VERSION, sdk_moniker=chat_calls.SDK_MONIKER
            )
            pipeline = AsyncPipeline(self._endpoint, options, AsyncBearerAuth(credential))
        self._pipeline = pipeline

    @property
    def thread_id(self) -> str:
        """Gets the thread id from the client.

        :rtype: str
        """
        return self._thread_id

    @property
    def _api_version(self) -> str:
        return self._pipeline.api_version

    async def get_properties(self, **kwargs: Any) -> ChatThreadProperties:
        """Gets the properties of the chat thread.

        :return: ChatThreadProperties
        :rtype: ~hubbub.chat.ChatThreadProperties
        :raises: ~azure.core.exceptions.HttpResponseError
        """
        call = chat_calls.get_chat_thread_properties(self._api_version, self._thread_id)
        response = await self._pipeline.send(call, **kwargs)
        return chat_calls.parse_thread_properties(response)

    async def update_topic(self, topic: str | None = None, **kwargs: Any) -> None:
        """Updates a thread's topic.

        :param topic: Thread topic. If not given, the update succeeds and changes nothing.
        :type topic: str
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.update_topic(self._api_version, self._thread_id, topic)
        await self._pipeline.send(call, **kwargs)

    async def send_read_receipt(self, message_id: str, **kwargs: Any) -> None:
        """Posts a read receipt event to a thread, on behalf of a user.

        :param message_id: Required. Id of the latest message read by current user.
        :type message_id: str
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.send_read_receipt(self._api_version, self._thread_id, message_id)
        await self._pipeline.send(call, **kwargs)

    def list_read_receipts(
        self, *, results_per_page: int | None = None, skip: int | None = None, **kwargs: Any
    ) -> AsyncItemPaged[ChatMessageReadReceipt]:
        """Gets read receipts for a thread: the latest one of each participant.

        :keyword int results_per_page: The maximum number of read receipts per page.
        :keyword int skip: Skips read receipts up to a specified position in response.
        :return: An iterator like instance of ChatMessageReadReceipt, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatMessageReadReceipt]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.list_read_receipts(self._api_version, self._thread_id, results_per_page, skip)
        return self._pipeline.paged(call, ChatMessageReadReceipt._from_wire, **kwargs)

    async def send_typing_notification(self, *, sender_display_name: str | None = None, **kwargs: Any) -> None:
        """Posts a typing event to a thread, on behalf of a user.

        :keyword str sender_display_name: The display name of the typing notification sender, used to
         populate the sender name of push notifications.
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.send_typing_notification(self._api_version, self._thread_id, sender_display_name)
        await self._pipeline.send(call, **kwargs)

    async def send_message(
        self,
        content: str,
        *,
        metadata: dict[str, str] | None = None,
        chat_message_type: ChatMessageType | str | None = None,
        sender_display_name: str | None = None,
        **kwargs: Any,
    ) -> SendChatMessageResult:
        """Sends a message to a thread.

        :param content: Required. Chat message content.
        :type content: str
        :keyword chat_message_type: "text" (default) or "html".
        :paramtype chat_message_type: Union[str, ~hubbub.chat.ChatMessageType]
        :keyword str sender_display_name: The display name of the message sender.
        :keyword dict[str, str] metadata: Message metadata.
        :return: SendChatMessageResult
        :rtype: ~hubbub.chat.SendChatMessageResult
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.send_message(
            self._api_version, self._thread_id, content, chat_message_type, sender_display_name, metadata
        )
        response = await self._pipeline.send(call, **kwargs)
        return chat_calls.parse_send_message(response)

    async def get_message(self, message_id: str, **kwargs: Any) -> ChatMessage:
        """Gets a message by id.

        :param message_id: Required. The message id.
        :type message_id: str
        :return: ChatMessage
        :rtype: ~hubbub.chat.ChatMessage
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.get_message(self._api_version, self._thread_id, message_id)
        response = await self._pipeline.send(call, **kwargs)
        return chat_calls.parse_message(response)

    def list_messages(
        self, *, results_per_page: int | None = None, start_time: dt.datetime | None = None, **kwargs: Any
    ) -> AsyncItemPaged[ChatMessage]:
        """Gets a list of messages from a thread, newest first.

        :keyword int results_per_page: The maximum number of messages to be returned per page.
        :keyword ~datetime.datetime start_time: Only messages from this point in time on.
        :return: An iterator like instance of ChatMessage, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatMessage]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.list_messages(self._api_version, self._thread_id, results_per_page, start_time)
        return self._pipeline.paged(call, ChatMessage._from_wire, **kwargs)

    def search_messages(
        self,
        query: str,
        *,
        results_per_page: int | None = None,
        order_by: str = "relevance",
        **kwargs: Any,
    ) -> AsyncItemPaged[ChatMessageSearchResult]:
        """Searches the thread's messages the user can read (a Hubbub extension; ACS has none).

        The results are the text and html messages that hold every word of `query`, inside the
        user's history of the thread (as `list_messages`), deleted messages never.

        :param str query: The words to search for.
        :keyword int results_per_page: The maximum number of results per page.
        :keyword str order_by: "relevance" (the default; newer first among equals) or "time" (newest first).
        :return: An iterator like instance of ChatMessageSearchResult, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatMessageSearchResult]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.search_messages(self._api_version, self._thread_id, query, results_per_page, order_by)
        return self._pipeline.paged(call, ChatMessageSearchResult._from_wire, **kwargs)

    async def update_message(
        self,
        message_id: str,
        content: str | None = None,
        *,
        metadata: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Updates a message.

        :param message_id: Required. The message id.
        :type message_id: str
        :param content: Chat message content.
        :type content: str
        :keyword dict[str, str] metadata: Message metadata.
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.update_message(self._api_version, self._thread_id, message_id, content, metadata)
        await self._pipeline.send(call, **kwargs)

    async def delete_message(self, message_id: str, **kwargs: Any) -> None:
        """Deletes a message.

        :param message_id: Required. The message id.
        :type message_id: str
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.delete_message(self._api_version, self._thread_id, message_id)
        await self._pipeline.send(call, **kwargs)

    def list_participants(
        self, *, results_per_page: int | None = None, skip: int | None = None, **kwargs: Any
    ) -> AsyncItemPaged[ChatParticipant]:
        """Gets the participants of a thread.

        :keyword int results_per_page: The maximum number of participants to be returned per page.
        :keyword int skip: Skips participants up to a specified position in response.
        :return: An iterator like instance of ChatParticipant, with `by_page()`.
        :rtype: ~azure.core.async_paging.AsyncItemPaged[~hubbub.chat.ChatParticipant]
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.list_participants(self._api_version, self._thread_id, results_per_page, skip)
        return self._pipeline.paged(call, ChatParticipant._from_wire, **kwargs)

    async def add_participants(
        self, thread_participants: list[ChatParticipant], **kwargs: Any
    ) -> list[tuple[ChatParticipant, ChatError]]:
        """Adds thread participants to a thread. If participants already exist, no change occurs.

        :param thread_participants: Thread participants to be added to the thread.
        :type thread_participants: List[~hubbub.chat.ChatParticipant]
        :return: The participants that failed, each with its error; empty when all were added.
        :rtype: List[Tuple[~hubbub.chat.ChatParticipant, ~hubbub.chat.ChatError]]
        :raises: ~azure.core.exceptions.HttpResponseError
        """
        if not thread_participants:
            return []
        call = chat_calls.add_participants(self._api_version, self._thread_id, thread_participants)
        response = await self._pipeline.send(call, **kwargs)
        return chat_calls.parse_add_participants(response, thread_participants)  # type: ignore[return-value]

    async def remove_participant(self, identifier: CommunicationIdentifier, **kwargs: Any) -> None:
        """Remove a participant from a thread.

        :param identifier: Required. Identifier of the thread participant to remove from the thread.
        :type identifier: ~hubbub.chat.CommunicationIdentifier
        :return: None
        :raises: ~azure.core.exceptions.HttpResponseError, ValueError
        """
        call = chat_calls.remove_participant(self._api_version, self._thread_id, identifier)
        await self._pipeline.send(call, **kwargs)

    async def close(self) -> None:
        """Close the client (the connection pool closes with its last user)."""
        await self._pipeline.close()

    async def __aenter__(self) -> ChatThreadClient:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()
