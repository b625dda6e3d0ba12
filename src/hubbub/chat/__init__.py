"""Hubbub's chat SDK: a drop-in for `azure.communication.chat` (1.3.0).

Change `from azure.communication.chat import ...` to `from hubbub.chat import ...` and keep every
class, method, keyword argument, model, `by_page()` pager and `azure.core.exceptions` error. In
return: plain http works, thread clients inherit the chat client's options, tokens refresh
themselves, retries never duplicate a message, and one HTTP stack (httpx) serves sync and async
(`hubbub.chat.aio`).
"""

from hubbub._sdk.chat_models import (
    ChatAttachment,
    ChatAttachmentType,
    ChatError,
    ChatMessage,
    ChatMessageContent,
    ChatMessageReadReceipt,
    ChatMessageSearchResult,
    ChatMessageType,
    ChatParticipant,
    ChatThreadItem,
    ChatThreadProperties,
    CreateChatThreadResult,
    SendChatMessageResult,
)
from hubbub._sdk.identifiers import (
    CommunicationCloudEnvironment,
    CommunicationIdentifier,
    CommunicationIdentifierKind,
    CommunicationUserIdentifier,
    CommunicationUserProperties,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsAppProperties,
    MicrosoftTeamsUserIdentifier,
    MicrosoftTeamsUserProperties,
    PhoneNumberIdentifier,
    PhoneNumberProperties,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from hubbub._sdk.options import UnknownOptionWarning
from hubbub.chat._chat_client import ChatClient
from hubbub.chat._chat_thread_client import ChatThreadClient
from hubbub.chat._credential import CommunicationTokenCredential

VERSION = "0.1.0"
__version__ = VERSION

__all__ = [
    "ChatAttachment",
    "ChatAttachmentType",
    "ChatClient",
    "ChatError",
    "ChatMessage",
    "ChatMessageContent",
    "ChatMessageReadReceipt",
    "ChatMessageSearchResult",
    "ChatMessageType",
    "ChatParticipant",
    "ChatThreadClient",
    "ChatThreadItem",
    "ChatThreadProperties",
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationTokenCredential",
    "CommunicationUserIdentifier",
    "CommunicationUserProperties",
    "CreateChatThreadResult",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserIdentifier",
    "MicrosoftTeamsUserProperties",
    "PhoneNumberIdentifier",
    "PhoneNumberProperties",
    "SendChatMessageResult",
    "UnknownIdentifier",
    "UnknownOptionWarning",
    "identifier_from_raw_id",
]
