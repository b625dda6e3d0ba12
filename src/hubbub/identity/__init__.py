"""Hubbub's identity SDK: a drop-in for `azure.communication.identity` (1.5.0).

`CommunicationIdentityClient` creates users and issues, revokes and exchanges their access tokens,
signing requests with the resource's access key (HMAC-SHA256). Unlike the official client,
`from_connection_string("endpoint=http://...")` keeps plain http. Async twin: `hubbub.identity.aio`.
"""

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
from hubbub._sdk.identity_calls import CommunicationTokenScope
from hubbub._sdk.options import UnknownOptionWarning
from hubbub.identity._communication_identity_client import CommunicationIdentityClient

__all__ = [
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationIdentityClient",
    "CommunicationTokenScope",
    "CommunicationUserIdentifier",
    "CommunicationUserProperties",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserIdentifier",
    "MicrosoftTeamsUserProperties",
    "PhoneNumberIdentifier",
    "PhoneNumberProperties",
    "UnknownIdentifier",
    "UnknownOptionWarning",
    "identifier_from_raw_id",
]
