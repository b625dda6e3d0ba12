"""Logging: the text or JSON format (`HUBBUB_LOG_FORMAT`), and the request context on every line.

`RequestContext` lives in a context variable set by the instrumentation middleware for the duration
of one request or WebSocket; every record logged meanwhile, by Hubbub, Starlette or uvicorn, carries
its request id (the client's `x-ms-client-request-id`, else one made up), the ACS operation and,
once the token is checked, the user id. The context is a mutable object rather than separate
variables so that what an endpoint learns (the user) is seen by the middleware's own request line
even where a layer in between copied the context.

What is never logged: tokens, access keys, signatures and message content. Hubbub's own log calls
pass ids and counts only, and the request line names the operation, not the raw path or query
string (where `?access_token=` may travel).
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from starlette.types import Scope

from hubbub.server import random_ids
from hubbub.server.operations import operation_of

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


@dataclasses.dataclass(slots=True)
class RequestContext:
    """What is known about the request being served; filled in as it goes."""

    client_request_id: str | None
    """The client's `x-ms-client-request-id`; without one, an id is made when a line first needs it."""
    scope: Scope | None = None
    user_id: str | None = None
    status: int | None = None

    generated_id: str | None = None

    @property
    def request_id(self) -> str:
        if self.client_request_id is not None:
            return self.client_request_id
        if self.generated_id is None:  # most requests log nothing: no uuid for them
            self.generated_id = random_ids.uuid4().hex
        return self.generated_id

    @property
    def operation(self) -> str | None:
        """The ACS operation, once the router has matched the request (`operations.py`)."""
        if self.scope is None or "route" not in self.scope:
            return None
        return operation_of(self.scope)


current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("hubbub_request", default=None)


def set_user(user_id: str) -> None:
    """Record the authenticated user of the current request (no-op outside a request)."""
    context = current.get()
    if context is not None:
        context.user_id = user_id


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request's context when in one.

    Fields given with `extra=` under the names below (`status`, `duration`, ...) are added too.
    """

    EXTRA_FIELDS = ("status", "duration", "method", "transport")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current.get()
        if context is not None:
            line["requestId"] = context.request_id
            if context.operation:
                line["operation"] = context.operation
            if context.user_id:
                line["userId"] = context.user_id
        for name in self.EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextContextFilter(logging.Filter):
    """Appends `[request <id>]` to text lines logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current.get()
        if context is not None and not getattr(record, "_hubbub_tagged", False):
            record.msg = f"{record.msg} [request {context.request_id}]"
            record._hubbub_tagged = True
        return True


def configure(level: str, log_format: str) -> None:
    """Set up the root logger for this process (the runner calls it in the parent and each worker)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        handler.addFilter(TextContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def uvicorn_json_log_config() -> dict[str, Any]:
    """uvicorn's `log_config` in JSON mode: no handlers of its own, so that its loggers propagate to
    the root handler set up by `configure` (text mode keeps uvicorn's default configuration)."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True} for name in names},
    }
