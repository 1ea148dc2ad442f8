"""No import cycles between the modules of ``streamtap.graph``.

Every import statement counts: module level, function-local and under
``if TYPE_CHECKING:`` alike, since each of them says one module needs the
other. (A package's own ``__init__`` importing its submodules is an edge like
any other; the implicit import of a parent package is not.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import streamtap.graph

PACKAGE = "streamtap.graph"
ROOT = Path(streamtap.graph.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([PACKAGE, *parts])] = path
    return out


def _imports(name: str, source: str, modules: dict[str, Path], *, is_package: bool) -> set[str]:
    """The package's modules that ``name`` imports, wherever the statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _edges() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: _imports(name, path.read_text(), modules, is_package=path.name == "__init__.py")
        for name, path in modules.items()
    }


def test_the_walk_sees_local_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from streamtap.graph.types import Send\n"
        "def f():\n"
        "    from streamtap.graph import errors\n"
        "    from . import message\n"
        "    import streamtap.graph.checkpoint.base\n"
    )
    found = _imports(f"{PACKAGE}.compiled", source, _modules(), is_package=False)
    assert found == {
        f"{PACKAGE}.types",
        f"{PACKAGE}.errors",
        f"{PACKAGE}.message",
        f"{PACKAGE}.checkpoint.base",
    }


def test_the_walk_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_graph_modules() -> None:
    edges = _edges()
    assert len(edges) > 10
    cycles = _cycles(edges)
    assert not cycles, "import cycles in streamtap.graph:\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )
