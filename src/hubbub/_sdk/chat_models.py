"""The public chat models, with the names, constructors and attributes of azure-communication-chat 1.3.0.

Each model that comes from the wire has a `_from_wire(body)` classmethod that reads the JSON object
the service sends (spec §5.2) exactly the way the official SDK's deserializer does: missing fields
become None, unknown message types pass through as plain strings. Requests are built from
`hubbub.wire` structs instead (see `chat_calls`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum
from typing import Any, cast

from azure.core import CaseInsensitiveEnumMeta

from hubbub import wire

from .identifiers import CommunicationIdentifier, deserialize_identifier


def parse_datetime(value: Any) -> dt.datetime | None:
    """A date-time field of a response (`wire.parse_iso_datetime`); None stays None."""
    return None if value is None else wire.parse_iso_datetime(str(value))


class _GeneratedModel:
    """Base of the models the official SDK generates with autorest: equal when their fields are equal."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, self.__class__):
            return self.__dict__ == other.__dict__
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__!r})"

    def as_dict(self) -> dict[str, Any]:
        """The model's attributes as a plain dict (attribute names, not wire names)."""
        return {k: v.as_dict() if isinstance(v, _GeneratedModel) else v for k, v in self.__dict__.items()}


class ChatAttachmentType(str, Enum, metaclass=CaseInsensitiveEnumMeta):  # noqa: UP042 - str+Enum like the official SDK, so str() matches
    """The type of attachment."""

    IMAGE = "image"
    FILE = "file"


class ChatMessageType(str, Enum, metaclass=CaseInsensitiveEnumMeta):  # noqa: UP042 - str+Enum like the official SDK, so str() matches
    """The chat message type."""

    TEXT = "text"
    HTML = "html"
    TOPIC_UPDATED = "topicUpdated"
    PARTICIPANT_ADDED = "participantAdded"
    PARTICIPANT_REMOVED = "participantRemoved"


class ChatError(_GeneratedModel):
    """The Communication Services error.

    :ivar code: The error code. Required.
    :ivar message: The error message. Required.
    :ivar target: The error target.
    :ivar details: Further details about specific errors that led to this error.
    :ivar inner_error: The inner error if any.
    """

    def __init__(self, *, code: str, message: str, **kwargs: Any) -> None:
        """Create the error; `target`, `details` and `inner_error` are set only by the server."""
        self.code = code
        self.message = message
        self.target: str | None = None
        self.details: list[ChatError] | None = None
        self.inner_error: ChatError | None = None

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatError:
        error = cls(code=body.get("code"), message=body.get("message"))  # type: ignore[arg-type]
        error.target = body.get("target")
        details = body.get("details")
        error.details = [cls._from_wire(d) for d in details] if details is not None else None
        inner = body.get("innererror")
        error.inner_error = cls._from_wire(inner) if inner is not None else None
        return error


class SendChatMessageResult(_GeneratedModel):
    """Result of the send message operation.

    :ivar id: A server-generated message id. Required.
    """

    def __init__(self, *, id: str, **kwargs: Any) -> None:
        """Create the result."""
        self.id = id

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> SendChatMessageResult:
        return cls(id=body.get("id"))  # type: ignore[arg-type]


