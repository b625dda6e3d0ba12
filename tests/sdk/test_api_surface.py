"""Introspect the official packages and Hubbub's: every public name, method and parameter must match.

Nothing here is a hand-kept list: the expected surface is read from azure-communication-chat
1.3.0 and azure-communication-identity 1.5.0 as installed. Hubbub may add (keyword) parameters and
methods, never drop or reorder them. Members the official generated models inherit from autorest's
`Model` base (serialize, from_dict, ...) are serialization plumbing and are not compared.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from typing import Any

import pytest

PAIRS = [
    ("azure.communication.chat", "hubbub.chat"),
    ("azure.communication.chat.aio", "hubbub.chat.aio"),
    ("azure.communication.identity", "hubbub.identity"),
    ("azure.communication.identity.aio", "hubbub.identity.aio"),
]
DUNDERS = {"__init__", "__enter__", "__exit__", "__aenter__", "__aexit__", "__eq__", "__iter__", "__aiter__"}


def _autorest_members() -> set[str]:
    from azure.communication.chat._generated._serialization import Model

    return {name for name in dir(Model) if not name.startswith("_")}


def public_members(cls: type) -> dict[str, Any]:
    skip = (
        _autorest_members()
        if any(b.__name__ == "Model" and "_serialization" in b.__module__ for b in cls.__mro__)
        else set()
    )
    members = {}
    for name in dir(cls):
        if (name.startswith("_") and name not in DUNDERS) or name in skip:
            continue
        for klass in cls.__mro__:
            if name in vars(klass):
                if klass is object:
                    break
                members[name] = vars(klass)[name]
                break
    return members


def assert_compatible(official: Any, ours: Any, where: str) -> None:
    """Every call that works on `official` works on `ours`: same positional parameters in the same
    order with the same defaults, every keyword accepted, and `**kwargs` kept."""
    theirs = inspect.signature(official).parameters
    mine = inspect.signature(ours).parameters
    positional = [p for p in theirs.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    my_positional = [p for p in mine.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert [p.name for p in positional] == [p.name for p in my_positional[: len(positional)]], where
    for p, q in zip(positional, my_positional, strict=False):
        assert (p.default is p.empty) == (q.default is q.empty), f"{where}: default of {p.name}"
        if p.default is not p.empty:
            assert p.default == q.default, f"{where}: default of {p.name}"
    has_var_kw = any(q.kind is q.VAR_KEYWORD for q in mine.values())
    for p in theirs.values():
        if p.kind is p.KEYWORD_ONLY:
            q = mine.get(p.name)
            assert q is not None or has_var_kw, f"{where}: keyword {p.name}"
            if q is not None and p.default is not p.empty:
                assert q.default == p.default, f"{where}: default of {p.name}"
        if p.kind is p.VAR_POSITIONAL:
            assert any(q.kind is q.VAR_POSITIONAL for q in mine.values()), f"{where}: *{p.name}"
        if p.kind is p.VAR_KEYWORD:
            assert has_var_kw, f"{where}: **{p.name}"


@pytest.mark.parametrize(("official_name", "our_name"), PAIRS)
def test_every_public_name_is_exported(official_name: str, our_name: str) -> None:
    official = importlib.import_module(official_name)
    ours = importlib.import_module(our_name)
    missing = sorted(set(official.__all__) - set(ours.__all__))
    assert not missing, f"{our_name} lacks {missing}"
    for name in official.__all__:
        assert hasattr(ours, name), f"{our_name}.{name}"


@pytest.mark.parametrize(("official_name", "our_name"), PAIRS)
def test_classes_functions_and_enums_match(official_name: str, our_name: str) -> None:
    official = importlib.import_module(official_name)
    ours = importlib.import_module(our_name)
    for name in official.__all__:
        theirs, mine = getattr(official, name), getattr(ours, name)
        where = f"{our_name}.{name}"
        if isinstance(theirs, type) and issubclass(theirs, enum.Enum):
            assert [(m.name, m.value) for m in theirs] == [(m.name, m.value) for m in mine], where
            assert issubclass(mine, str) == issubclass(theirs, str), where
        elif isinstance(theirs, type) and getattr(theirs, "__annotations__", None) and hasattr(theirs, "__total__"):
            assert theirs.__annotations__.keys() == mine.__annotations__.keys(), where  # TypedDict
        elif isinstance(theirs, type):
            assert isinstance(mine, type), where
            mine_members = public_members(mine)
            for member, value in public_members(theirs).items():
                assert member in mine_members, f"{where}.{member} is missing"
                our_value = mine_members[member]
                if isinstance(value, property):
                    assert isinstance(our_value, property) or not callable(our_value), f"{where}.{member}"
                elif inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
                    official_fn = getattr(theirs, member)
                    our_fn = getattr(mine, member)
                    assert inspect.iscoroutinefunction(official_fn) == inspect.iscoroutinefunction(our_fn), (
                        f"{where}.{member}: async-ness differs"
                    )
                    if member != "__init__" or theirs.__init__ is not object.__init__:
                        assert_compatible(official_fn, our_fn, f"{where}.{member}")
        elif callable(theirs):
            assert_compatible(theirs, mine, where)


def test_introspection_can_fail() -> None:
    """Guard: the comparison notices a dropped keyword and a reordered parameter."""

    def official(a: int, b: int = 1, *, c: int = 2, **kwargs: Any) -> None: ...
    def dropped_kwargs(a: int, b: int = 1, *, c: int = 2) -> None: ...
    def reordered(b: int = 1, a: int = 0, **kwargs: Any) -> None: ...

    with pytest.raises(AssertionError):
        assert_compatible(official, dropped_kwargs, "x")
    with pytest.raises(AssertionError):
        assert_compatible(official, reordered, "x")
