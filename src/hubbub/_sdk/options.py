"""Client options: the keyword arguments a client takes, read once into a frozen object.

The names are azure-core's (`api_version`, `connection_timeout`, `read_timeout`,
`connection_verify`, `connection_cert`, `headers`, `retry_total`, `retry_backoff_factor`,
`retry_backoff_max`, `user_agent`), so code written for the official SDKs keeps working.
`transport` takes an httpx transport (`httpx.MockTransport`, `httpx.ASGITransport`, ...).
Hubbub's own `realtime_transport` (`"sse"` or `"websocket"`) picks how real-time events travel.
Keywords that only make sense for azure-core pipelines (`logging_enable`, `per_call_policies`,
...) are accepted and ignored. Any other keyword is most likely a typo: it is ignored too, with an
`UnknownOptionWarning` pointing at the caller's line.
"""

from __future__ import annotations

import platform
import ssl
import sys
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

import httpx

from .events import SSE, RealtimeTransport, check_realtime_transport
from .retry import RetryPolicy

SDK_VERSION = "0.1.0"
DEFAULT_CONNECTION_TIMEOUT = 30.0
DEFAULT_READ_TIMEOUT = 300.0

AZURE_CORE_OPTIONS = frozenset(
    {
        # the transport (`ConnectionConfiguration` and the requests/aiohttp transports)
        *("transport", "connection_timeout", "read_timeout", "connection_verify", "connection_cert"),
        *("connection_data_block_size", "session", "session_owner", "use_env_settings", "proxies", "stream"),
        *("decompress", "loop", "trio_limiter"),
        # building the pipeline (`Configuration`, `PipelineClient`)
        *("policies", "per_call_policies", "per_retry_policies", "authentication_policy", "headers_policy"),
        *("user_agent_policy", "proxy_policy", "retry_policy", "redirect_policy", "logging_policy"),
        *("http_logging_policy", "custom_hook_policy", "polling_interval", "api_version", "sdk_moniker"),
        # the policies' options, per client or per call
        *("headers", "request_id", "auto_request_id", "user_agent", "user_agent_overwrite", "user_agent_use_env"),
        *("retry_total", "retry_connect", "retry_read", "retry_status", "retry_backoff_factor"),
        *("retry_backoff_max", "retry_mode", "retry_on_status_codes", "retry_on_methods", "timeout"),
        *("permit_redirects", "redirect_max", "redirect_remove_headers", "redirect_on_status_codes"),
        *("logging_enable", "logger", "raw_request_hook", "raw_response_hook", "response_encoding"),
        *("tracing_attributes", "tracing_options", "network_span_namer", "enforce_https", "enable_cae"),
        # the official SDKs' generated operations
        *("cls", "error_map", "params"),
    }
)
"""The keyword arguments azure-core (1.41) and the official clients accept; Hubbub ignores those it
does not read (a policy it does not have), without warning."""

CLIENT_OPTIONS = AZURE_CORE_OPTIONS | {"realtime_transport"}
"""The keyword arguments a client constructor takes."""

CALL_OPTIONS = AZURE_CORE_OPTIONS
"""The keyword arguments every operation takes."""

_SDK_PACKAGES = ("hubbub._sdk", "hubbub.chat", "hubbub.identity")


class UnknownOptionWarning(UserWarning):
    """A keyword argument that neither Hubbub nor azure-core knows (probably a typo) was ignored."""


def warn_unknown_options(kwargs: Collection[str], known: Collection[str]) -> None:
    """Warn, at the caller's line, about each keyword argument not in `known`."""
    unknown = sorted(name for name in kwargs if name not in known)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        warnings.warn(f"ignored unknown keyword argument(s): {names}", UnknownOptionWarning, _caller_stacklevel())


def _caller_stacklevel() -> int:
    """The `stacklevel` of the first frame outside the SDK (pandas' `find_stack_level` trick), so
    the warning names the user's line however deep in the SDK it is raised."""
    level = 1
    frame = sys._getframe(1)  # the function that calls `warnings.warn`: stacklevel 1
    while frame is not None and _in_sdk(frame.f_globals.get("__name__", "")):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _in_sdk(module: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in _SDK_PACKAGES)


def normalize_endpoint(endpoint: Any, *, message: str = "Host URL must be a string") -> str:
    """The endpoint URL as the official clients accept it: `https://` added if no scheme is given.

    Raises `ValueError` for a non-string or a URL without host.
    """
    try:
        if not endpoint.lower().startswith("http"):
            endpoint = "https://" + endpoint
    except AttributeError:
        raise ValueError(message) from None
    if not urlparse(endpoint.rstrip("/")).netloc:
        raise ValueError(f"Invalid URL: {endpoint}")
    return str(endpoint)


