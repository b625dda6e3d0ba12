"""Internals of Hubbub's Python SDK (`hubbub.chat`, `hubbub.identity`).

Everything that does no I/O lives here once: identifiers, models, request building, response
parsing, paging links, retries, errors, HMAC signing and token parsing. The clients in
`hubbub.chat` / `hubbub.identity` (and their `aio` twins) only send what these modules build.

The async pipeline in `_async/` is written by hand; `_sync/` is generated from it by
`scripts/unasync.py`. Nothing here imports `hubbub.server`.
"""
