"""ChatClient: create, get, list and delete threads (the azure-communication-chat README examples).

    HUBBUB_ENDPOINT=http://127.0.0.1:8080 \
    HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." python samples/chat_client_sample.py
"""

import os
from datetime import UTC, datetime, timedelta

from hubbub.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
from hubbub.identity import CommunicationIdentityClient


def main() -> None:
    endpoint = os.environ["HUBBUB_ENDPOINT"]
    identity_client = CommunicationIdentityClient.from_connection_string(os.environ["HUBBUB_CONNECTION_STRING"])
    user, token = identity_client.create_user_and_token(scopes=["chat"])
    other = identity_client.create_user()

    # [START create_chat_client]
    chat_client = ChatClient(endpoint, CommunicationTokenCredential(token.token))
    # [END create_chat_client]
    with chat_client:
        # [START create_thread]
        topic = "test topic"
        participants = [ChatParticipant(identifier=other, display_name="name", share_history_time=datetime.now(UTC))]
        create_chat_thread_result = chat_client.create_chat_thread(topic, thread_participants=participants)
        chat_thread_client = chat_client.get_chat_thread_client(create_chat_thread_result.chat_thread.id)
        print("Created thread", chat_thread_client.thread_id, "errors:", create_chat_thread_result.errors)
        # [END create_thread]

        # create_chat_thread with an idempotency token returns the same thread when repeated
        token_id = "sample-idempotency-token-" + user.properties["id"][-12:]
        first = chat_client.create_chat_thread("idempotent", idempotency_token=token_id)
        again = chat_client.create_chat_thread("idempotent", idempotency_token=token_id)
        assert first.chat_thread.id == again.chat_thread.id

        # [START list_threads]
        start_time = datetime.now(UTC) - timedelta(days=2)
        chat_threads = chat_client.list_chat_threads(results_per_page=5, start_time=start_time)
        for chat_thread_item_page in chat_threads.by_page():
            for chat_thread_item in chat_thread_item_page:
                print("Thread:", chat_thread_item.id, chat_thread_item.topic)
        # [END list_threads]

        # [START delete_thread]
        chat_client.delete_chat_thread(create_chat_thread_result.chat_thread.id)
        chat_client.delete_chat_thread(first.chat_thread.id)
        # [END delete_thread]
        print("Deleted the threads")
    identity_client.delete_user(user)
    identity_client.delete_user(other)
    identity_client.close()


if __name__ == "__main__":
    main()
