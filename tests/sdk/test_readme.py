"""Every ```python snippet of the official azure-communication-chat README, run against a live server.

The README (`data/azure-communication-chat-README.md`, source noted at its top) is split into its
snippets, which run in order in one shared namespace, as a reader would paste them into one
session. Placeholders (`"<connection_string>"`, the endpoint, `"<token>"`) become the live server's;
names a snippet uses without defining (`topic`, `thread_id`, ...) are prepared by `PREPARE`, each with
its reason. Snippets that are not code, or fail as written, are listed in `NOT_CODE` and
`FAILS_AS_WRITTEN`: nothing is skipped silently.

Each sequence runs four times: with the official imports and with `azure.communication.*` swapped
for `hubbub.*`, sync as written and async. The README has no async snippets, so the async run is
the same code made async mechanically (`async_source`): the `.aio` clients, `await` on every call
that is a coroutine in the official aio package, `async for` over pagers and their pages. What each
snippet prints and binds is compared with `_compare.typed` (types and values, server ids and
timestamps normalized) between the official and Hubbub runs.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.communication.chat.aio as official_chat_aio
import azure.communication.identity.aio as official_identity_aio
import pytest

from _services import HubbubServer

from ._compare import Labels, differences, typed

README = Path(__file__).parent / "data" / "azure-communication-chat-README.md"

NOT_CODE = {
    6: "lists ChatClient method signatures (`create_chat_thread(topic, **kwargs)`), not runnable code",
    7: "a method signature (`update_topic(topic, **kwargs)`), not runnable code",
    8: "a method signature (`get_properties(**kwargs)`), not runnable code",
    9: "lists message method signatures, not runnable code",
    10: "lists participant method signatures, not runnable code",
    11: "a method signature (`send_typing_notification(**kwargs)`), not runnable code",
    12: "lists read-receipt method signatures, not runnable code",
}
"""Snippets that are API listings, by number (1-based, in README order)."""

FAILS_AS_WRITTEN = {
    17: (TypeError, "passes thread_id to get_properties(), which takes no positional argument"),
}
"""Snippets that raise as written with the official SDK: Hubbub must raise the same."""

PREPARE: dict[int, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    3: ("uses `topic` before any snippet defines it", lambda ns: {"topic": "README topic"}),
    4: (
        "uses `thread_participants` and `idempotency_token` before any snippet defines them",
        lambda ns: {
            "thread_participants": [
                ns["__models__"].ChatParticipant(identifier=ns["__other_user__"], display_name="Other")
            ],
            "idempotency_token": uuid.uuid4(),
        },
    ),
    5: (
        "uses `thread_id`, 'the id of an existing chat thread'",
        lambda ns: {"thread_id": ns["create_chat_thread_result"].chat_thread.id},
    ),
    26: ("uses `new_user`, defined only in commented-out code", lambda ns: {"new_user": ns["new_users"][0]}),
}
"""Names a snippet needs that the README leaves to the reader, with the reason."""

PLACEHOLDERS = {
    '"<connection string of your Communication service>"': "__connection_string__",
    "'<connection_string>'": "__connection_string__",
    '"<connection_string>"': "__connection_string__",  # (the same, should the README be reformatted)
    '"https://<RESOURCE_NAME>.communcationservices.azure.com"': "__endpoint__",
    '"<token>"': "token",  # the token of the user the earlier snippets created
}


def snippets() -> list[str]:
    """The ```python blocks of the README, in order (the README also spells it ```Python)."""
    return re.findall(r"^```[Pp]ython\n(.*?)^```", README.read_text(), flags=re.M | re.S)


# -- making a snippet async ----------------------------------------------------------------------

AWAITED = {
    name
    for cls in (
        official_chat_aio.ChatClient,
        official_chat_aio.ChatThreadClient,
        official_identity_aio.CommunicationIdentityClient,
    )
    for name, member in vars(cls).items()
    if inspect.iscoroutinefunction(member)
}
"""The methods that are coroutines in the official aio package (create_chat_thread, ...)."""


class _Asyncify(ast.NodeTransformer):
    """`await` on coroutine methods; `async for` over pagers, their `by_page()` and their pages."""

    def __init__(self, tree: ast.Module) -> None:
        self.async_iterables: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and self._is_pager_call(node.value):
                self.async_iterables.update(t.id for t in node.targets if isinstance(t, ast.Name))

    @staticmethod
    def _is_pager_call(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (node.func.attr.startswith("list_") or node.func.attr == "by_page")
        )

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in AWAITED:
            return ast.Await(value=node)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        iterable = node.iter
        if self._is_pager_call(iterable) or (isinstance(iterable, ast.Name) and iterable.id in self.async_iterables):
            if isinstance(node.target, ast.Name):
                self.async_iterables.add(node.target.id)  # a page: iterate it with async for too
            self.generic_visit(node)
            return ast.AsyncFor(
                target=node.target, iter=node.iter, body=node.body, orelse=node.orelse, type_comment=None
            )
        self.generic_visit(node)
        return node


def async_source(source: str) -> ast.Module:
    tree = ast.parse(source)
    return ast.fix_missing_locations(_Asyncify(tree).visit(tree))


# -- running the snippets ------------------------------------------------------------------------


@dataclass
class Flavour:
    """Which package the snippets import, and how to reach the server with it."""

    package: str  # "azure.communication" or "hubbub"
    is_async: bool
    endpoint: str
    connection_string: str
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    opened: list[Any] = field(default_factory=list)

    def module(self, name: str) -> Any:
        """`from azure.communication.chat import X` becomes `from <package>.chat[.aio] import X`."""
        return importlib.import_module(name.replace("azure.communication", self.package, 1))

    def resolve(self, module_name: str, name: str) -> Any:
        module = self.module(module_name)
        if self.is_async:
            aio = importlib.import_module(module.__name__ + ".aio")
            if hasattr(aio, name):
                return self.tracked(getattr(aio, name))
        value = getattr(module, name)
        return self.tracked(value) if name.endswith("Client") else value

    def tracked(self, cls: Any) -> Any:
        """The client class, remembering each instance (to close it) and passing `client_kwargs`."""
        if not (isinstance(cls, type) and cls.__name__.endswith("Client")):
            return cls
        flavour = self

        class Tracked(cls):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**flavour.client_kwargs, **kwargs})
                flavour.opened.append(self)

            def get_chat_thread_client(self, thread_id: str, **kwargs: Any) -> Any:
                client = super().get_chat_thread_client(thread_id, **{**flavour.client_kwargs, **kwargs})
                flavour.opened.append(client)
                return client

        Tracked.__name__ = Tracked.__qualname__ = cls.__name__
        return Tracked

    async def close_all(self) -> None:
        for client in self.opened:
            if hasattr(client, "close"):
                result = client.close()
                if inspect.isawaitable(result):
                    await result


class _Imports(ast.NodeTransformer):
    """`from azure.communication.X import a, b` becomes `a = __resolve__("azure.communication.X", "a")`."""

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        if not (node.module or "").startswith("azure.communication."):
            return node
        return [
            ast.Assign(
                targets=[ast.Name(id=alias.asname or alias.name, ctx=ast.Store())],
                value=ast.Call(
                    func=ast.Name(id="__resolve__", ctx=ast.Load()),
                    args=[ast.Constant(node.module), ast.Constant(alias.name)],
                    keywords=[],
                ),
            )
            for alias in node.names
        ]


def comparable(value: Any, labels: Labels, known: dict[str, str]) -> Any:
    """`typed(value)`, or just the type name for clients, pagers, functions and other machinery;
    the flavour's endpoint and connection string (https or http) become `known` labels."""
    name = type(value).__name__
    if isinstance(value, str) and value in known:
        return (name, known[value])
    if callable(value) or inspect.ismodule(value) or any(p in name for p in ("Client", "Credential", "Paged", "UUID")):
        return name
    if hasattr(value, "__next__") or hasattr(value, "__anext__"):  # a page of a pager, consumed
        return "iterator"
    return typed(value, labels)