class ChatThreadItem(_GeneratedModel):
    """Summary information of a chat thread.

    :ivar id: Chat thread id. Required.
    :ivar topic: Chat thread topic. Required.
    :ivar deleted_on: The timestamp when the chat thread was deleted.
    :ivar last_message_received_on: The timestamp when the last message arrived at the server.
    """

    def __init__(
        self,
        *,
        id: str,
        topic: str,
        deleted_on: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the item; `last_message_received_on` is set only by the server."""
        self.id = id
        self.topic = topic
        self.deleted_on = deleted_on
        self.last_message_received_on: dt.datetime | None = None

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatThreadItem:
        item = cls(
            id=cast(str, body.get("id")),
            topic=cast(str, body.get("topic")),
            deleted_on=parse_datetime(body.get("deletedOn")),
        )
        item.last_message_received_on = parse_datetime(body.get("lastMessageReceivedOn"))
        return item


class ChatParticipant:
    """A participant of the chat thread.

    :ivar identifier: Required. The communication identifier.
    :ivar display_name: Display name for the chat thread participant.
    :ivar share_history_time: Time from which the chat history is shared with the participant.
    """

    def __init__(
        self,
        *,
        identifier: CommunicationIdentifier,
        display_name: str | None = None,
        share_history_time: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a participant.

        :keyword identifier: Identifies the participant, for example a `CommunicationUserIdentifier`.
        :keyword display_name: Display name for the chat participant.
        :keyword share_history_time: Time from which the chat history is shared with the participant.
        """
        self.identifier = identifier
        self.display_name = display_name
        self.share_history_time = share_history_time

    def __repr__(self) -> str:
        return f"ChatParticipant(identifier={self.identifier!r}, display_name={self.display_name!r})"

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatParticipant:
        return cls(
            identifier=deserialize_identifier(body.get("communicationIdentifier") or {}),
            display_name=body.get("displayName"),
            share_history_time=parse_datetime(body.get("shareHistoryTime")),
        )


class ChatAttachment:
    """An attachment in a chat message.

    :ivar id: Id of the attachment. Required.
    :ivar attachment_type: The type of attachment ("image" or "file"). Required.
    :ivar name: The name of the attachment content.
    :ivar url: The URL where the attachment can be downloaded.
    :ivar preview_url: The URL where the preview of attachment can be downloaded.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create an attachment from keyword arguments (`id` and `attachment_type` required)."""
        self.id: str = kwargs["id"]
        self.attachment_type: ChatAttachmentType | str = kwargs["attachment_type"]
        self.name: str | None = kwargs.get("name")
        self.url: str | None = kwargs.get("url")
        self.preview_url: str | None = kwargs.get("preview_url")

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatAttachment:
        return cls(
            id=body.get("id"),
            attachment_type=body.get("attachmentType"),
            name=body.get("name"),
            url=body.get("url"),
            preview_url=body.get("previewUrl"),
        )


class ChatMessageContent:
    """Content of a chat message.

    :ivar message: Chat message content for messages of types text or html.
    :ivar topic: Chat message content for messages of type topicUpdated.
    :ivar participants: Participants of participantAdded or participantRemoved messages.
    :ivar initiator: Who added or removed participants, for system messages.
    :ivar attachments: Attachments of text or html messages.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create message content from keyword arguments; all are optional."""
        self.message: str | None = kwargs.get("message")
        self.topic: str | None = kwargs.get("topic")
        self.participants: list[ChatParticipant] | None = kwargs.get("participants")
        self.initiator: CommunicationIdentifier | None = kwargs.get("initiator")
        self.attachments: list[ChatAttachment] | None = kwargs.get("attachments")

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatMessageContent:
        initiator = body.get("initiatorCommunicationIdentifier")
        return cls(
            message=body.get("message"),
            topic=body.get("topic"),
            participants=[ChatParticipant._from_wire(p) for p in body.get("participants") or []],
            initiator=deserialize_identifier(initiator) if initiator is not None else None,
            attachments=[ChatAttachment._from_wire(a) for a in body.get("attachments") or []],
        )


class ChatMessage:
    """Chat message.

    :ivar id: The id of the chat message. This id is server generated.
    :ivar type: Type of the chat message (a `ChatMessageType`, or the raw string if unknown).
    :ivar sequence_id: Sequence of the chat message in the conversation.
    :ivar version: Version of the chat message.
    :ivar content: Content of the chat message.
    :ivar sender_display_name: The display name of the chat message sender.
    :ivar created_on: The timestamp when the chat message arrived at the server.
    :ivar sender: The chat message sender (None for system messages).
    :ivar deleted_on: The timestamp when the chat message was deleted.
    :ivar edited_on: The last timestamp (if applicable) when the message was edited.
    :ivar metadata: Message metadata.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create a message from keyword arguments; all but `metadata` are required."""
        self.id: str = kwargs["id"]
        self.type: ChatMessageType | str = kwargs["type"]
        self.sequence_id: str = kwargs["sequence_id"]
        self.version: str = kwargs["version"]
        self.content: ChatMessageContent | None = kwargs["content"]
        self.sender_display_name: str | None = kwargs["sender_display_name"]
        self.created_on: dt.datetime = kwargs["created_on"]
        self.sender: CommunicationIdentifier | None = kwargs["sender"]
        self.deleted_on: dt.datetime | None = kwargs["deleted_on"]
        self.edited_on: dt.datetime | None = kwargs["edited_on"]
        self.metadata: dict[str, str] | None = kwargs.get("metadata")

    def __repr__(self) -> str:
        return f"ChatMessage(id={self.id!r}, type={self.type!r}, sequence_id={self.sequence_id!r})"

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatMessage:
        sender = body.get("senderCommunicationIdentifier")
        raw_type = body.get("type")
        message_type: ChatMessageType | str | None
        try:
            message_type = ChatMessageType(raw_type)
        except ValueError:
            message_type = raw_type
        content = body.get("content")
        return cls(
            id=_str_or_none(body.get("id")),
            type=message_type,
            sequence_id=_str_or_none(body.get("sequenceId")),
            version=_str_or_none(body.get("version")),
            content=ChatMessageContent._from_wire(content) if content else None,
            sender_display_name=body.get("senderDisplayName"),
            created_on=parse_datetime(body.get("createdOn")),
            sender=deserialize_identifier(sender) if sender is not None else None,
            deleted_on=parse_datetime(body.get("deletedOn")),
            edited_on=parse_datetime(body.get("editedOn")),
            metadata=body.get("metadata"),
        )


class ChatThreadProperties:
    """The properties of a chat thread.

    :ivar id: Chat thread id.
    :ivar topic: Chat thread topic.
    :ivar created_on: The timestamp when the chat thread was created.
    :ivar created_by: The chat thread owner.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create thread properties from keyword arguments (`id`, `created_on`, `created_by` required)."""
        self.id: str = kwargs["id"]
        self.topic: str | None = kwargs.get("topic")
        self.created_on: dt.datetime = kwargs["created_on"]
        self.created_by: CommunicationIdentifier | None = kwargs["created_by"]

    def __repr__(self) -> str:
        return f"ChatThreadProperties(id={self.id!r}, topic={self.topic!r})"

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatThreadProperties:
        created_by = body.get("createdByCommunicationIdentifier")
        return cls(
            id=body.get("id"),
            topic=body.get("topic"),
            created_on=parse_datetime(body.get("createdOn")),
            created_by=deserialize_identifier(created_by) if created_by is not None else None,
        )


class ChatMessageReadReceipt:
    """A read receipt: the time a chat message was read by a recipient.

    :ivar sender: Read receipt sender.
    :ivar chat_message_id: Id of the chat message that has been read.
    :ivar read_on: Read receipt timestamp.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create a read receipt from keyword arguments (all required)."""
        self.sender: CommunicationIdentifier | None = kwargs["sender"]
        self.chat_message_id: str = kwargs["chat_message_id"]
        self.read_on: dt.datetime = kwargs["read_on"]

    def __repr__(self) -> str:
        return f"ChatMessageReadReceipt(sender={self.sender!r}, chat_message_id={self.chat_message_id!r})"

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatMessageReadReceipt:
        sender = body.get("senderCommunicationIdentifier")
        return cls(
            sender=deserialize_identifier(sender) if sender is not None else None,
            chat_message_id=body.get("chatMessageId"),
            read_on=parse_datetime(body.get("readOn")),
        )


class ChatMessageSearchResult:
    """A message found by `search_messages` (a Hubbub extension; ACS has no message search).

    :ivar message: The message, as `list_messages` returns it.
    :ivar thread_id: The id of the thread the message is in.
    :ivar snippet: The message's text around the first match: html-escaped, with every matched
        word wrapped in ``<mark>...</mark>`` (an html message's text, without its markup).
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create a search result from keyword arguments (all required)."""
        self.message: ChatMessage = kwargs["message"]
        self.thread_id: str = kwargs["thread_id"]
        self.snippet: str = kwargs["snippet"]

    def __repr__(self) -> str:
        return f"ChatMessageSearchResult(thread_id={self.thread_id!r}, message={self.message!r})"

    @classmethod
    def _from_wire(cls, body: Mapping[str, Any]) -> ChatMessageSearchResult:
        return cls(
            message=ChatMessage._from_wire(body.get("message") or {}),
            thread_id=body.get("chatThreadId"),
            snippet=body.get("snippet") or "",
        )


class CreateChatThreadResult:
    """Result of the create chat thread operation.

    :ivar chat_thread: Chat thread.
    :ivar errors: The participants that could not be added, each with its `ChatError`.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Create the result (`chat_thread` required)."""
        self.chat_thread: ChatThreadProperties = kwargs["chat_thread"]
        self.errors: list[tuple[ChatParticipant | None, ChatError]] | None = kwargs.get("errors")

    def __repr__(self) -> str:
        return f"CreateChatThreadResult(chat_thread={self.chat_thread!r}, errors={self.errors!r})"


def _str_or_none(value: Any) -> Any:
    """Strings stay strings; numbers are stringified like msrest does for `str` fields."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def pair_errors(
    participants: list[ChatParticipant], errors: list[Mapping[str, Any]] | None
) -> list[tuple[ChatParticipant | None, ChatError]]:
    """Pair each `invalidParticipants` error with the request participant it targets.

    Like the official converter, the match is on the participant's `properties['id']`, so a
    participant that is not a communication user raises `KeyError`.
    """
    by_id = {p.identifier.properties["id"]: p for p in participants}
    return [(by_id.get(e.get("target")), ChatError._from_wire(e)) for e in errors or []]
