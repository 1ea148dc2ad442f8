"""A compiled graph's introspection: its subgraphs, its drawing, copies of it.

Kept out of ``compiled.py`` (which runs graphs); these read a compiled graph's
structure and never run a node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Self, TypeVar, cast

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.graph import Graph

from streamtap.graph._config import merge_configs
from streamtap.graph._constants import NS_SEP
from streamtap.graph._drawing import draw
from streamtap.graph._json_schema import json_schema
from streamtap.graph._spec import GraphSpec

__all__ = ["Introspection", "copy_graph", "subgraphs_of"]

G = TypeVar("G")


def subgraphs_of(
    graph: GraphSpec, namespace: str | None, recurse: bool
) -> Iterator[tuple[str, Any]]:
    """LangGraph's ``get_subgraphs``: (namespace, subgraph) for each node that runs a
    graph, in node order; ``namespace`` keeps the one at that exact path (whole
    segments: ``a`` does not match ``ab``), which is nested only with ``recurse``."""
    for name, spec in graph.nodes.items():
        if namespace is not None and namespace != name and not namespace.startswith(name + NS_SEP):
            continue
        sub = spec.subgraph
        if sub is None:
            continue
        if name == namespace:
            yield name, sub
            return
        if namespace is None:
            yield name, sub
        if recurse and isinstance(sub, GraphSpec):  # a compiled graph
            child = None if namespace is None else namespace[len(name) + 1 :]
            for ns, found in subgraphs_of(sub, child, recurse):
                yield f"{name}{NS_SEP}{ns}", found


async def asubgraphs_of(
    graph: GraphSpec, namespace: str | None, recurse: bool
) -> AsyncIterator[tuple[str, Any]]:
    for item in subgraphs_of(graph, namespace, recurse):
        yield item


def _deeper(xray: int | bool) -> int | bool:
    """The ``xray`` a subgraph is drawn with: ``True`` all the way down, a number one less."""
    return xray if isinstance(xray, bool) or xray <= 0 else xray - 1


def get_graph(graph: GraphSpec, config: RunnableConfig | None, xray: int | bool) -> Graph:
    subgraphs = (
        {
            name: sub.get_graph(config, xray=_deeper(xray))
            for name, sub in subgraphs_of(graph, None, False)
        }
        if xray
        else {}
    )
    return draw(graph, subgraphs)


async def aget_graph(graph: GraphSpec, config: RunnableConfig | None, xray: int | bool) -> Graph:
    subgraphs: dict[str, Graph] = {}
    if xray:
        for name, sub in subgraphs_of(graph, None, False):
            subgraphs[name] = await sub.aget_graph(config, xray=_deeper(xray))
    return draw(graph, subgraphs)


def copy_graph(graph: G, update: dict[str, Any] | None) -> G:
    """LangGraph's ``copy``: a new graph with the same attributes, ``update`` replacing some.

    An unknown attribute is refused as LangGraph's constructor refuses it.
    """
    attrs = {k: v for k, v in vars(graph).items() if k != "__orig_class__"}
    for key in update or {}:
        if key not in attrs and key != "config":
            raise TypeError(
                f"{type(graph).__name__}.__init__() got an unexpected keyword argument {key!r}"
            )
    new = object.__new__(type(graph))
    vars(new).update(attrs)
    vars(new).update(update or {})
    return new


def with_config(graph: G, config: RunnableConfig | None, kwargs: dict[str, Any]) -> G:
    """LangGraph's ``with_config``: a copy of the graph whose runs merge ``config`` in."""
    bound = getattr(graph, "config", None)
    return copy_graph(graph, {"config": merge_configs(bound, config, kwargs)})  # type: ignore[arg-type]


class Introspection:
    """LangGraph's introspection methods, mixed into ``CompiledStateGraph`` (before
    ``Runnable``, whose ``get_graph`` / ``with_config`` they replace)."""

    #: the config every run merges in (``with_config``), as LangGraph's ``Pregel.config``
    config: RunnableConfig | None = None

    def _compiled(self) -> GraphSpec:
        """This graph (``CompiledStateGraph`` is a ``GraphSpec``; named by its base, which
        this module can import without a cycle)."""
        return cast(GraphSpec, self)

    def get_graph(self, config: RunnableConfig | None = None, *, xray: int | bool = False) -> Graph:
        """The graph drawn as LangGraph draws it; ``xray`` draws subgraphs inside (a
        number: that many levels down)."""
        return get_graph(self._compiled(), config, xray)

    async def aget_graph(
        self, config: RunnableConfig | None = None, *, xray: int | bool = False
    ) -> Graph:
        return await aget_graph(self._compiled(), config, xray)

    def get_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False
    ) -> Iterator[tuple[str, Any]]:
        """(namespace, subgraph) for the nodes that run a graph; ``recurse``: nested ones."""
        return subgraphs_of(self._compiled(), namespace, recurse)

    def aget_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False
    ) -> AsyncIterator[tuple[str, Any]]:
        return asubgraphs_of(self._compiled(), namespace, recurse)

    def get_input_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        builder = self._compiled().builder
        return json_schema(builder, builder.input_schema, self._name("Input"))

    def get_output_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        builder = self._compiled().builder
        return json_schema(builder, builder.output_schema, self._name("Output"))

    def _name(self, suffix: str) -> str:
        return cast("Runnable[Any, Any]", self).get_name(suffix)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Jupyter's view of the graph: its drawing (rendered by mermaid.ink, as LangGraph's)."""
        return {"text/plain": repr(self), "image/png": self.get_graph().draw_mermaid_png()}

    def copy(self, update: dict[str, Any] | None = None) -> Self:
        return copy_graph(self, update)

    def with_config(self, config: RunnableConfig | None = None, **kwargs: Any) -> Self:
        """A copy of this graph whose runs merge ``config`` (and ``kwargs``) in."""
        return with_config(self, config, kwargs)
