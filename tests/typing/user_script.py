"""A user's script, type-checked with `mypy --strict` against the installed SDK (tests/test_typing.py).

It is never run: it only has to type-check the way code written for the official SDK does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from hubbub.chat import (
    ChatClient,
    ChatMessage,
    ChatMessageType,
    ChatParticipant,
    CommunicationTokenCredential,
    CommunicationUserIdentifier,
)
from hubbub.chat.aio import ChatClient as AsyncChatClient
from hubbub.chat.aio import CommunicationTokenCredential as AsyncCredential
from hubbub.identity import CommunicationIdentityClient, CommunicationTokenScope


def sync_flow(connection_string: str, endpoint: str) -> list[str]:
    identity = CommunicationIdentityClient.from_connection_string(connection_string)
    user, token = identity.create_user_and_token([CommunicationTokenScope.CHAT])
    client = ChatClient(endpoint, CommunicationTokenCredential(token.token))
    result = client.create_chat_thread(
        "topic",
        thread_participants=[ChatParticipant(identifier=user, display_name="me", share_history_time=dt.datetime.now())],
        idempotency_token=str(uuid.uuid4()),
    )
    thread = client.get_chat_thread_client(result.chat_thread.id)
    sent = thread.send_message("hello", chat_message_type=ChatMessageType.TEXT, metadata={"k": "v"})
    message: ChatMessage = thread.get_message(sent.id)
    texts: list[str] = []
    for page in thread.list_messages(results_per_page=10).by_page():
        texts.extend(m.content.message or "" for m in page if m.content is not None)
    thread.remove_participant(CommunicationUserIdentifier(user.properties["id"]))
    return [message.id, *texts]


async def async_flow(endpoint: str, token: str) -> int:
    async with AsyncChatClient(endpoint, AsyncCredential(token)) as client:
        created = await client.create_chat_thread("async")
        async with client.get_chat_thread_client(created.chat_thread.id) as thread:
            await thread.send_message("hi")
            return len([m async for m in thread.list_messages()])


if __name__ == "__main__":
    asyncio.run(async_flow("https://localhost:8443", "token"))
