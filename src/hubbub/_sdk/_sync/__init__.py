"""The sync HTTP pipeline, generated from `_async` by `scripts/unasync.py`."""
