"""The async HTTP pipeline (hand-written; `_sync` is generated from it by `scripts/unasync.py`)."""
