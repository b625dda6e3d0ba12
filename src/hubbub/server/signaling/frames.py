"""socket.io 0.9 packets and the Trouter request envelope, with no I/O.

A packet is `type:id[+]:endpoint[:data]` in one WebSocket text frame. The Trouter client uses five
types (docs/signaling.md): `0` disconnect, `1` connect, `2` heartbeat, `3` message (a pushed
request or the client's response), `5` event (`trouter.connected`, `user.activity`, `ping`) and `6`
ack. Parsing follows socket.io's own regular expression, so anything the client can send parses.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_PACKET = re.compile(r"^([^:]+):([0-9]+)?(\+)?:([^:]+)?:?([\s\S]*)?$")

DISCONNECT = "0"
CONNECT = "1"
HEARTBEAT = "2"
MESSAGE = "3"
EVENT = "5"
ACK = "6"

CONNECT_FRAME = "1::"
HEARTBEAT_FRAME = "2::"
DISCONNECT_FRAME = "0::"


@dataclasses.dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet. `ack_id` is set when the sender wants an ack (`5:<n>+::…`)."""

    type: str
    id: str | None
    wants_data_ack: bool
    endpoint: str
    data: str

    def event(self) -> tuple[str, list[Any]] | None:
        """An event packet's name and args; None when it is not one or its JSON is not an event."""
        if self.type != EVENT:
            return None
        try:
            body = msgspec.json.decode(self.data)
        except msgspec.DecodeError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return None
        args = body.get("args")
        return body["name"], args if isinstance(args, list) else []


def decode(text: str) -> Packet | None:
    """Parse one packet; None for text that is not a socket.io 0.9 packet."""
    match = _PACKET.match(text)
    if match is None:
        return None
    type_, id_, plus, endpoint, data = match.groups()
    return Packet(type_, id_, bool(plus), endpoint or "", data or "")


def ack(packet: Packet) -> str | None:
    """The ack a packet asks for (`6:::<n>+[]` for `<n>+`, `6:::<n>` for `<n>`), or None."""
    if packet.id is None:
        return None
    return f"{ACK}:::{packet.id}+[]" if packet.wants_data_ack else f"{ACK}:::{packet.id}"


def event(name: str, *args: Any) -> str:
    """A server event without ack: `5:::{"name": …, "args": […]}`."""
    return f"{EVENT}:::" + _encoder.encode({"name": name, "args": list(args)}).decode()


def disconnect(reason: str | None = None) -> str:
    """`0::`, or `0:::{"reason": …}` (`unauthorized` makes the client fetch a fresh token)."""
    if reason is None:
        return DISCONNECT_FRAME
    return f"{DISCONNECT}:::" + _encoder.encode({"reason": reason}).decode()


def request(request_id: int, url: str, body: bytes, cv: str) -> str:
    """A pushed Trouter request: `3:::{"id", "method", "url", "headers", "body"}`.

    `body` is the notification's JSON, sent as a *string* (the client reads a non-string body as
    empty and answers 404).
    """
    envelope = {"id": request_id, "method": "POST", "url": url, "headers": {"MS-CV": cv}, "body": body.decode()}
    return f"{MESSAGE}:::" + _encoder.encode(envelope).decode()


def handshake_body(sid: str, heartbeat: int, close: int) -> str:
    """The handshake answer `<sid>:<heartbeat s>:<close s>:websocket`: no trailing newline (the
    client intersects the transport list verbatim) and WebSocket only (no XHR polling here)."""
    return f"{sid}:{heartbeat}:{close}:websocket"
