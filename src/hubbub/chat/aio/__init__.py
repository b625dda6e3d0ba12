"""The async chat SDK: a drop-in for `azure.communication.chat.aio` (same names, awaitable methods).

Models and identifiers are shared with `hubbub.chat`.
"""

from hubbub.chat.aio._chat_client import ChatClient
from hubbub.chat.aio._chat_thread_client import ChatThreadClient
from hubbub.chat.aio._credential import CommunicationTokenCredential

__all__ = ["ChatClient", "ChatThreadClient", "CommunicationTokenCredential"]
