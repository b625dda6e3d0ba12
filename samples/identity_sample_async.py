"""Identity, async: users and access tokens (the azure-communication-identity README examples).

HUBBUB_CONNECTION_STRING="endpoint=http://127.0.0.1:8080/;accesskey=..." python samples/identity_sample_async.py
"""

import asyncio
import os
from datetime import timedelta

from hubbub.identity import CommunicationTokenScope
from hubbub.identity.aio import CommunicationIdentityClient


async def main() -> None:
    identity_client = CommunicationIdentityClient.from_connection_string(os.environ["HUBBUB_CONNECTION_STRING"])
    async with identity_client:
        user = await identity_client.create_user()
        print("Created user", user.properties["id"])
        tokenresponse = await identity_client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
        print("Token expires on", tokenresponse.expires_on)
        user2, _ = await identity_client.create_user_and_token(
            scopes=[CommunicationTokenScope.CHAT], token_expires_in=timedelta(hours=1)
        )
        await identity_client.revoke_tokens(user)
        await identity_client.delete_user(user)
        await identity_client.delete_user(user2)
        print("Revoked and deleted")


if __name__ == "__main__":
    asyncio.run(main())
