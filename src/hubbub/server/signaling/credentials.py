"""What lets a Trouter WebSocket in without a token: signed `connectparams` and a signed `sid`.

The client sends its access token on the allocation, the handshake and the registrar, but not on
the WebSocket (browsers cannot set headers there). So the allocation hands out `connectparams`
that name the user, the token's generation and expiry, the client's endpoint id and the stream
position at allocation, signed with a key derived from the access key; the client echoes them on
the handshake and the WebSocket. The handshake (token checked again) signs a short-lived `sid` over
them. Nothing is stored: any node sharing the access key verifies what another node issued.

Values are base64url without padding and decimal numbers: the client puts them into query strings
without encoding, and socket.io splits each `k=v` on `=` (docs/signaling.md).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import time

import msgspec

from hubbub.server.errors import Unauthorized
from hubbub.server.events.ids import StreamId

SID_SECONDS = 120
"""How long a handshake's sid may be used to open the WebSocket."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Claims(msgspec.Struct, frozen=True):
    u: str
    g: int
    e: str
    p: str
    x: int


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """Who may connect: the user, its token generation and expiry (epoch s), the client's endpoint id
    (`epid`) and the stream position when the connection was allocated."""

    user_id: str
    generation: int
    endpoint_id: str
    position: StreamId
    expires_at: int


class Signer:
    """Issues and checks grants and sids with a key derived from the service's access key."""

    def __init__(self, key_bytes: bytes) -> None:
        self._key = hmac.new(key_bytes, b"hubbub-signaling", hashlib.sha256).digest()

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()[:18])

    def connect_params(self, grant: Grant) -> dict[str, str]:
        """The allocation's `connectparams`: `sr` (the grant), `se` (expiry in ms), `sig`."""
        claims = _Claims(grant.user_id, grant.generation, grant.endpoint_id, str(grant.position), grant.expires_at)
        sr = _b64(msgspec.json.encode(claims))
        se = str(grant.expires_at * 1000)
        return {"sr": sr, "sp": "connect", "se": se, "sig": self._mac("grant", sr, se)}

    def grant(self, params: dict[str, str]) -> Grant:
        """Check the echoed connectparams; raise `Unauthorized` when forged, malformed or expired."""
        sr, se, sig = params.get("sr", ""), params.get("se", ""), params.get("sig", "")
        if not sr or not hmac.compare_digest(sig, self._mac("grant", sr, se)):
            raise Unauthorized("The connection parameters are not valid.")
        try:
            claims = msgspec.json.decode(_unb64(sr), type=_Claims)
            position = StreamId.parse(claims.p)
        except (ValueError, msgspec.DecodeError) as exc:
            raise Unauthorized("The connection parameters are not valid.") from exc
        if claims.x <= time.time():
            raise Unauthorized("The access token has expired.")
        return Grant(claims.u, claims.g, claims.e, position, claims.x)

    def sid(self, params: dict[str, str]) -> str:
        """A session id for the handshake answer, bound to these connectparams, valid `SID_SECONDS`."""
        issued = f"{int(time.time()):x}"
        nonce = secrets.token_hex(8)
        return f"{issued}{nonce}{self._sid_mac(issued, nonce, params)}"

    def check_sid(self, sid: str, params: dict[str, str]) -> None:
        issued, nonce, mac = sid[:-32][:-16], sid[:-32][-16:], sid[-32:]
        try:
            age = time.time() - int(issued, 16)
        except ValueError as exc:
            raise Unauthorized("The socket.io session id is not valid.") from exc
        if not hmac.compare_digest(mac, self._sid_mac(issued, nonce, params)) or not -5 <= age <= SID_SECONDS:
            raise Unauthorized("The socket.io session id is not valid or has expired.")

    def _sid_mac(self, issued: str, nonce: str, params: dict[str, str]) -> str:
        digest = hmac.new(self._key, f"sid\n{issued}\n{nonce}\n{params.get('sig', '')}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]
