"""Real-time notifications for the unchanged ACS JS SDK: its Trouter signaling protocol.

`ChatClient.startRealtimeNotifications()` of `@azure/communication-chat` 1.5.4 and 1.6.0 asks the
chat endpoint where its signaling services are, then talks to them (docs/signaling.md):

    GET  /chat/config/realTimeNotifications   discovery: every URL points back at this origin
    POST /v4/a                                allocation: signed connectparams for the WebSocket
    GET  /socket.io/1/                        socket.io 0.9 handshake: a signed sid
    WS   /socket.io/1/websocket/<sid>         1::, trouter.connected, then pushed events, acks
    POST /v3/registrations, DELETE …/<id>     registrar (accepted; delivery does not wait for it)

The WebSocket runs the same `EventSession` as `/chat/events` on the same hub, so it gets every
event of the bus (every node, through Redis), replays missed events after a reconnect, and is
closed when the user's tokens are revoked.
"""

from __future__ import annotations

from starlette.routing import Route, WebSocketRoute

from hubbub.server.signaling.connection import trouter_socket
from hubbub.server.signaling.endpoints import allocate, discover, handshake, register, unregister

routes = [
    Route("/chat/config/realTimeNotifications", discover, methods=["GET"]),
    # An endpoint configured with a trailing slash makes the client ask for `//chat/config/…`.
    Route("//chat/config/realTimeNotifications", discover, methods=["GET"]),
    Route("/v4/a", allocate, methods=["POST"]),
    Route("/socket.io/1/", handshake, methods=["GET"]),
    WebSocketRoute("/socket.io/1/websocket/{sid}", trouter_socket),
    Route("/v3/registrations", register, methods=["POST"]),
    Route("/v3/registrations/{registration_id}", unregister, methods=["DELETE"]),
]

__all__ = ["routes"]
