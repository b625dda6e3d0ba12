"""Route -> operation name, for metrics labels and log lines: never a raw path (ids would make every
request its own series, and a path can carry what must not be logged).

The chat and identity operations are named as the ACS REST API specifications name them (the
`operationId`s of the swaggers in tests/server/swagger, `ChatThread_SendChatMessage` ->
`SendChatMessage`), so dashboards read the same as Azure Monitor's. Hubbub's own routes get names in
the same style. The router records the route it matched in the ASGI scope; a request that matched
none is `Unmatched`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

UNMATCHED = "Unmatched"
PREFLIGHT = "CorsPreflight"
STATIC_PAGE = "ChatPage"

OPERATIONS: dict[tuple[str, str], str] = {
    # Chat: threads
    ("POST", "/chat/threads"): "CreateChatThread",
    ("GET", "/chat/threads"): "ListChatThreads",
    ("GET", "/chat/threads/{thread_id}"): "GetChatThreadProperties",
    ("PATCH", "/chat/threads/{thread_id}"): "UpdateChatThreadProperties",
    ("DELETE", "/chat/threads/{thread_id}"): "DeleteChatThread",
    # Chat: messages
    ("POST", "/chat/threads/{thread_id}/messages"): "SendChatMessage",
    ("GET", "/chat/threads/{thread_id}/messages"): "ListChatMessages",
    ("GET", "/chat/threads/{thread_id}/messages/{message_id}"): "GetChatMessage",
    ("PATCH", "/chat/threads/{thread_id}/messages/{message_id}"): "UpdateChatMessage",
    ("DELETE", "/chat/threads/{thread_id}/messages/{message_id}"): "DeleteChatMessage",
    # Chat: participants, receipts, typing
    ("GET", "/chat/threads/{thread_id}/participants"): "ListChatParticipants",
    ("POST", "/chat/threads/{thread_id}/participants/:add"): "AddChatParticipants",
    ("POST", "/chat/threads/{thread_id}/participants/:remove"): "RemoveChatParticipant",
    ("GET", "/chat/threads/{thread_id}/readReceipts"): "ListChatReadReceipts",
    ("POST", "/chat/threads/{thread_id}/readReceipts"): "SendChatReadReceipt",
    ("POST", "/chat/threads/{thread_id}/typing"): "SendTypingNotification",
    # Identity
    ("POST", "/identities"): "CreateIdentity",
    ("DELETE", "/identities/{id}"): "DeleteIdentity",
    ("POST", "/identities/{id}/:issueAccessToken"): "IssueAccessToken",
    ("POST", "/identities/{id}/:revokeAccessTokens"): "RevokeAccessTokens",
    ("POST", "/teamsUser/:exchangeAccessToken"): "ExchangeTeamsUserAccessToken",
    # Hubbub's event streams and the Trouter signaling channel (docs/events.md, docs/signaling.md)
    ("GET", "/chat/events"): "ChatEventsSse",
    ("WEBSOCKET", "/chat/events/ws"): "ChatEventsWebSocket",
    ("GET", "/chat/config/realTimeNotifications"): "GetRealTimeNotificationsConfig",
    ("GET", "//chat/config/realTimeNotifications"): "GetRealTimeNotificationsConfig",
    ("POST", "/v4/a"): "TrouterAllocate",
    ("GET", "/socket.io/1/"): "TrouterHandshake",
    ("WEBSOCKET", "/socket.io/1/websocket/{sid}"): "TrouterWebSocket",
    ("POST", "/v3/registrations"): "TrouterRegister",
    ("DELETE", "/v3/registrations/{registration_id}"): "TrouterUnregister",
    # Operations
    ("GET", "/admin/stats"): "GetAdminStats",
    ("GET", "/health"): "Health",
    ("GET", "/health/live"): "HealthLive",
    ("GET", "/health/ready"): "HealthReady",
    ("GET", "/metrics"): "Metrics",
}

GATEWAY_PATHS: dict[str, str] = {
    "/create_users": "GatewayCreateUsers",
    "/create_thread": "GatewayCreateThread",
    "/add_user": "GatewayAddUser",
    "/send_message": "GatewaySendMessage",
    "/get_messages": "GatewayGetMessages",
    "/get_all_messages": "GatewayGetAllMessages",
    "/gateway/identity": "GatewayCreateIdentity",
    "/gateway/openapi.json": "GatewayOpenApi",
}
"""The gateway's routes take every method (each answers 405 itself): named by path alone."""

STREAM_TRANSPORTS: dict[str, str] = {
    "ChatEventsSse": "sse",
    "ChatEventsWebSocket": "websocket",
    "TrouterWebSocket": "signaling",
}
"""Operations whose connection is a long-lived event stream, and the `transport` label it counts under."""


def operation_of(scope: Scope) -> str:
    """The operation of a request the router has handled (call it once the response has started)."""
    route: BaseRoute | None = scope.get("route")
    if isinstance(route, Mount):
        return STATIC_PAGE
    path = getattr(route, "path", None)
    if path is None:
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            return PREFLIGHT
        return UNMATCHED
    method = "WEBSOCKET" if scope["type"] == "websocket" else scope.get("method", "GET")
    if method == "HEAD":
        method = "GET"
    name = OPERATIONS.get((method, path))
    if name is not None:
        return name
    if path in GATEWAY_PATHS:
        return GATEWAY_PATHS[path]
    if scope["type"] == "http" and method == "OPTIONS":
        return PREFLIGHT
    return UNMATCHED
