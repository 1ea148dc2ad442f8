"""Every public name of LangGraph's public modules, and where streamtap.graph offers it.

``python conformance/public_names.py`` writes ``conformance/public_names.json`` from the
installed (locked) ``langgraph``; the docs' "Porting from LangGraph" page renders it, and
``tests/test_public_names.py`` fails when the file is stale. A name counts as offered when
the streamtap module a ported import goes to (``conformance/rewrite.py``'s map) has it.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "conformance" / "public_names.json"

if __package__ in (None, ""):  # run as a script: the checkout is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.rewrite import MODULE_MAP  # noqa: E402

#: LangGraph's public modules -> where a port imports their names from (first that has it):
#: the conformance rewrite's map, plus langgraph-prebuilt's package
_PUBLIC = (
    "langgraph.graph",
    "langgraph.graph.message",
    "langgraph.types",
    "langgraph.func",
    "langgraph.runtime",
    "langgraph.config",
    "langgraph.errors",
    "langgraph.constants",
    "langgraph.warnings",
    "langgraph.managed",
    "langgraph.callbacks",
    "langgraph.checkpoint.memory",
)
MODULES: dict[str, tuple[str, ...]] = {
    **{module: MODULE_MAP[module] for module in _PUBLIC},
    "langgraph.prebuilt": ("streamtap.graph.prebuilt",),
}


class _State(TypedDict):
    x: int


def _public(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:  # the names the module itself defines (plus aliases of them)
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        ]
    return sorted(set(names))


def _has(targets: tuple[str, ...], name: str) -> str | None:
    for target in targets:
        try:
            mod = importlib.import_module(target)
        except ImportError:
            continue
        if hasattr(mod, name):
            return target
    return None


def _members(obj: Any) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def _instances(package: str) -> dict[str, Any]:
    """A builder and its compiled graph: their methods and attributes a port uses."""
    graph = importlib.import_module(package)
    builder = graph.StateGraph(_State).add_node("n", lambda s: s).add_edge(graph.START, "n")
    return {"StateGraph": builder, "CompiledStateGraph": builder.compile()}


def collect() -> dict[str, Any]:
    import langgraph.version

    modules = {}
    for module, targets in MODULES.items():
        names = _public(importlib.import_module(module))
        modules[module] = {name: _has(targets, name) for name in names}
    theirs, ours = _instances("langgraph.graph"), _instances("streamtap.graph")
    classes = {}
    for cls_name, obj in theirs.items():
        have = _members(ours[cls_name])
        classes[cls_name] = {n: n in have for n in sorted(_members(obj))}
    return {"langgraph": langgraph.version.__version__, "modules": modules, "classes": classes}


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render(collect())
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run python conformance/public_names.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
