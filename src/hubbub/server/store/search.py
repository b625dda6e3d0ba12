"""Message search: the full-text index of each engine, queried inside the callers' history windows.

The index itself is kept by the schema (`schema/0003_search.*.sql`): a PostgreSQL trigger writes a
`tsvector` column with a GIN index in the transaction of every write to `messages`; SQLite triggers
keep an FTS5 table through edits and deletes, and new messages enter it after their commit, in
batches (`index_pending`, schema 0005), which the writer runs on its own (`start_indexing`) and
every search runs first (`Database.catch_up`), so a search still finds every message sent before
it. This module queries the index, and backfills it for messages stored before it existed.

A search takes the caller, the threads to search (the rules pick them) and the query's words, and
finds the live text/html messages that hold every word inside the caller's history window of their
thread, the window `list_messages` reads, newest first (`find_matches`); the rules rank them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Sequence

from hubbub.server.domain import SearchHit
from hubbub.server.store.columns import dump_plain_text
from hubbub.server.store.engine import Connection, Database
from hubbub.server.store.messages import MESSAGE_COLUMNS, message_from_row

log = logging.getLogger("hubbub.store")
WORD = re.compile(r"[^\W_]+")
"""A word, as both engines' tokenizers cut text: a run of letters and digits."""

_COLUMNS = ", ".join(f"m.{name.strip()}" for name in MESSAGE_COLUMNS.split(","))

# The caller's history window of each thread (`rules.base.history_window`: from `visible_from`, until
# `removed_at` when the caller was removed), over its participants row, the row `list_messages`
# takes the same two bounds from; never a deleted message. It is joined by primary key per match:
# SQLite has no index on a parameter list, and scanning one per match cost 0.5 s for 10,000 matches.
_WINDOW = (
    "m.created_at >= p.visible_from AND (p.removed_at IS NULL OR m.created_at <= p.removed_at)"
    " AND m.deleted_at IS NULL AND m.type IN ('text', 'html')"
)
# Matches come newest first; ranking by relevance is the rules' (the same on both engines), so the
# engines only find: neither bm25() nor ts_rank(), whose cost grows with the word's frequency in
# the whole database (bm25 counts every row that holds the word), not in the caller's threads.
_SQLITE_MATCHES = f"""
SELECT m.thread_id, m.id, m.created_at, f.body AS text
FROM message_index f
CROSS JOIN messages m ON m.rowid = f.rowid AND m.thread_id = f.thread_id AND m.id = f.message_id
CROSS JOIN participants p ON p.thread_id = m.thread_id AND p.user_id = $1
WHERE message_index MATCH $2 AND {_WINDOW}
ORDER BY m.created_at DESC, m.thread_id, m.id LIMIT $3 OFFSET $4
"""

_POSTGRES_MATCHES = f"""
SELECT m.thread_id, m.id, m.created_at,
       CASE WHEN m.type = 'html' THEN COALESCE(m.plain_text, m.content) ELSE m.content END AS text
FROM participants p JOIN messages m ON m.thread_id = p.thread_id
WHERE p.user_id = $1 AND p.thread_id = ANY($2::text[])
  AND m.search_vector @@ plainto_tsquery('simple', lower($3 COLLATE "und-x-icu"))
  AND {_WINDOW}
ORDER BY m.created_at DESC, m.thread_id, m.id LIMIT $4 OFFSET $5
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    """A message that holds the words, inside a window: its key, time and indexed text."""

    thread_id: str
    message_id: int
    created_at: int
    text: str


def words(query: str) -> list[str]:
    """The words of a search query; punctuation and query syntax of either engine are not words."""
    return WORD.findall(query)


def _scope_token(thread_id: str) -> str:
    """The token the SQLite index holds for a thread: 't' || hex(thread_id), as the trigger writes it."""
    return "t" + thread_id.encode().hex()


def _fts_query(terms: Sequence[str], thread_ids: Sequence[str]) -> str:
    body = " AND ".join(f'"{term}"' for term in terms)
    scope = " OR ".join(_scope_token(thread_id) for thread_id in thread_ids)
    return f"body : ({body}) AND scope : ({scope})"


async def find_matches(
    db: Connection, user_id: str, thread_ids: Sequence[str], terms: Sequence[str], *, skip: int, limit: int
) -> list[Match]:
    """The live text/html messages of `thread_ids` that hold every one of `terms`, inside the
    history window of `user_id`'s participants row of each (current or past), newest first."""
    if not thread_ids or not terms:
        return []
    if db.engine == "postgres":
        # Planned for its words each time: the best plan depends on how common they are.
        query = " ".join(terms)
        rows = await db.fetch_planned_per_call(_POSTGRES_MATCHES, user_id, list(thread_ids), query, limit, skip)
    else:
        rows = await db.fetch(_SQLITE_MATCHES, user_id, _fts_query(terms, thread_ids), limit, skip)
    return [Match(row[0], int(row[1]), int(row[2]), row[3] or "") for row in rows]


async def get_hits(db: Connection, matches: Sequence[Match]) -> list[SearchHit]:
    """The messages of `matches`, in their order; one that was deleted meanwhile is left out."""
    if not matches:
        return []
    if db.engine == "postgres":
        rows = await db.fetch(
            f"SELECT {_COLUMNS}, m.thread_id AS hit_thread_id"
            " FROM unnest($1::text[], $2::bigint[]) AS k (thread_id, id)"
            " JOIN messages m ON m.thread_id = k.thread_id AND m.id = k.id WHERE m.deleted_at IS NULL",
            [m.thread_id for m in matches],
            [m.message_id for m in matches],
        )
    else:
        rows = await db.fetch(
            f"SELECT {_COLUMNS}, m.thread_id AS hit_thread_id FROM json_each($1) k CROSS JOIN messages m"
            " ON m.thread_id = json_extract(k.value, '$[0]') AND m.id = json_extract(k.value, '$[1]')"
            " WHERE m.deleted_at IS NULL",
            json.dumps([[m.thread_id, m.message_id] for m in matches]),
        )
    found = {(row["hit_thread_id"], int(row["id"])): message_from_row(row) for row in rows}
    return [
        SearchHit(m.thread_id, found[m.thread_id, m.message_id], m.text)
        for m in matches
        if (m.thread_id, m.message_id) in found
    ]


