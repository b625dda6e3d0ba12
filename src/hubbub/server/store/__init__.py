"""Storage: a small engine layer (SQLite, PostgreSQL) and one module per table family.

Store functions take a `Connection` (a transaction or the database itself) as first argument, so a
use case composes them inside one `async with db.transaction() as tx:` block.
"""

from hubbub.server.store.engine import Connection, Database, Row
from hubbub.server.store.engines import (
    DatabaseMissing,
    describe_database,
    embedded_path,
    open_database,
    require_database,
    uses_database_server,
)

__all__ = [
    "Connection",
    "Database",
    "DatabaseMissing",
    "Row",
    "describe_database",
    "embedded_path",
    "open_database",
    "require_database",
    "uses_database_server",
]
