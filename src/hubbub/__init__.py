"""Hubbub: a self-hosted chat service that speaks the Azure Communication Services REST API.

`hubbub.chat` and `hubbub.identity` are the SDK (drop-in for the official ACS SDKs);
`hubbub.server` is the service (installed with the `server` extra).
"""

__version__ = "0.1.0"