# -- SQLite: new messages, after their commit ---------------------------------------------------------

INDEX_BATCH = 10_000
"""Rows of `messages` (by rowid) that one `index_pending` transaction looks at, at most."""
_BACKLOG_LOG_SECONDS = 5.0
"""A backlog of more than one batch (messages written around the server) is logged this often."""
_backlog_logged = 0.0

_INDEX_ROWS = """
INSERT INTO message_index (rowid, body, scope, thread_id, message_id)
SELECT rowid, CASE type WHEN 'html' THEN COALESCE(plain_text, content) ELSE content END,
       't' || hex(thread_id), thread_id, id
FROM messages WHERE rowid > $1 AND rowid <= $2 AND type IN ('text', 'html') AND deleted_at IS NULL
"""


async def index_pending(tx: Connection, batch: int = INDEX_BATCH) -> bool:
    """Put the messages above `search_indexed.last_rowid` into the SQLite index, as they are now,
    at most `batch` rowids of them, and move the mark past them; True when more are left."""
    last = int(await tx.fetchval("SELECT last_rowid FROM search_indexed"))
    top = await tx.fetchval("SELECT MAX(rowid) FROM messages")
    if top is None or int(top) <= last:
        return False
    upto = min(int(top), last + batch)
    await tx.execute(_INDEX_ROWS, last, upto)
    await tx.execute("UPDATE search_indexed SET last_rowid = $1", upto)
    if upto < int(top):
        _log_backlog(int(top) - upto)
        return True
    return False


def _log_backlog(left: int) -> None:
    """Say how far a long catch-up is, at most every `_BACKLOG_LOG_SECONDS` (it runs on the writer)."""
    global _backlog_logged
    now = time.monotonic()
    if now - _backlog_logged >= _BACKLOG_LOG_SECONDS:
        _backlog_logged = now
        log.info("search index: indexing new messages, about %d left", left)


async def start_indexing(db: Database) -> None:
    """Have the engine index new messages after their commit, where the schema leaves it to us;
    returns once what an earlier process left is indexed (a long backlog logs its progress)."""
    if db.engine == "sqlite":
        await db.defer(index_pending)


# -- the backfill ----------------------------------------------------------------------------------

Progress = Callable[[int, int], None]
"""Called after each backfill batch with (messages done, messages in all)."""


async def restart_backfill(db: Database) -> None:
    """Index every message again from the start (`hubbub reindex`), by the backfill."""

    async def body(tx: Connection) -> None:
        await tx.execute("DELETE FROM search_backfill")
        await tx.execute(
            "INSERT INTO search_backfill (thread_id, message_id, total, done)"
            " SELECT '', -1, (SELECT COUNT(*) FROM messages), 0"
        )

    await db.write(body)


async def _backfill_batch(tx: Connection, size: int) -> tuple[int, int] | None:
    """Index the next `size` messages after the cursor; (done, total), or None when nothing was left."""
    lock = " FOR UPDATE" if tx.engine == "postgres" else ""
    cursor = await tx.fetchrow(f"SELECT thread_id, message_id, total, done FROM search_backfill{lock}")
    if cursor is None:
        return None
    after = (cursor["thread_id"], int(cursor["message_id"]))
    rows = await tx.fetch(
        "SELECT thread_id, id, type, content FROM messages WHERE (thread_id, id) > ($1, $2)"
        " ORDER BY thread_id, id LIMIT $3",
        *after,
        size,
    )
    if not rows:
        await tx.execute("DELETE FROM search_backfill")
        return int(cursor["total"]), int(cursor["total"])
    last = (rows[-1]["thread_id"], int(rows[-1]["id"]))
    html = [
        (row["thread_id"], row["id"], dump_plain_text("html", row["content"] or ""))
        for row in rows
        if row["type"] == "html"
    ]
    if html:
        await tx.executemany("UPDATE messages SET plain_text = $3 WHERE thread_id = $1 AND id = $2", html)
    # Rewriting the column fires the index triggers of both engines for every message of the batch.
    await tx.execute(
        "UPDATE messages SET plain_text = plain_text WHERE (thread_id, id) > ($1, $2)"
        " AND (thread_id, id) <= ($3, $4) AND type = 'text' AND deleted_at IS NULL",
        *after,
        *last,
    )
    done = int(cursor["done"]) + len(rows)
    total = max(int(cursor["total"]), done)
    await tx.execute(
        "UPDATE search_backfill SET thread_id = $1, message_id = $2, done = $3, total = $4", *last, done, total
    )
    return done, total


async def backfill(db: Database, progress: Progress | None = None, *, batch: int = 5000) -> int:
    """Index the messages stored before the index existed, `batch` per transaction; return how
    many were looked at. Writes go on meanwhile: each batch is short, and a message written during
    the backfill is indexed by the triggers (the backfill indexing it again is harmless)."""
    done = 0
    while (step := await db.write(lambda tx: _backfill_batch(tx, batch))) is not None:
        done, total = step
        if progress is not None:
            progress(done, total)
    return done
