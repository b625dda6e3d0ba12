"""Identity: users and access tokens (the azure-communication-identity README examples).

Run against `hubbub serve`:
    HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." python samples/identity_sample.py
"""

import os
from datetime import timedelta

from hubbub.identity import CommunicationIdentityClient, CommunicationTokenScope


def main() -> None:
    # [START auth_from_connection_string]
    identity_client = CommunicationIdentityClient.from_connection_string(os.environ["HUBBUB_CONNECTION_STRING"])
    # [END auth_from_connection_string]
    with identity_client:
        user = identity_client.create_user()
        print("Created user", user.properties["id"])

        tokenresponse = identity_client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
        print("Token expires on", tokenresponse.expires_on)

        short = identity_client.get_token(user, [CommunicationTokenScope.CHAT], token_expires_in=timedelta(hours=1))
        print("One-hour token expires on", short.expires_on)

        user2, token2 = identity_client.create_user_and_token(
            scopes=[CommunicationTokenScope.CHAT], token_expires_in=timedelta(minutes=60)
        )
        print("Created user", user2.properties["id"], "with a token of", len(token2.token), "characters")

        identity_client.revoke_tokens(user)
        print("Revoked the tokens of", user.properties["id"])

        identity_client.delete_user(user)
        identity_client.delete_user(user2)
        print("Deleted both users")


if __name__ == "__main__":
    main()
