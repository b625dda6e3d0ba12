"""The simple REST API (`/create_users`, `/send_message`, ...): a client of the ACS Chat API.

`hubbub serve` mounts it next to the ACS API and points it at its own loopback port
(`mounted_gateway`); `hubbub gateway` runs it alone in front of any ACS-compatible endpoint
(`standalone.create_gateway_app`). See docs/gateway.md.
"""

from hubbub.server.gateway.endpoints import Gateway, routes
from hubbub.server.gateway.mounted import mounted_gateway
from hubbub.server.gateway.upstream import GatewayError, Upstream

__all__ = ["Gateway", "GatewayError", "Upstream", "mounted_gateway", "routes"]
