"""Storage: a small engine layer (SQLite, PostgreSQL) and one module per table family.

Store functions take a `Connection` (a transaction or the database itself) as first argument, so a
use case composes them inside one `async with db.transaction() as tx:` block.
"""

from hubbub.server.store.engine import Connection, Database, Row, open_database

__all__ = ["Connection", "Database", "Row", "open_database"]
