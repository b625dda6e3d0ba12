"""`/identities` and `/teamsUser`: the Identity API, authenticated with HMAC-SHA256."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import wire
from hubbub.server.api.http import (
    api_version,
    decode,
    empty_response,
    json_response,
    path_id,
    read_body,
    verify_hmac,
)
from hubbub.server.errors import BadRequest
from hubbub.server.rules.identities import IssuedToken
from hubbub.server.service import service_of


def _token_body(token: IssuedToken) -> dict[str, str]:
    return {"token": token.token, "expiresOn": token.expires_on.isoformat()}


async def _authorised_body(request: Request) -> bytes:
    api_version(request, wire.IDENTITY_API_VERSIONS)
    body = await read_body(request)
    await verify_hmac(request, body)
    return body


async def create_identity(request: Request) -> Response:
    raw = await _authorised_body(request)
    app = service_of(request)
    app.limiter.check("create_identity")
    body = decode(raw, wire.CreateIdentityRequest, allow_empty=True)
    user_id, token = await app.identities.create_identity(body.create_token_with_scopes, body.expires_in_minutes)
    result: dict[str, object] = {"identity": {"id": user_id}}
    if token is not None:
        result["accessToken"] = _token_body(token)
    return json_response(result, 201)


async def issue_token(request: Request) -> Response:
    raw = await _authorised_body(request)
    app = service_of(request)
    app.limiter.check("issue_token")
    body = decode(raw, wire.IssueTokenRequest, allow_empty=True)
    token = await app.identities.issue_token(path_id(request, "id", "id"), body.scopes, body.expires_in_minutes)
    return json_response(_token_body(token))


async def revoke_tokens(request: Request) -> Response:
    await _authorised_body(request)
    app = service_of(request)
    app.limiter.check("revoke_tokens")
    await app.identities.revoke_tokens(path_id(request, "id", "id"))
    return empty_response(204)


async def delete_identity(request: Request) -> Response:
    await _authorised_body(request)
    app = service_of(request)
    app.limiter.check("delete_identity")
    await app.identities.delete_identity(path_id(request, "id", "id"))
    return empty_response(204)


async def exchange_teams_token(request: Request) -> Response:
    raw = await _authorised_body(request)
    decode(raw, wire.TeamsUserExchangeTokenRequest)
    raise BadRequest(
        "Teams user token exchange is not supported by Hubbub: it has no Microsoft Entra ID tenant to verify "
        "the Teams token against.",
        target="token",
    )


routes = [
    Route("/identities", create_identity, methods=["POST"]),
    Route("/identities/{id}/:issueAccessToken", issue_token, methods=["POST"]),
    Route("/identities/{id}/:revokeAccessTokens", revoke_tokens, methods=["POST"]),
    Route("/identities/{id}", delete_identity, methods=["DELETE"]),
    Route("/teamsUser/:exchangeAccessToken", exchange_teams_token, methods=["POST"]),
]
