"""The async identity SDK: a drop-in for `azure.communication.identity.aio`."""

from hubbub.identity.aio._communication_identity_client import CommunicationIdentityClient

__all__ = ["CommunicationIdentityClient"]
