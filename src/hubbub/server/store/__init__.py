"""Storage: a small engine layer (SQLite, PostgreSQL) and one module per table family.

Store functions take a `Connection` (a transaction or the database itself) as first argument, so a
use case composes them inside one `async with db.transaction() as tx:` block.
"""

from hubbub.server.store.engine import Connection, Database, Row
from hubbub.server.store.engines import describe_database, open_database

__all__ = ["Connection", "Database", "Row", "describe_database", "open_database"]
