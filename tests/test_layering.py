"""The import contract: layers import only downward, and no package's modules form a cycle.

Every import counts: module level, function-local and ``if TYPE_CHECKING:``
alike (a lazy import upward is still a dependency upward). Read from the source
with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "streamtap"

#: Lowest first. A module may import its own layer's package and any lower layer.
LAYERS: list[set[str]] = [
    # the chunk vocabulary and shared leaves: import nothing above them
    {
        "_compat",
        "_context",
        "_secrets",
        "_log_mask",
        "_callbacks",
        "_delta",
        "_stop",
        "_local_state",
        "errors",
        "accumulate",
    },
    {"providers"},
    {"middleware"},
    {"resilience"},
    {"graph"},
    {"testing"},
    {"local"},
    {"server"},
    {"cli"},
]
#: The top-level facade (``streamtap.chat_model``...); above everything but ``cli``.
FACADE_LAYER = len(LAYERS) - 1


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every streamtap module ``path`` imports, wherever the import statement is."""
    source = path.read_text(encoding="utf-8")
    return _imports_of(_module_name(path), source, is_package=path.name == "__init__.py")


def _imports_of(this: str, source: str, *, is_package: bool) -> set[str]:
    tree = ast.parse(source)
    package = this if is_package else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "streamtap")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "streamtap":
                continue
            found.add(target)
            for alias in node.names:  # `from streamtap import providers` imports a package
                candidate = f"{target}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
    found.discard(this)
    return found


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _component(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _layer(module: str) -> int:
    component = _component(module)
    if component is None:
        return FACADE_LAYER
    for i, names in enumerate(LAYERS):
        if component in names:
            return i
    raise AssertionError(f"{module}: not in any layer of tests/test_layering.py")


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


GRAPH = _graph()


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
    found = _imports_of("streamtap.graph.compiled", source, is_package=False)
    assert found == {
        "streamtap.graph",
        "streamtap.graph.types",
        "streamtap.graph.errors",
        "streamtap.graph.message",
        "streamtap.graph.checkpoint.base",
    }


def test_every_module_belongs_to_a_layer() -> None:
    for module in GRAPH:
        _layer(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_only_go_down(module: str) -> None:
    here = _layer(module)
    upward = []
    for target in sorted(GRAPH[module]):
        if target == "streamtap" and module.startswith("streamtap.server"):
            continue  # `from streamtap import __version__` (checked below)
        if _layer(target) > here:
            upward.append(target)
    assert not upward, f"{module} (layer {here}) imports upward: {upward}"


def test_the_server_takes_only_the_version_from_the_facade() -> None:
    for path in (ROOT / "server").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "streamtap" and not node.level:
                assert [a.name for a in node.names] == ["__version__"], path


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_cycles_anywhere() -> None:
    # An import of a package from outside it means "its public names", whose
    # modules sit below it; from inside it, the package's __init__ imports the
    # importer back, which is a cycle and must count.
    packages = {m for m in GRAPH if (ROOT.parent.joinpath(*m.split(".")) / "__init__.py").is_file()}
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        edges[module] = {t for t in targets if t not in packages or module.startswith(f"{t}.")}
    assert _cycles(edges) == []


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, f"split these along their seams: {long}"
