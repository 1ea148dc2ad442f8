"""Porting LangGraph's tests to ``streamtap.graph``: the import rewriter and the scope rules.

Two suites are ported: LangGraph's own tests (``LANGGRAPH``) and langgraph-prebuilt's
(``PREBUILT``). They differ in one thing: in LangGraph's tests ``langgraph.prebuilt`` is
infrastructure a user keeps, in prebuilt's it is what is under test, ported to
``streamtap.graph.prebuilt``.

Everything here is pure (source text in, source text or decisions out), so it is unit-tested
in ``tests/test_conformance_harness.py`` without downloading anything.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

# --- the import mapping -------------------------------------------------------------------
# A public LangGraph module -> the streamtap modules a user porting code would import the same
# names from, tried in order. A name none of them has is bound to a stub that raises
# ImportError when the test uses it: the test fails exactly where a user's port would.
MODULE_MAP: dict[str, tuple[str, ...]] = {
    "langgraph.graph": ("streamtap.graph",),
    "langgraph.graph.state": ("streamtap.graph", "streamtap.graph.state"),
    "langgraph.graph.message": ("streamtap.graph", "streamtap.graph.message"),
    "langgraph.graph.ui": ("streamtap.graph",),
    "langgraph.types": ("streamtap.graph", "streamtap.graph.types"),
    "langgraph.func": ("streamtap.graph.func", "streamtap.graph"),
    "langgraph.runtime": ("streamtap.graph",),
    "langgraph.config": ("streamtap.graph",),
    "langgraph.errors": ("streamtap.graph", "streamtap.graph.errors"),
    "langgraph.constants": ("streamtap.graph.constants", "streamtap.graph"),
    "langgraph.warnings": ("streamtap.graph.warnings",),
    "langgraph.managed": ("streamtap.graph",),
    "langgraph.callbacks": ("streamtap.graph.callbacks", "streamtap.graph"),
    "langgraph.checkpoint.memory": ("streamtap.graph", "streamtap.graph.checkpoint"),
    "langgraph.checkpoint.sqlite": ("streamtap.graph", "streamtap.graph.checkpoint"),
}

# Test infrastructure: components a user keeps when porting (stores, caches, prebuilt tools,
# the checkpoint interfaces of langgraph-checkpoint, LangGraph's Postgres saver, the SDK).
# Imports stay as they are.
INFRASTRUCTURE_PREFIXES: tuple[str, ...] = (
    "langgraph.store",
    "langgraph.cache",
    "langgraph.prebuilt",
    "langgraph.checkpoint.base",
    "langgraph.checkpoint.postgres",
    "langgraph.checkpoint.sqlite.aio",
    "langgraph_sdk",
    "langgraph.stream",
    "tests",
)

# LangGraph internals. Imports stay pointing at langgraph (so the module still imports) and
# every test that uses a name imported from them is out of scope (see ``excluded_tests``).
INTERNAL_PREFIXES: dict[str, str] = {
    "langgraph.pregel": "the Pregel engine used directly (Pregel, NodeBuilder, loops, runners)",
    "langgraph.channels": "channel internals",
    "langgraph.checkpoint.serde": "checkpoint serializer internals",
    "langgraph._internal": "private modules",
}

# Whole files of internals, by name pattern.
FILE_RULES: tuple[tuple[str, str], ...] = (
    ("test_algo.py", "Pregel algorithm internals"),
    ("test_channels.py", "channel internals"),
    ("test_delta_channel_*.py", "DeltaChannel internals"),
    ("test_runner_*.py", "Pregel runner internals"),
    ("test_pregel_debug.py", "debug-event mapper internals"),
    ("test_serde_*.py", "checkpoint serializer internals"),
    ("test_*migration*.py", "migrations of LangGraph's own checkpoint formats"),
    ("test_prune_*.py", "Postgres saver internals"),
    ("test_remote_graph*.py", "RemoteGraph, the LangGraph server client"),
    ("test_*benchmark*.py", "benchmarks"),
    ("test_utils.py", "private utilities"),
)


def module_is_internal(module: str) -> str | None:
    """Why ``module`` counts as a LangGraph internal, or None when it is public."""
    if not module.startswith("langgraph"):
        return None
    if any(part.startswith("_") for part in module.split(".")):
        return "private modules"
    for prefix, reason in INTERNAL_PREFIXES.items():
        if module == prefix or module.startswith(prefix + "."):
            return reason
    return None


def module_is_infrastructure(
    module: str, prefixes: tuple[str, ...] = INFRASTRUCTURE_PREFIXES
) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rules:
    """How one suite's imports are ported: the module map and the infrastructure kept."""

    module_map: Mapping[str, tuple[str, ...]]
    infrastructure: tuple[str, ...]


LANGGRAPH = Rules(MODULE_MAP, INFRASTRUCTURE_PREFIXES)

# langgraph-prebuilt's public modules: every public name of them is offered by
# streamtap.graph.prebuilt (its private ones, ``_tool_call_stream``..., are internals).
PREBUILT_MODULES: tuple[str, ...] = (
    "langgraph.prebuilt",
    "langgraph.prebuilt.chat_agent_executor",
    "langgraph.prebuilt.interrupt",
    "langgraph.prebuilt.tool_node",
    "langgraph.prebuilt.tool_validator",
)
PREBUILT = Rules(
    {**MODULE_MAP, **{m: ("streamtap.graph.prebuilt",) for m in PREBUILT_MODULES}},
    # LangGraph's warning classes: what langgraph.prebuilt's own code (which
    # streamtap.graph.prebuilt wraps) warns with
    (*(p for p in INFRASTRUCTURE_PREFIXES if p != "langgraph.prebuilt"), "langgraph.warnings"),
)


