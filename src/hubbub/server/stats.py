"""`hubbub stats`: row counts from the database, open event streams from the running server.

The counts need only the database (the server may be stopped). Open streams exist only inside the
server process, so they are asked of it over `GET /admin/stats`, signed with the access key.
`hubbub users delete` asks the running server the same way (`delete_identity_on_server`), so that
the user's open streams end at once.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import httpx

from hubbub._sdk.signing import sign_request
from hubbub.server import datadir
from hubbub.server.settings import Settings
from hubbub.server.store import DatabaseMissing, open_database
from hubbub.server.store.stats import count_rows

IDENTITY_API_VERSION = "2023-10-01"


class StatsError(Exception):
    """The database cannot be read (the message says why)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerStats:
    endpoint: str
    open_streams: int | None
    error: str | None = None
    """Why `open_streams` is None (the server is not reachable, refused the key, ...)."""


async def database_counts(settings: Settings) -> dict[str, int]:
    """`store.stats.COUNTS` for the configured database, without migrating or creating it."""
    try:
        db = await open_database(settings, migrate=False, create=False)
    except DatabaseMissing as exc:
        raise StatsError(str(exc)) from exc
    try:
        return await db.read(count_rows)
    except Exception as exc:
        raise StatsError(f"cannot read the database: {exc}") from exc
    finally:
        await db.close()


def default_endpoint(settings: Settings) -> str:
    """Where the server of these settings listens: plain HTTP when enabled, else HTTPS."""
    if settings.http_port:
        return f"http://{settings.connect_host}:{settings.http_port}"
    return f"https://{settings.connect_host}:{settings.https_port}"


def server_stats(endpoint: str, access_key: str, *, verify: str | bool = True, timeout: float = 5.0) -> ServerStats:
    """Ask the running server for what only it knows; never raises for an unreachable server."""
    url = endpoint.rstrip("/") + "/admin/stats"
    try:
        response = httpx.get(
            url, headers=sign_request("GET", url, b"", access_key), verify=verify, timeout=timeout, trust_env=False
        )
    except httpx.HTTPError as exc:
        return ServerStats(endpoint, None, f"not reachable ({type(exc).__name__}: {exc})")
    if response.status_code != 200:
        return ServerStats(endpoint, None, f"answered {response.status_code}: {response.text[:200]}")
    return ServerStats(endpoint, int(response.json()["openStreams"]))


def delete_identity_on_server(
    endpoint: str, access_key: str, user_id: str, *, verify: str | bool = True, timeout: float = 10.0
) -> str | None:
    """`DELETE /identities/{id}` on the running server (which also ends the user's open streams, on
    every node with Redis); None when done, else why not (the server is not reachable, ...)."""
    url = f"{endpoint.rstrip('/')}/identities/{quote(user_id, safe='')}?api-version={IDENTITY_API_VERSION}"
    try:
        response = httpx.delete(
            url, headers=sign_request("DELETE", url, b"", access_key), verify=verify, timeout=timeout, trust_env=False
        )
    except httpx.HTTPError as exc:
        return f"not reachable ({type(exc).__name__}: {exc})"
    if response.status_code != 204:
        return f"answered {response.status_code}: {response.text[:200]}"
    return None


def server_verify(settings: Settings, endpoint: str) -> str | bool:
    """The data directory's CA for an https endpoint of this server, when it has one."""
    ca = settings.data_dir / datadir.CA_CERT
    return str(ca) if endpoint.startswith("https") and ca.is_file() else True
