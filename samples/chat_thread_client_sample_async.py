"""ChatThreadClient, async: messages, participants, typing and read receipts (README examples).

    HUBBUB_ENDPOINT=http://127.0.0.1:8080 \
    HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." \
    python samples/chat_thread_client_sample_async.py
"""

import asyncio
import os
from datetime import UTC, datetime, timedelta

from hubbub.chat import ChatMessageType, ChatParticipant
from hubbub.chat.aio import ChatClient, CommunicationTokenCredential
from hubbub.identity.aio import CommunicationIdentityClient


async def main() -> None:
    endpoint = os.environ["HUBBUB_ENDPOINT"]
    async with CommunicationIdentityClient.from_connection_string(
        os.environ["HUBBUB_CONNECTION_STRING"]
    ) as identity_client:
        user, token = await identity_client.create_user_and_token(scopes=["chat"])
        new_user = await identity_client.create_user()

        # A credential that refreshes its token by itself when it is about to expire.
        async def fetch_token():
            return await identity_client.get_token(user, ["chat"])

        credential = CommunicationTokenCredential(token.token, token_refresher=fetch_token)
        async with ChatClient(endpoint, credential) as chat_client:
            create_chat_thread_result = await chat_client.create_chat_thread("test topic")
            thread_id = create_chat_thread_result.chat_thread.id
            async with chat_client.get_chat_thread_client(thread_id) as chat_thread_client:
                properties = await chat_thread_client.get_properties()
                print("Thread", properties.id, properties.topic)
                await chat_thread_client.update_topic(topic="updated topic")

                result = await chat_thread_client.send_message(
                    "Hello! My name is Fred Flinstone",
                    sender_display_name="Fred Flinstone",
                    chat_message_type=ChatMessageType.TEXT,
                )
                message = await chat_thread_client.get_message(result.id)
                print("Message:", message.id, message.content.message)

                start_time = datetime.now(UTC) - timedelta(days=1)
                chat_messages = chat_thread_client.list_messages(results_per_page=1, start_time=start_time)
                async for page in chat_messages.by_page():
                    async for chat_message in page:
                        print("ChatMessage:", chat_message.id, chat_message.type)

                await chat_thread_client.update_message(result.id, content="updated content")
                await chat_thread_client.send_read_receipt(result.id)
                async for receipt in chat_thread_client.list_read_receipts():
                    print("Read receipt:", receipt.chat_message_id)
                await chat_thread_client.send_typing_notification(sender_display_name="Fred Flinstone")

                failed = await chat_thread_client.add_participants(
                    [ChatParticipant(identifier=new_user, display_name="Wilma Flinstone")]
                )
                print("Failed participants:", failed)
                async for chat_participant in chat_thread_client.list_participants():
                    print("Participant:", chat_participant.identifier.properties["id"])
                await chat_thread_client.remove_participant(new_user)
                await chat_thread_client.delete_message(result.id)
            await chat_client.delete_chat_thread(thread_id)
        await identity_client.delete_user(user)


if __name__ == "__main__":
    asyncio.run(main())