def file_rule(filename: str) -> str | None:
    """The reason a whole test file is out of scope, or None."""
    for pattern, reason in FILE_RULES:
        if fnmatch.fnmatchcase(filename, pattern):
            return reason
    return None


# --- the rewriter -------------------------------------------------------------------------
# resolve(streamtap_module, name) -> True when that module has that name.
Resolver = Callable[[str, str], bool]
SUPPORT_MODULE = "_conformance_support"


def target_for(module: str, name: str, resolve: Resolver, rules: Rules = LANGGRAPH) -> str | None:
    """The streamtap module to import ``name`` from, or None when streamtap lacks it."""
    for candidate in rules.module_map.get(module, ()):
        if resolve(candidate, name):
            return candidate
    return None


def _ported(node: ast.ImportFrom, resolve: Resolver, rules: Rules) -> list[str] | None:
    """The statements replacing one ``from langgraph... import ...``, or None to keep it."""
    module = node.module or ""
    if node.level or module not in rules.module_map:
        return None
    if module_is_internal(module) or module_is_infrastructure(module, rules.infrastructure):
        return None
    home = rules.module_map[module][0]
    out: list[str] = []
    for alias in node.names:
        bound = alias.asname or alias.name
        if alias.name == "*":
            out.append(f"from {home} import *")
            continue
        if alias.name.startswith("_"):  # a private name of a public module: keep LangGraph's
            out.append(f"from {module} import {alias.name} as {bound}")
            continue
        target = target_for(module, alias.name, resolve, rules)
        if target is None:
            where = "" if home == "streamtap.graph" else f", {home!r}"
            out.append(
                f"from {SUPPORT_MODULE} import missing as _m; "
                f"{bound} = _m({module!r}, {alias.name!r}{where}); del _m"
            )
        elif bound == alias.name:
            out.append(f"from {target} import {alias.name}")
        else:
            out.append(f"from {target} import {alias.name} as {bound}")
    return out


def rewrite_source(source: str, resolve: Resolver, rules: Rules = LANGGRAPH) -> str:
    """Rewrite the public LangGraph imports of a test module to streamtap's.

    Line numbers are kept (a multi-line import becomes one line plus blank lines), so
    tracebacks of the rewritten tests point at the same lines as LangGraph's.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        ported = _ported(node, resolve, rules)
        if ported is None:
            continue
        start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        indent = lines[start][: node.col_offset]
        text = indent + "; ".join(ported) + "\n" + "\n" * (end - start)
        edits.append((start, end, text))
    for start, end, text in sorted(edits, reverse=True):
        lines[start : end + 1] = [text]
    return "".join(lines)


# --- scope: which tests use LangGraph internals ------------------------------------------
@dataclass(frozen=True)
class Exclusion:
    test: str  # "test_fn" or "TestClass::test_fn"
    reason: str


def _internal_imports(tree: ast.Module) -> dict[str, str]:
    """Names bound anywhere in the module by imports of internals -> why they are internal."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("langgraph"):
            module = node.module or ""
            why = module_is_internal(module)
            for alias in node.names:
                reason = why or ("private names" if alias.name.startswith("_") else None)
                if reason:
                    found[alias.asname or alias.name] = f"{reason} ({module}.{alias.name})"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                why = module_is_internal(alias.name)
                if why:
                    found[(alias.asname or alias.name).split(".")[0]] = f"{why} ({alias.name})"
    return found


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def _tainted(tree: ast.Module, internal: dict[str, str]) -> dict[str, str]:
    """Internal names plus the module-level helpers that use them (to a fixpoint)."""
    tainted = dict(internal)
    helpers = [
        (name, stmt)
        for stmt in tree.body
        for name in _defined_names(stmt)
        if not name.startswith("test_") and not name.startswith("Test")
    ]
    changed = True
    while changed:
        changed = False
        for name, stmt in helpers:
            if name in tainted:
                continue
            hit = sorted(_names_used(stmt) & tainted.keys())
            if hit:
                tainted[name] = tainted[hit[0]]
                changed = True
    return tainted


def _tests(tree: ast.Module) -> Iterable[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name.startswith(
            "test"
        ):
            yield stmt.name, stmt
        elif isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test"):
            for item in stmt.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    yield f"{stmt.name}::{item.name}", item


def excluded_tests(source: str) -> list[Exclusion]:
    """Tests that use a LangGraph internal: directly, through a module-level helper or
    fixture of the same file that does, or (for a method) through its class."""
    tree = ast.parse(source)
    tainted = _tainted(tree, _internal_imports(tree))
    if not tainted:
        return []
    out: list[Exclusion] = []
    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    for test, fn in _tests(tree):
        used = _names_used(fn) | {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        # importing an internal in the test is using it (its import-time warning, say)
        used |= _internal_imports(ast.Module(body=[fn], type_ignores=[])).keys()
        if "::" in test:  # the class's own helpers, not its other tests
            cls = classes[test.split("::")[0]]
            for item in cls.body:
                if not (_defined_names(item) and _defined_names(item)[0].startswith("test")):
                    used |= _names_used(item)
        hit = sorted(used & tainted.keys())
        if hit:
            out.append(Exclusion(test, f"uses LangGraph internals: {tainted[hit[0]]}"))
    return out


def count_tests(source: str) -> int:
    return sum(1 for _ in _tests(ast.parse(source)))
