"""The chat rules, one module per resource as in `api/` and `store/`: threads, messages,
participants and identities, on a shared `base` (validation, access, system messages, publishing).

No HTTP in here: the rules take and return domain values (`hubbub.server.domain`) and raise the
errors of `hubbub.server.errors`.
"""
