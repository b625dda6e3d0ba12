"""The options the `hubbub` commands share, each mapped onto one `Settings` field and its variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hubbub.server.settings import SETTINGS_ENV_VARS, Settings

_DEFAULTS = Settings()
_F = TypeVar("_F", bound=Callable[..., Any])


def setting(*decls: str, field: str, help: str, **kwargs: Any) -> Callable[[_F], _F]:
    """A `click.option` for one `Settings` field.

    The default and the `HUBBUB_*` variable are the settings' own (`settings_from_env` reads it), so
    they are written once: the option is None unless given on the command line, and then it wins.
    """
    default = getattr(_DEFAULTS, field)
    env = SETTINGS_ENV_VARS[field]
    shown = "" if default is None else f"  [default: {str(default).lower() if default is False else default}]"
    return click.option(*decls, field, default=None, help=f"{help} ({env}).{shown}", **kwargs)


DATA_DIR = setting(
    "--data-dir",
    field="data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the access key, TLS certificates and the SQLite database",
)
HOST = setting("--host", field="host", help="Address to listen on")
HTTP_PORT = setting("--http-port", field="http_port", type=int, help="Plain-HTTP port; 0 disables plain HTTP")
HTTPS_PORT = setting("--https-port", field="https_port", type=int, help="HTTPS port; 0 disables HTTPS")
DATABASE_URL = setting(
    "--database-url",
    field="database_url",
    help="postgresql://user:pass@host:port/db to use PostgreSQL; default is SQLite in the data directory",
)
LOG_LEVEL = setting(
    "--log-level",
    field="log_level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Log verbosity",
)


def database_and_server(purpose: str) -> Callable[[_F], _F]:
    """The options of a command that works on the database and also asks the running server:
    --data-dir, --database-url, --host, --http-port, --https-port and --endpoint."""
    endpoint = click.option(
        "--endpoint", default=None, help=f"The running server, {purpose} [default: from --host and --http-port]."
    )

    def apply(command: _F) -> _F:
        for option in (endpoint, HTTPS_PORT, HTTP_PORT, HOST, DATABASE_URL, DATA_DIR):  # bottom up
            command = option(command)
        return command

    return apply


def settings(**overrides: Any) -> Settings:
    from hubbub.server.settings import settings_from_env

    try:
        return settings_from_env(**overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
