"""``get_graph()``: a compiled graph drawn as LangGraph draws it.

The result is langchain-core's ``Graph``, so ``draw_mermaid()``, ``draw_ascii()``
and ``to_json()`` come from the same code as LangGraph's; what has to match is
what goes in: the same nodes in the same order, with the same data and
metadata, and the edges LangGraph's dry run finds (``_draw_trace``).
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Mapping
from typing import Any, Literal, cast, get_args, get_origin, get_type_hints

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.graph import Graph, Node

from streamtap.graph._constants import BRANCH_PREFIX, END, START
from streamtap.graph._draw_trace import Wiring, trace
from streamtap.graph._node import Action, BranchSpec, NodeSpec
from streamtap.graph._spec import GraphSpec

__all__ = ["draw", "wiring_of"]

# The classes LangGraph's nodes are, as ``to_json()`` names them: a ported snapshot
# of a drawing compares these ids.
_CALLABLE_ID = ("langgraph", "_internal", "_runnable", "RunnableCallable")
_GRAPH_ID = ("langgraph", "graph", "state", "CompiledStateGraph")
_LAMBDA_ID = ("langchain_core", "runnables", "base", "RunnableLambda")


class DrawnNode(Runnable[Any, Any]):
    """A drawn node's data: what the node runs, under the name of the class LangGraph
    would run it with (``to_json()`` reads ``__module__`` / ``__name__``)."""

    def __init__(self, name: str, lc_id: tuple[str, ...], bound: Any) -> None:
        self.name = name
        self.bound = bound
        self.__module__ = ".".join(lc_id[:-1])
        self.__name__ = lc_id[-1]

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        if isinstance(self.bound, Runnable):
            return self.bound.invoke(input, config, **kwargs)
        return self.bound(input)


def _node_data(name: str, action: Action | None) -> Runnable[Any, Any]:
    """The data LangGraph's drawing carries for a node: the node's own Runnable, or
    what LangGraph wraps a function in."""
    if action is None:  # START: LangGraph's passthrough
        return DrawnNode(name, _CALLABLE_ID, None)
    if action.runnable is not None:
        if isinstance(action.runnable, GraphSpec):  # only compiled graphs are specs
            return DrawnNode(name, _GRAPH_ID, action.runnable)
        return action.runnable
    fn = action.fn
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return DrawnNode(name, _LAMBDA_ID, fn)
    return DrawnNode(name, _CALLABLE_ID, fn)


def _channel(dest: str) -> str:
    return dest if dest == END else BRANCH_PREFIX + dest


def _ends_statics(ends: Any) -> list[tuple[str, str | None]]:
    """A node's declared destinations (``destinations=`` / ``Command[Literal[...]]``)."""
    if ends is None:
        return []
    if isinstance(ends, Mapping):
        return [(_channel(k), label) for k, label in ends.items()]
    return [(_channel(e), None) for e in ends]


def _literal_map(path: Action) -> dict[Hashable, str] | None:
    """The path map LangGraph reads off a router's ``Literal[...]`` return annotation."""
    func: Any = None
    if path.runnable is None:
        func = path.fn
    elif isinstance(path.runnable, RunnableLambda):
        func = getattr(path.runnable, "func", None) or getattr(path.runnable, "afunc", None)
    if func is None:
        return None
    try:
        returns = get_type_hints(func).get("return")
    except Exception:  # LangGraph ignores annotations it cannot read
        return None
    if returns is not None and get_origin(returns) is Literal:
        return {name: name for name in get_args(returns)}
    return None


def _branch_statics(branch: BranchSpec) -> list[tuple[str, str | None]]:
    ends = branch.path_map if branch.path_map is not None else _literal_map(branch.path)
    if not ends:
        return []
    return [(_channel(dest), str(label)) for label, dest in ends.items()]