async def run_readme(flavour: Flavour, other_user_id: str) -> list[Any]:
    """Run every snippet in one namespace; per snippet: outcome, what it printed and what it bound."""
    labels = Labels()
    known = {flavour.endpoint: "<endpoint>", flavour.connection_string: "<connection string>"}
    printed: list[Any] = []
    ns: dict[str, Any] = {
        "__resolve__": flavour.resolve,
        "__endpoint__": flavour.endpoint,
        "__connection_string__": flavour.connection_string,
        "__models__": flavour.module("azure.communication.chat"),
        "print": lambda *args: printed.append([comparable(arg, labels, known) for arg in args]),
    }
    ns["__other_user__"] = ns["__models__"].CommunicationUserIdentifier(other_user_id)
    results: list[Any] = []
    try:
        for number, source in enumerate(snippets(), start=1):
            if number in NOT_CODE:
                results.append((number, "not code"))
                continue
            if number in PREPARE:
                ns.update(PREPARE[number][1](ns))
            for placeholder, name in PLACEHOLDERS.items():
                source = source.replace(placeholder, name)
            tree = async_source(source) if flavour.is_async else ast.parse(source)
            tree = ast.fix_missing_locations(_Imports().visit(tree))
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if flavour.is_async else 0
            code = compile(tree, f"README snippet {number}", "exec", flags=flags)
            del printed[:]
            try:
                result = eval(code, ns)  # the README's own code, with our placeholders
                if inspect.isawaitable(result):
                    await result
                outcome: Any = "ok"
            except FAILS_AS_WRITTEN.get(number, (_Never,))[0] as exc:
                outcome = type(exc).__name__
            bound = {
                node.id: comparable(ns[node.id], labels, known)
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in ns
            }
            results.append((number, outcome, list(printed), bound))
    finally:
        await flavour.close_all()
    return results


