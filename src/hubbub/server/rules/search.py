"""Search rules: message search in one thread or in every thread the caller can read (docs/search.md).

Search is an extension of Hubbub (ACS has none). It reads exactly what `list_messages` reads: the
caller's history window of each thread (`rules.base.history_window`: from its share-history time
until its removal, so a removed participant still finds what it could read; the store applies it
over the same participants row, see `store.search`), never a deleted message, and an edited
message by its current text. Only text and html messages are searched (html by its text).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Awaitable, Callable

from hubbub.server.domain import Message, SearchHit
from hubbub.server.errors import BadRequest
from hubbub.server.rules.base import Rules
from hubbub.server.store import Connection
from hubbub.server.store import participants as participant_store
from hubbub.server.store import search as search_store

MAX_RANKED = 5000
"""Ranking by relevance ranks the newest this many matches (of the caller's visible messages)."""
MAX_QUERY_LENGTH = 256
MAX_QUERY_WORDS = 16
SNIPPET_WORDS = 24
"""About how many words a snippet shows around the first match."""
MARK_START, MARK_END = "<mark>", "</mark>"
ORDERS = ("relevance", "time")
_TOKEN = search_store.WORD
BM25_K1, BM25_B = 1.2, 0.75


@dataclasses.dataclass(frozen=True, slots=True)
class SearchResult:
    thread_id: str
    message: Message
    snippet: str
    """The message's text around the first match, html-escaped, the matched words in <mark>."""


class SearchService(Rules):
    def _words(self, query: str) -> list[str]:
        if len(query) > MAX_QUERY_LENGTH:
            raise BadRequest(f"The search query is longer than {MAX_QUERY_LENGTH} characters.", target="q")
        terms = list(dict.fromkeys(search_store.words(query)))
        if not terms:
            raise BadRequest("The search query must hold at least one word.", target="q")
        if len(terms) > MAX_QUERY_WORDS:
            raise BadRequest(f"The search query has more than {MAX_QUERY_WORDS} words.", target="q")
        return terms

    @staticmethod
    def _order(order: str | None) -> str:
        order = order or "relevance"
        if order not in ORDERS:
            raise BadRequest(f"Unknown order {order!r}; use 'relevance' or 'time'.", target="orderBy")
        return order

    async def search_thread(
        self, thread_id: str, caller: str, query: str, *, order: str | None, skip: int, limit: int
    ) -> list[SearchResult]:
        """A page of the thread's messages the caller can read that hold every word of `query`.
        As `list_messages`: 404 for no such thread, 403 for a caller that never took part in it."""
        terms, order = self._words(query), self._order(order)

        async def body(conn: Connection) -> list[SearchHit]:
            await self._access(conn, thread_id, caller, write=False)
            return await _search(conn, caller, [thread_id], terms, order=order, skip=skip, limit=limit)

        return [_result(hit, terms) for hit in await self._read_index(body)]

    async def search_threads(
        self, caller: str, query: str, *, order: str | None, skip: int, limit: int
    ) -> list[SearchResult]:
        """A page of the messages the caller can read, in every thread it is or was a participant of."""
        terms, order = self._words(query), self._order(order)

        async def body(conn: Connection) -> list[SearchHit]:
            threads = await participant_store.list_membership_threads(conn, caller)
            return await _search(conn, caller, threads, terms, order=order, skip=skip, limit=limit)

        return [_result(hit, terms) for hit in await self._read_index(body)]

    async def _read_index(self, body: Callable[[Connection], Awaitable[list[SearchHit]]]) -> list[SearchHit]:
        await self._db.catch_up()  # the index holds every message sent before this search
        return await self._db.read(body)


async def _search(
    conn: Connection, caller: str, threads: list[str], terms: list[str], *, order: str, skip: int, limit: int
) -> list[SearchHit]:
    """One page of matches: by time, straight from the engine; by relevance, ranked here."""
    if order == "time":
        matches = await search_store.find_matches(conn, caller, threads, terms, skip=skip, limit=limit)
    else:
        newest = await search_store.find_matches(conn, caller, threads, terms, skip=0, limit=MAX_RANKED)
        matches = rank(newest, terms)[skip : skip + limit]
    return await search_store.get_hits(conn, matches)


def rank(matches: list[search_store.Match], terms: list[str]) -> list[search_store.Match]:
    """`matches` (newest first) by BM25 relevance, the newer first among equals.

    Computed here, over the caller's matches, so the order is the same on every engine and its cost
    grows with what the caller can see, not with the database (document frequencies are those of
    the matches: how rare a word is among the messages that hold all the words).
    """
    wanted = [term.casefold() for term in terms]
    counts: list[dict[str, int]] = []
    lengths: list[int] = []
    for match in matches:
        tokens = [token.casefold() for token in _TOKEN.findall(match.text)]
        counts.append({term: tokens.count(term) for term in wanted})
        lengths.append(len(tokens) or 1)
    total = len(matches)
    average = sum(lengths) / total if total else 1.0
    idf = {
        term: math.log(1 + (total - held + 0.5) / (held + 0.5))
        for term in wanted
        for held in [sum(1 for c in counts if c[term])]
    }

    def score(index: int) -> float:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[index] / average)
        return sum(idf[t] * tf * (BM25_K1 + 1) / (tf + norm) for t, tf in counts[index].items() if tf)

    order = sorted(range(total), key=lambda i: -score(i))  # stable: newest first among equals
    return [matches[i] for i in order]


def _result(hit: SearchHit, terms: list[str]) -> SearchResult:
    return SearchResult(hit.thread_id, hit.message, snippet(hit.text, terms))


def snippet(text: str, terms: list[str], width: int = SNIPPET_WORDS) -> str:
    """`text` around its first matched word, html-escaped, every matched word wrapped in <mark>.

    Matching is by whole word, case-insensitively, as the engines match; an ellipsis marks text
    left out at either end.
    """
    wanted = {term.casefold() for term in terms}
    tokens = list(_TOKEN.finditer(text))
    first = next((i for i, t in enumerate(tokens) if t.group().casefold() in wanted), 0)
    start_token = max(0, first - width // 4)
    end_token = min(len(tokens), start_token + width)
    start = tokens[start_token].start() if tokens and start_token > 0 else 0
    end = tokens[end_token - 1].end() if tokens and end_token < len(tokens) else len(text)
    parts: list[str] = ["…"] if start > 0 else []
    position = start
    for token in tokens[start_token:end_token]:
        if token.group().casefold() in wanted:
            parts.append(html.escape(text[position : token.start()], quote=False))
            parts.append(MARK_START + html.escape(token.group(), quote=False) + MARK_END)
            position = token.end()
    parts.append(html.escape(text[position:end], quote=False))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
