"""Normalize SDK results so the official SDK's and Hubbub's can be compared with `==`.

Server-generated ids (users, threads, message ids and versions) differ between two runs, so they
are replaced by labels in order of first appearance; date-times become a marker that keeps only
whether they are timezone-aware. Everything else (types, texts, order, page shapes) must match.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

_ID = re.compile(r"^(8:acs:|19:)|^\d{10,}$")


class Labels:
    """Id -> label; `seed` fixes the labels of ids known up front (the users of a scenario)."""

    def __init__(self, seed: list[str] | None = None) -> None:
        self.seen: dict[str, str] = {}
        for value in seed or []:
            self(value)

    def __call__(self, value: str) -> str:
        return self.seen.setdefault(value, f"<id{len(self.seen)}>")


def norm(value: Any, labels: Labels) -> Any:
    if isinstance(value, dt.datetime):
        return ("datetime", value.tzinfo is not None)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return labels(value) if _ID.search(value) else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [norm(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: norm(v, labels) for k, v in value.items()}
    if hasattr(value, "raw_id") and hasattr(value, "kind"):
        return ("identifier", type(value).__name__, norm(value.raw_id, labels), norm(dict(value.properties), labels))
    if hasattr(value, "__dict__"):
        fields = {
            k: norm(v, labels) for k, v in vars(value).items() if not k.startswith("_") and k != "additional_properties"
        }
        return (type(value).__name__, fields)
    raise TypeError(f"cannot normalize {value!r}")


def unordered(pages: list[list[Any]]) -> tuple[list[int], list[str]]:
    """Page sizes, and the items in a stable order (for lists the server orders by random ids)."""
    return [len(page) for page in pages], sorted(repr(item) for page in pages for item in page)
