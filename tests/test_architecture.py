"""The server's layering, checked on its source: imports point down, and engines stay in the store.

The import graph is built with `ast` from every import statement in a module, wherever it stands:
at module level, inside a function (an import deferred to run time to dodge a cycle is still the
cycle), and under `if TYPE_CHECKING:` (a type-only import that points up is still a layer reaching
up). Importing `a.b.c` is an edge to `a.b.c` only; the implicit import of its parent packages is
not an edge, or every package `__init__` that re-exports its modules would be a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import hubbub

SRC = Path(hubbub.__file__).parent
SERVER = SRC / "server"

APP = "hubbub.server.app"
APP_IMPORTERS = {"hubbub.server.runner", "hubbub.cli"}
"""Who may import the app factory: the process that serves it, and the command line that starts it."""

ENGINE_NAME = re.compile(r"postgres|sqlite", re.IGNORECASE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path): path for path in sorted(root.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules among `known` that the module `name` at `path` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found & known


def import_graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imported(path, name, set(known)) - {name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_sees_the_imports_that_matter() -> None:
    """A check that cannot fail is no check: the graph holds edges of every kind the rules are about."""
    graph = import_graph(SERVER)
    assert "hubbub.server.app" in graph["hubbub.server.runner"]  # a module-level `from ... import`
    assert "hubbub.server.store.sqlite" in graph["hubbub.server.store.engines"]  # an import in a function
    assert "hubbub.server.errors" in graph["hubbub.server.api.errors"]  # `from package import module`
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_server_modules_import_without_a_cycle() -> None:
    assert find_cycle(import_graph(SERVER)) is None


def test_only_the_runner_and_the_cli_import_the_app() -> None:
    graph = import_graph(SRC)
    importers = {name for name, targets in graph.items() if APP in targets}
    assert importers <= APP_IMPORTERS


def test_the_store_imports_nothing_above_it() -> None:
    graph = import_graph(SERVER)
    allowed = ("hubbub.server.store", "hubbub.server.domain", "hubbub.server.errors", "hubbub.server.settings")
    for name, targets in graph.items():
        if name.startswith("hubbub.server.store"):
            assert {t for t in targets if not t.startswith(allowed)} == set(), name


def test_engines_are_named_only_in_the_store() -> None:
    named = {
        name
        for name, path in modules(SERVER).items()
        if not name.startswith("hubbub.server.store") and ENGINE_NAME.search(path.read_text(encoding="utf-8"))
    }
    assert named == set(), sorted(named)
