"""ChatClient, async: create, get, list and delete threads (azure-communication-chat README examples).

    HUBBUB_ENDPOINT=http://127.0.0.1:8080 \
    HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." python samples/chat_client_sample_async.py
"""

import asyncio
import os
from datetime import UTC, datetime, timedelta

from hubbub.chat import ChatParticipant
from hubbub.chat.aio import ChatClient, CommunicationTokenCredential
from hubbub.identity.aio import CommunicationIdentityClient


async def main() -> None:
    endpoint = os.environ["HUBBUB_ENDPOINT"]
    async with CommunicationIdentityClient.from_connection_string(
        os.environ["HUBBUB_CONNECTION_STRING"]
    ) as identity_client:
        user, token = await identity_client.create_user_and_token(scopes=["chat"])
        other = await identity_client.create_user()

    chat_client = ChatClient(endpoint, CommunicationTokenCredential(token.token))
    async with chat_client:
        participants = [ChatParticipant(identifier=other, display_name="name")]
        create_chat_thread_result = await chat_client.create_chat_thread("test topic", thread_participants=participants)
        thread_id = create_chat_thread_result.chat_thread.id
        chat_thread_client = chat_client.get_chat_thread_client(thread_id)
        print("Created thread", chat_thread_client.thread_id)

        start_time = datetime.now(UTC) - timedelta(days=2)
        chat_threads = chat_client.list_chat_threads(results_per_page=5, start_time=start_time)
        async for chat_thread_item_page in chat_threads.by_page():
            async for chat_thread_item in chat_thread_item_page:
                print("Thread:", chat_thread_item.id, chat_thread_item.topic)

        await chat_client.delete_chat_thread(thread_id)
        print("Deleted the thread")
    print("User", user.properties["id"], "done")


if __name__ == "__main__":
    asyncio.run(main())
