"""The gateway inside `hubbub serve`: it calls the same process over loopback, with the access key,
and verifies user tokens locally (`authenticate_token`) instead of only by using them."""

from __future__ import annotations

import base64
import logging

from hubbub.server import errors
from hubbub.server.api.http import authenticate_token
from hubbub.server.gateway.endpoints import Gateway
from hubbub.server.gateway.upstream import GatewayError, Upstream
from hubbub.server.service import Hubbub

_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def loopback_endpoint(host: str, http_port: int | None, https_port: int | None) -> tuple[str, bool]:
    """(endpoint, is_https) for reaching this server from itself; plain HTTP when it is enabled."""
    if host in _WILDCARDS:
        host = "::1" if ":" in host else "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if http_port:
        return f"http://{host}:{http_port}", False
    return f"https://{host}:{https_port}", True


def mounted_gateway(service: Hubbub) -> Gateway:
    settings = service.settings
    if settings.log_level != "debug":  # one INFO line per loopback request would double the log
        logging.getLogger("httpx").setLevel(logging.WARNING)
    endpoint, tls = loopback_endpoint(settings.host, settings.http_port, settings.https_port)

    async def local_auth(token: str) -> str:
        try:
            return await authenticate_token(service, token)
        except errors.Unauthorized as exc:
            raise GatewayError(401, exc.message) from exc
        except errors.HubbubError as exc:
            raise GatewayError(403, exc.message) from exc

    upstream = Upstream(
        endpoint,
        base64.b64encode(service.key_bytes).decode(),
        ca_file=str(settings.data_dir / "ca.pem") if tls else None,
        local_auth=local_auth,
    )
    return Gateway(upstream, admin_key=settings.gateway_admin_key)
