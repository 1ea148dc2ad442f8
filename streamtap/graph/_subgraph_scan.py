"""Which graph a node runs, found as LangGraph 1.2 finds it (``find_subgraph_pregel``).

The node's graph decides where its checkpoints live and which namespaces
``get_state`` / ``update_state`` / ``get_subgraphs`` / ``get_graph(xray=)``
reach, so the answer has to be LangGraph's for every shape, not a better one:
the node itself if it is a graph, a sequence's steps, a lambda's dependencies,
and for a function, the values its bytecode reaches from outside its scope.
"""

from __future__ import annotations

import dis
import inspect
from types import CodeType, FunctionType
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnableSequence

__all__ = ["find_subgraph", "function_nonlocals"]

# Values the bytecode walk never looks into: a container may hold a graph, but
# LangGraph does not look inside one. Matched by exact type (a subclass can
# carry attributes).
_LEAF_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, bytearray, list, tuple, dict, set, frozenset}
    | {type(None)}
)


def function_nonlocals(func: Any) -> list[Any]:
    """LangGraph's ``get_function_nonlocals``: every captured cell value, plus the
    globals a function names and each value along an attribute path it loads
    (nested defs included). Over-approximates, as LangGraph does."""
    func = getattr(func, "__func__", func)  # bound method -> function
    wrapped = getattr(func, "__wrapped__", None)
    if callable(wrapped):
        func = getattr(wrapped, "__func__", wrapped)
    if not isinstance(func, FunctionType):
        return []
    code = func.__code__
    cells: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:
            continue  # an empty cell: a recursive def not bound yet
    values: list[Any] = list(cells.values())
    global_ns = func.__globals__
    globals_ = {name: global_ns[name] for name in code.co_names if name in global_ns}
    if all(type(v) in _LEAF_TYPES for v in (*cells.values(), *globals_.values())):
        return values
    codes = [code]
    for c in codes:
        codes.extend(k for k in c.co_consts if isinstance(k, CodeType))
        value: Any = None
        for instruction in dis.get_instructions(c):
            opname = instruction.opname
            if opname == "LOAD_GLOBAL":
                value = globals_.get(instruction.argval)
            elif opname == "LOAD_DEREF":
                value = cells.get(instruction.argval)
            elif opname in ("LOAD_ATTR", "LOAD_METHOD"):
                value = getattr(value, instruction.argval, None)
            else:
                value = None  # anything else ends the chain: `a, b.c` is not `a.c`
                continue
            if value is not None:
                values.append(value)
    return values


def find_subgraph(action: Any) -> Any:
    """The compiled graph ``action`` runs (a graph compiled with ``checkpointer=False``
    does not count), or None.

    A plain function is what LangGraph wraps in a ``RunnableCallable`` (its nonlocals
    are scanned), a generator function what it wraps in a ``RunnableLambda`` (its
    ``deps``); functions found along the way are not scanned again.
    """
    from streamtap.graph.compiled import CompiledStateGraph

    if inspect.isgeneratorfunction(action) or inspect.isasyncgenfunction(action):
        action = RunnableLambda(action)
    candidates: list[Any] = [action]
    for i, c in enumerate(candidates):
        if isinstance(c, CompiledStateGraph):
            if c.checkpointer is not False:
                return c
        elif isinstance(c, RunnableSequence):
            candidates.extend(c.steps)
        elif isinstance(c, RunnableLambda):
            candidates.extend(c.deps)
        elif i == 0 and callable(c) and not isinstance(c, Runnable | type):
            candidates.extend(getattr(v, "__self__", v) for v in function_nonlocals(c))
    return None