def wiring_of(graph: GraphSpec) -> Wiring:
    """``graph``'s trigger channels and node writers, named as LangGraph names them."""
    order = [START, *graph.nodes]
    writes: dict[str, list[tuple[str, Any]]] = {}
    statics: dict[str, list[tuple[str, str | None]]] = {}
    for name in order:
        spec = graph.nodes.get(name)
        writes[name] = [(BRANCH_PREFIX + e, None) for e in graph.edges_from.get(name, ())]
        writes[name] += [(chan, name) for chan in graph.joins_from.get(name, ())]
        statics[name] = _ends_statics(spec.ends if spec is not None else None)
        for branch in graph.branches.get(name, ()):
            statics[name] += _branch_statics(branch)
    return Wiring(
        order=order,
        triggers={n: graph.triggers[n] for n in order},
        writes=writes,
        statics=statics,
        barriers={chan: sources for chan, (sources, _) in graph.joins.items()},
        after_finish=frozenset(
            [BRANCH_PREFIX + n for n, spec in graph.nodes.items() if spec.defer]
            + [chan for chan, (_, end) in graph.joins.items() if graph.nodes[end].defer]
        ),
    )


def _metadata(name: str, spec: NodeSpec | None, graph: GraphSpec) -> dict[str, Any] | None:
    metadata = dict((spec.metadata if spec is not None else None) or {})
    if spec is not None and spec.defer:
        metadata["defer"] = True
    before = graph.interrupt_before or []
    after = graph.interrupt_after or []
    if name in before and name in after:
        metadata["__interrupt"] = "before,after"
    elif name in before:
        metadata["__interrupt"] = "before"
    elif name in after:
        metadata["__interrupt"] = "after"
    tools = getattr(spec.action.runnable, "tools_by_name", None) if spec is not None else None
    if isinstance(tools, Mapping) and tools:
        metadata["__tools"] = list(tools)
    return metadata or None


def draw(graph: GraphSpec, subgraphs: Mapping[str, Graph]) -> Graph:
    """LangGraph's ``draw_graph``: nodes, the dry run's edges, END edges, then each
    of ``subgraphs`` (already drawn) in place of its node."""
    found = trace(wiring_of(graph))
    drawn = Graph()
    drawn.add_node(_node_data(START, None), START, metadata=_metadata(START, None, graph))
    for name, spec in graph.nodes.items():
        drawn.add_node(_node_data(name, spec.action), name, metadata=_metadata(name, spec, graph))
    for src, dest, is_conditional, label in sorted(found.edges):  # type: ignore[type-var]
        _add_edge(
            drawn, src, dest, data=label if label != dest else None, conditional=is_conditional
        )
    termini = {d for _, d, _, _ in found.edges if d != END}.difference(
        s for s, _, _, _ in found.edges
    )
    end_edge_exists = any(d == END for _, d, _, _ in found.edges)
    if termini:
        for src in sorted(termini):
            _add_edge(drawn, src, END)
    elif len(found.last_step) == 1 and not end_edge_exists:
        for src in sorted(found.last_step):
            _add_edge(drawn, src, END, conditional=True)
    for name, subgraph in subgraphs.items():
        _replace(drawn, name, subgraph)
    return drawn


def _replace(drawn: Graph, name: str, subgraph: Graph) -> None:
    """Put ``subgraph``'s inside (its START and END trimmed) where node ``name`` was."""
    if not (
        len(subgraph.nodes) > 1
        and name in drawn.nodes
        and subgraph.first_node()
        and subgraph.last_node()
    ):
        return
    subgraph.trim_first_node()
    subgraph.trim_last_node()
    drawn.nodes.pop(name)
    first, last = drawn.extend(subgraph, prefix=name)
    for idx, edge in enumerate(drawn.edges):
        if edge.source == name:
            edge = edge.copy(source=cast(Node, last).id)
        if edge.target == name:
            edge = edge.copy(target=cast(Node, first).id)
        drawn.edges[idx] = edge


def _add_edge(
    drawn: Graph, source: str, target: str, *, data: Any = None, conditional: bool = False
) -> None:
    for edge in drawn.edges:
        if edge.source == source and edge.target == target:
            return
    if target not in drawn.nodes and target == END:
        drawn.add_node(None, END)
    drawn.add_edge(drawn.nodes[source], drawn.nodes[target], data, conditional)
