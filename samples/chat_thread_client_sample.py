"""ChatThreadClient: messages, participants, typing and read receipts (azure-communication-chat README).

    HUBBUB_ENDPOINT=http://127.0.0.1:8080 \
    HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." python samples/chat_thread_client_sample.py
"""

import os
from datetime import UTC, datetime, timedelta

from hubbub.chat import (
    ChatClient,
    ChatMessageType,
    ChatParticipant,
    CommunicationTokenCredential,
)
from hubbub.identity import CommunicationIdentityClient


def main() -> None:
    endpoint = os.environ["HUBBUB_ENDPOINT"]
    identity_client = CommunicationIdentityClient.from_connection_string(os.environ["HUBBUB_CONNECTION_STRING"])
    user, token = identity_client.create_user_and_token(scopes=["chat"])
    new_user = identity_client.create_user()

    chat_client = ChatClient(endpoint, CommunicationTokenCredential(token.token))
    topic = "test topic"
    create_chat_thread_result = chat_client.create_chat_thread(topic)
    # [START create_chat_thread_client]
    chat_thread_client = chat_client.get_chat_thread_client(create_chat_thread_result.chat_thread.id)
    # [END create_chat_thread_client]

    with chat_thread_client:
        # [START get_thread]
        chat_thread_properties = chat_thread_client.get_properties()
        print("Thread", chat_thread_properties.id, "topic", chat_thread_properties.topic)
        # [END get_thread]

        # [START update_topic]
        chat_thread_client.update_topic(topic="updated topic")
        # [END update_topic]

        # [START send_message]
        send_message_result = chat_thread_client.send_message(
            "Hello! My name is Fred Flinstone",
            sender_display_name="Fred Flinstone",
            chat_message_type=ChatMessageType.TEXT,
            metadata={"tags": "greeting"},
        )
        message_id = send_message_result.id
        print("Message sent: id:", message_id)
        # [END send_message]

        # [START get_message]
        chat_message = chat_thread_client.get_message(message_id)
        print("Message:", chat_message.id, chat_message.type, chat_message.content.message)
        # [END get_message]

        # [START list_messages]
        start_time = datetime.now(UTC) - timedelta(days=1)
        chat_messages = chat_thread_client.list_messages(results_per_page=1, start_time=start_time)
        for chat_message_page in chat_messages.by_page():
            for message in chat_message_page:
                print("ChatMessage:", message.id, message.type, message.content.message or message.content.topic)
        # [END list_messages]

        # [START update_message]
        chat_thread_client.update_message(message_id, content="updated content")
        # [END update_message]

        # [START send_read_receipt]
        chat_thread_client.send_read_receipt(message_id)
        # [END send_read_receipt]

        # [START list_read_receipts]
        for receipt in chat_thread_client.list_read_receipts():
            print("Read receipt:", receipt.chat_message_id, receipt.sender.properties["id"])
        # [END list_read_receipts]

        # [START send_typing_notification]
        chat_thread_client.send_typing_notification(sender_display_name="Fred Flinstone")
        # [END send_typing_notification]

        # [START add_participants]
        thread_participants = [
            ChatParticipant(identifier=new_user, display_name="Fred Flinstone", share_history_time=datetime.now(UTC))
        ]
        result = chat_thread_client.add_participants(thread_participants)
        for participant, error in result:
            print("Failed to add", participant.identifier.properties["id"], error.message)
        # [END add_participants]

        # [START list_participants]
        for chat_participant_page in chat_thread_client.list_participants(results_per_page=1, skip=0).by_page():
            for chat_participant in chat_participant_page:
                print("Participant:", chat_participant.identifier.properties["id"], chat_participant.display_name)
        # [END list_participants]

        # [START remove_participant]
        chat_thread_client.remove_participant(new_user)
        # [END remove_participant]

        # [START delete_message]
        chat_thread_client.delete_message(message_id)
        # [END delete_message]

    chat_client.delete_chat_thread(create_chat_thread_result.chat_thread.id)
    chat_client.close()
    identity_client.delete_user(user)
    identity_client.close()


if __name__ == "__main__":
    main()