class _Never(Exception):
    """Never raised: the `except` clause of snippets that must not fail."""


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_readme_snippets_run_on_hubbub_as_on_the_official_sdk(
    sdk_server: HubbubServer, identity: Any, is_async: bool
) -> None:
    assert len(snippets()) == 29  # the README changed: review NOT_CODE, FAILS_AS_WRITTEN and PREPARE
    other = identity.create_user().raw_id
    official_kwargs = {"connection_verify": str(sdk_server.ca_path)} if is_async else {}
    official = await run_readme(
        Flavour("azure.communication", is_async, sdk_server.https_url, sdk_server.connection_string, official_kwargs),
        other,
    )
    ours = await run_readme(Flavour("hubbub", is_async, sdk_server.http_url, sdk_server.http_connection_string), other)
    outcomes = {r[0]: r[1] for r in official}
    assert [n for n, o in outcomes.items() if o == "not code"] == sorted(NOT_CODE)
    assert {n: o for n, o in outcomes.items() if o not in ("ok", "not code")} == {
        n: e.__name__ for n, (e, _) in FAILS_AS_WRITTEN.items()
    }
    assert sum(len(r[2]) for r in official if len(r) > 2) >= 5  # the snippets printed what they listed
    assert ours == official, "\n".join(differences(ours, official))


def test_async_translation_of_a_listing_snippet() -> None:
    """The mechanical translation does what the async samples of the official package do."""
    source = snippets()[15]  # list_chat_threads ... for page in .by_page(): for item in page
    assert ast.unparse(async_source(source)).count("async for") == 2
    assert "await chat_client.create_chat_thread(topic)" in ast.unparse(async_source(snippets()[12]))
