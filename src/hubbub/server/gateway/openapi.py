"""The OpenAPI 3.1 description of the simple REST API, served at `/gateway/openapi.json`."""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_USER_ID = {"type": "string", "description": "A Communication user id, 8:acs:...", "examples": ["8:acs:..."]}
_ERROR = {
    "description": 'Refused: `{"error": "..."}`',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_MESSAGE = {
    "type": "object",
    "properties": {
        "id": _STR,
        "sender": _USER_ID,
        "sender_display_name": _STR,
        "message": _STR,
        "type": {"type": "string", "enum": ["text", "html"]},
        "created_on": {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"},
    },
    "required": ["sender", "message", "created_on"],
}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    user: bool = True,
    admin: bool = False,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "OK", **_json(ok)}}}
    for status in ("400", "401", "403", "404", "502"):
        op["responses"][status] = _ERROR
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    op["security"] = [{"userToken": []}] if user else ([{"adminKey": []}] if admin else [])
    return op


def _query(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": _STR, "description": description}


def openapi_document(*, admin_key: bool) -> dict[str, Any]:
    messages = _object(["messages"], messages={"type": "array", "items": {"$ref": "#/components/schemas/Message"}})
    read_params = [_query("thread_id", "The thread."), _query("user_id", "The user whose token is sent.")]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hubbub simple chat API",
            "version": "1",
            "description": "The endpoints of the ACS chat quickstart (Flask) example, made safe: calls for a "
            "user_id need that user's access token (Bearer). A client of the ACS Chat API. See docs/gateway.md.",
        },
        "paths": {
            "/create_users": {
                "post": _operation(
                    "Create two identities with chat tokens",
                    _object(
                        ["user1_id", "user2_id", "user1_token", "user2_token"],
                        user1_id=_USER_ID,
                        user2_id=_USER_ID,
                        user1_token=_STR,
                        user2_token=_STR,
                    ),
                    user=False,
                    admin=admin_key,
                )
            },
            "/gateway/identity": {
                "post": _operation(
                    "Create one identity with a chat token (used by the chat page)",
                    _object(
                        ["user_id", "token", "expires_on"],
                        user_id=_USER_ID,
                        token=_STR,
                        expires_on={"type": "string", "format": "date-time"},
                    ),
                    user=False,
                    admin=admin_key,
                )
            },
            "/create_thread": {
                "post": _operation(
                    "Create a thread with user1 as participant",
                    _object(["thread_id"], thread_id=_STR),
                    body=_object(["user1_id"], user1_id=_USER_ID, topic=_STR),
                )
            },
            "/add_user": {
                "post": _operation(
                    "Add user2 to a thread (the token's user must be a participant)",
                    _object(["message"], message=_STR),
                    body=_object(["thread_id", "user2_id"], thread_id=_STR, user2_id=_USER_ID, user_id=_USER_ID),
                )
            },
            "/send_message": {
                "post": _operation(
                    "Send a text message as user_id",
                    _object(["message", "message_id"], message=_STR, message_id=_STR),
                    body=_object(
                        ["thread_id", "user_id", "message"],
                        thread_id=_STR,
                        user_id=_USER_ID,
                        message=_STR,
                        sender_display_name=_STR,
                    ),
                )
            },
            "/get_messages": {
                "get": _operation(
                    "Messages user_id received from others, newest first",
                    messages,
                    params=[*read_params, _query("since", "Only messages from this ISO 8601 time on.", False)],
                )
            },
            "/get_all_messages": {
                "get": _operation("The whole conversation, oldest first", messages, params=read_params)
            },
            "/search_messages": {
                "get": _operation(
                    "Messages user_id can read that hold every word of q, most relevant first (first 50)",
                    _object(
                        ["results"],
                        results={
                            "type": "array",
                            "items": _object(
                                ["thread_id", "snippet", "message"],
                                thread_id=_STR,
                                snippet={
                                    "type": "string",
                                    "description": "HTML-escaped text around the first match; matches in <mark>",
                                },
                                message={"$ref": "#/components/schemas/Message"},
                            ),
                        },
                    ),
                    params=[
                        _query("thread_id", "The thread; every thread of the user when left out.", False),
                        _query("user_id", "The user whose token is sent."),
                        _query("q", "The words to search for (Hubbub's message search, docs/search.md)."),
                    ],
                )
            },
        },
        "components": {
            "schemas": {"Message": _MESSAGE, "Error": _object(["error"], error=_STR)},
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "description": "The user's ACS access token."},
                "adminKey": {"type": "apiKey", "in": "header", "name": "X-Admin-Key"},
            },
        },
    }
