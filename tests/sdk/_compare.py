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
            # a message version is a millisecond timestamp that may or may not equal another id: as in `typed`
            k: "<version>" if k == "version" and isinstance(v, str) else norm(v, labels)
            for k, v in vars(value).items()
            if not k.startswith("_") and k != "additional_properties"
        }
        return (type(value).__name__, fields)
    raise TypeError(f"cannot normalize {value!r}")


def unordered(pages: list[list[Any]]) -> tuple[list[int], list[str]]:
    """Page sizes, and the items in a stable order (for lists the server orders by random ids)."""
    return [len(page) for page in pages], sorted(repr(item) for page in pages for item in page)


# -- strict comparison: every value keeps its type name --------------------------------------------

_ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_OFFSET = re.compile(r"(Z|[+-]\d\d:\d\d)$")
_JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")
_EPOCH_FROM = 10**9  # ints past this are epoch seconds (2001 on), which differ between runs


def typed(value: Any, labels: Labels) -> Any:
    """Like `norm`, but every leaf is `(type name, value)` so that an int where the official SDK
    gives a str (or a datetime where it gives a str) fails the comparison.

    Only what differs between two runs is normalized: server ids become labels (message versions a
    marker), date-times and ISO-8601 strings keep only their type and whether they carry an
    offset, epoch-second ints and JWTs keep only their type.
    """
    kind = type(value).__name__
    if value is None or isinstance(value, bool | float):
        return (kind, value)
    if isinstance(value, enum.Enum):
        return (kind, value.value)
    if isinstance(value, int):
        return (kind, "<epoch>" if value > _EPOCH_FROM else value)
    if isinstance(value, dt.datetime):
        return (kind, "<aware>" if value.tzinfo is not None else "<naive>")
    if isinstance(value, str):
        if _ID.search(value):
            return (kind, labels(value))
        if _ISO_DATETIME.match(value):
            return (kind, "<iso-datetime+offset>" if _OFFSET.search(value) else "<iso-datetime>")
        if _JWT.match(value) and value.startswith("eyJ"):
            return (kind, "<jwt>")
        return (kind, value)
    if hasattr(value, "_asdict"):  # NamedTuple, e.g. AccessToken
        return (kind, {k: typed(v, labels) for k, v in value._asdict().items()})
    if isinstance(value, list | tuple):
        return (kind, [typed(v, labels) for v in value])
    if isinstance(value, dict):
        return (kind, {k: typed(v, labels) for k, v in value.items()})
    if hasattr(value, "raw_id") and hasattr(value, "kind"):
        return (kind, {"raw_id": typed(value.raw_id, labels), "properties": typed(dict(value.properties), labels)})
    if hasattr(value, "__dict__"):
        fields = {k: _field(k, v, labels) for k, v in vars(value).items() if not k.startswith("_")}
        fields.pop("additional_properties", None)
        return (kind, fields)
    raise TypeError(f"cannot normalize {value!r}")


def _field(name: str, value: Any, labels: Labels) -> Any:
    # A message version is a millisecond timestamp that may or may not equal another message's id
    # (an edit in the millisecond of a send): labelling it would make the two runs differ.
    if name == "version" and isinstance(value, str):
        return (type(value).__name__, "<version>")
    return typed(value, labels)


def public_names(cls: type) -> set[str]:
    """The public methods and properties of a class (what a drop-in must provide)."""
    return {name for name in dir(cls) if not name.startswith("_")}


class Recorder:
    """Wraps clients so that every public attribute used on them is recorded per class name.

    Calls that return another client (`from_connection_string`, `get_chat_thread_client`) return
    it wrapped too, so a scenario only needs to wrap its entry points.
    """

    def __init__(self, tracked: set[str]) -> None:
        self.tracked = tracked
        self.used: dict[str, set[str]] = {name: set() for name in tracked}

    def wrap(self, target: Any) -> Any:
        return _Recorded(target, self)


class _Recorded:
    def __init__(self, target: Any, recorder: Recorder) -> None:
        self._target = target
        self._recorder = recorder
        self._class = target.__name__ if isinstance(target, type) else type(target).__name__

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_"):
            return value
        self._recorder.used[self._class].add(name)
        if not callable(value):
            return value
        recorder = self._recorder

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return recorder.wrap(result) if type(result).__name__ in recorder.tracked else result

        return call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._target(*args, **kwargs)
        return self._recorder.wrap(result) if type(result).__name__ in self._recorder.tracked else result


def differences(ours: Any, official: Any, path: str = "") -> list[str]:
    """Where two normalized results differ, as `path: ours != official` lines (for assert messages)."""
    if isinstance(ours, dict) and isinstance(official, dict):
        return [
            line
            for key in sorted(set(ours) | set(official), key=str)
            for line in differences(ours.get(key, "<missing>"), official.get(key, "<missing>"), f"{path}.{key}")
        ]
    if isinstance(ours, list | tuple) and isinstance(official, list | tuple) and len(ours) == len(official):
        return [
            line
            for i, (a, b) in enumerate(zip(ours, official, strict=True))
            for line in differences(a, b, f"{path}[{i}]")
        ]
    return [] if ours == official else [f"{path}: {ours!r} != {official!r}"]