@dataclass(frozen=True)
class ClientOptions:
    """Everything a pipeline needs besides the endpoint and the credential."""

    api_version: str
    sdk_moniker: str
    transport: Any = None
    connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    verify: bool | str = True
    cert: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str | None = None
    realtime_transport: RealtimeTransport = SSE
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_kwargs(
        cls, kwargs: Mapping[str, Any], *, api_version: str, sdk_moniker: str, check: bool = True
    ) -> ClientOptions:
        """Read the client keyword arguments (see the module docstring). All are kept in `raw`
        (for `merged`); unless `check` is false, unknown ones raise an `UnknownOptionWarning`.
        """
        if check:
            warn_unknown_options(kwargs, CLIENT_OPTIONS)
        return cls(
            api_version=str(kwargs.get("api_version") or api_version),
            sdk_moniker=sdk_moniker,
            transport=kwargs.get("transport"),
            connection_timeout=float(kwargs.get("connection_timeout", DEFAULT_CONNECTION_TIMEOUT)),
            read_timeout=float(kwargs.get("read_timeout", DEFAULT_READ_TIMEOUT)),
            verify=kwargs.get("connection_verify", True),
            cert=kwargs.get("connection_cert"),
            headers=dict(kwargs.get("headers") or {}),
            retry=RetryPolicy(
                total=int(kwargs.get("retry_total", 3)),
                backoff_factor=float(kwargs.get("retry_backoff_factor", 0.8)),
                backoff_max=float(kwargs.get("retry_backoff_max", 120.0)),
            ),
            user_agent=kwargs.get("user_agent"),
            realtime_transport=check_realtime_transport(kwargs.get("realtime_transport") or SSE),
            raw=dict(kwargs),
        )

    def merged(self, kwargs: Mapping[str, Any]) -> ClientOptions:
        """These options overridden by more keyword arguments (used for thread clients)."""
        if not kwargs:
            return self
        warn_unknown_options(kwargs, CLIENT_OPTIONS)
        combined = {**self.raw, **kwargs}
        return replace(
            ClientOptions.from_kwargs(
                combined, api_version=self.api_version, sdk_moniker=self.sdk_moniker, check=False
            ),
            api_version=str(kwargs.get("api_version") or self.api_version),
        )

    def user_agent_header(self) -> str:
        """`User-Agent`, azure style: `[prefix ]azsdk-python-<moniker> Python/<v> (<platform>)`."""
        base = f"azsdk-python-{self.sdk_moniker} Python/{platform.python_version()} ({platform.platform()})"
        return f"{self.user_agent} {base}" if self.user_agent else base

    def timeout(self) -> httpx.Timeout:
        """The httpx timeout for every request of the client."""
        return httpx.Timeout(self.read_timeout, connect=self.connection_timeout)

    def ssl_verify(self) -> bool | ssl.SSLContext:
        """What httpx's `verify=` wants: a bool, or an SSL context for a CA bundle path or client cert."""
        if not self.verify:
            return False
        if not isinstance(self.verify, str) and self.cert is None:
            return True
        context = ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)
        if self.cert is not None:
            if isinstance(self.cert, str):
                context.load_cert_chain(self.cert)
            else:
                context.load_cert_chain(*self.cert)
        return context


@dataclass(frozen=True)
class CallOptions:
    """Per-call keyword arguments: `headers`, `timeout` (seconds for each network wait),
    `connection_timeout`, `read_timeout` and `retry_total`. Other azure-core options are ignored,
    for example the `enforce_https=False` workaround callers of the official SDK pass over plain
    http; unknown ones raise an `UnknownOptionWarning`.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None
    retry_total: int | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> CallOptions:
        """Read the per-call keyword arguments."""
        warn_unknown_options(kwargs, CALL_OPTIONS)
        timeout = None
        if any(k in kwargs for k in ("timeout", "connection_timeout", "read_timeout")):
            overall = kwargs.get("timeout")
            read = kwargs.get("read_timeout", overall if overall is not None else DEFAULT_READ_TIMEOUT)
            connect = kwargs.get("connection_timeout", overall if overall is not None else DEFAULT_CONNECTION_TIMEOUT)
            timeout = httpx.Timeout(float(read), connect=float(connect))
        retry_total = kwargs.get("retry_total")
        return cls(
            headers=dict(kwargs.get("headers") or {}),
            timeout=timeout,
            retry_total=int(retry_total) if retry_total is not None else None,
        )
