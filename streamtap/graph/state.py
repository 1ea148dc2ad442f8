"""``StateGraph``: declare nodes and edges, then ``compile()`` into a runnable graph."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Self

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from streamtap.graph._channels import Managed
from streamtap.graph._constants import BRANCH_PREFIX, END, START
from streamtap.graph._deprecations import graph_schemas, node_input_schema
from streamtap.graph._node import Action, BranchSpec, NodeSpec, path_map_for
from streamtap.graph._node_defaults import (
    ERROR_HANDLER_PREFIX,
    NodeDefaults,
    check_timeouts,
    with_defaults,
)
from streamtap.graph._policies import CachePolicy, RetryPolicy, TimeoutPolicy, TracePolicy
from streamtap.graph._schema import SchemaSet, branch_input_schema, node_annotations, pick_mapper
from streamtap.graph._subgraph_scan import find_subgraph as _find_subgraph
from streamtap.graph._typing import ContextT, InputT, OutputT, StateT
from streamtap.graph.checkpoint.serde import harden, types_in_schemas
from streamtap.graph.compiled import CompiledStateGraph
from streamtap.graph.warnings import LangGraphDeprecatedSinceV05

if TYPE_CHECKING:
    from langgraph.cache.base import BaseCache

__all__ = ["CompiledStateGraph", "StateGraph"]

_RESERVED = frozenset((START, END))


def _name_of(action: Any) -> str:
    if isinstance(action, Runnable):
        return action.get_name()
    # a callable object without __name__ is named after its class (LangGraph's rule)
    name = getattr(action, "__name__", type(action).__name__)
    if not name or name == "<lambda>":
        raise ValueError("Cannot infer a node name from this callable: use add_node(name, action)")
    return str(name)


def find_subgraph(action: Any) -> CompiledStateGraph | None:
    """The compiled graph a node runs, as LangGraph finds it (``_subgraph_scan``), so that
    ``get_state(subgraphs=True)``, namespaced state calls and ``get_subgraphs`` reach it."""
    found: CompiledStateGraph | None = _find_subgraph(action)
    return found


class StateGraph(Generic[StateT, ContextT, InputT, OutputT]):
    """A graph whose nodes read and update a shared, typed state.

    ``state_schema`` is a TypedDict, dataclass or pydantic model; annotate a key
    with a reducer (``Annotated[list, operator.add]``) to let several nodes of a
    step write it. Any other type (``list[str]``, ``Annotated[list, operator.add]``)
    makes the state one bare value. The input and output schemas, and the schemas
    nodes and routers are typed with, add their keys to the state (LangGraph's rule).
    """

    def __init__(
        self,
        state_schema: type[Any],
        context_schema: type[Any] | None = None,
        *,
        input_schema: type[Any] | None = None,
        output_schema: type[Any] | None = None,
        **deprecated: Any,
    ) -> None:
        context_schema, input_schema, output_schema = graph_schemas(
            deprecated, context_schema, input_schema, output_schema
        )
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.input_schema = input_schema or state_schema
        self.output_schema = output_schema or state_schema
        self._schemas = SchemaSet()  # a bad reducer fails here, where the schema is named
        for schema in (state_schema, self.input_schema, self.output_schema):
            self._schemas.add(schema)
        #: LangGraph's names: each schema's keys, and the channels of them all
        self.schemas = self._schemas.schemas
        self.channels = self._schemas.channels
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.waiting_edges: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, list[BranchSpec]] = {}
        self.compiled = False
        self._node_defaults = NodeDefaults()  # set_node_defaults()

    @property
    def managed(self) -> dict[str, Any]:
        """The managed-value keys (``RemainingSteps``...) and their managers (LangGraph's)."""
        return {k: c.manager for k, c in self.channels.items() if isinstance(c, Managed)}

    # -- nodes

    def add_node(
        self,
        node: str | Callable[..., Any] | Runnable[Any, Any],
        action: Callable[..., Any] | Runnable[Any, Any] | None = None,
        *,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        input_schema: type[Any] | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy[Any] | None = None,
        error_handler: Callable[..., Any] | Runnable[Any, Any] | None = None,
        destinations: dict[str, str] | tuple[str, ...] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
        trace_policy: TracePolicy | None = None,
        retry: RetryPolicy | Sequence[RetryPolicy] | None = None,
        **deprecated: Any,
    ) -> Self:
        """Add ``action`` (sync or async function, Runnable, or compiled graph) as a node.

        The function takes the state and may also declare ``config`` and/or
        ``writer`` parameters; it returns a partial state dict, ``None``, a
        ``Command`` or a list of those. ``retry_policy``, ``cache_policy``,
        ``timeout`` and ``error_handler`` are LangGraph's node policies (``_policies``);
        ``trace_policy`` processes what tracers record of the node's runs (``_trace``).
        """
        if retry is not None:
            warnings.warn(
                LangGraphDeprecatedSinceV05(
                    "`retry` is deprecated and will be removed. Please use `retry_policy` instead."
                ),
                stacklevel=2,
            )
            retry_policy = retry_policy if retry_policy is not None else retry
        input_schema = node_input_schema(deprecated, input_schema)
        timeout = TimeoutPolicy.coerce(timeout)
        if not isinstance(node, str):
            action, name = node, _name_of(node)
        else:
            name = node
            if action is None:
                raise ValueError(f"add_node({name!r}) needs an action (a function or Runnable)")
        if name in self.nodes:
            raise ValueError(f"Node `{name}` already present.")
        if name in _RESERVED:
            raise ValueError(f"Node `{name}` is reserved.")
        for ch in ("|", ":"):
            if ch in name:
                raise ValueError(
                    f"'{ch}' is a reserved character and is not allowed in node names."
                )
        inferred, returns_to = node_annotations(action)  # (s: Private) -> Command[Literal[..]]
        schema = input_schema or inferred or self.state_schema
        self._schemas.add(schema)
        keys = self._schemas.keys(schema)
        ends: tuple[str, ...] | dict[str, str] | None = returns_to or None
        if destinations is not None:  # a dict's values label the drawn edges
            ends = dict(destinations) if isinstance(destinations, dict) else tuple(destinations)
        handler_name = None
        if error_handler is not None:  # a node of its own, as LangGraph adds it (before)
            handler_name = f"{ERROR_HANDLER_PREFIX}{name}"
            if handler_name in self.nodes:
                raise ValueError(
                    f"Auto-generated error handler node `{handler_name}` already exists."
                )
            self.nodes[handler_name] = self._handler_spec(handler_name, error_handler, schema)
        self.nodes[name] = NodeSpec(
            name=name,
            action=Action(action, name),
            metadata=metadata,
            input_mapper=pick_mapper(keys, schema),
            input_keys=keys,
            input_schema=schema,
            is_subgraph=(subgraph := find_subgraph(action)) is not None,
            subgraph=subgraph,
            ends=ends,
            defer=defer,
            retry_policy=retry_policy,
            cache_policy=cache_policy,
            timeout=timeout,
            error_handler_node=handler_name,
            trace_policy=trace_policy,
        )
        return self

    def _handler_spec(self, name: str, handler: Any, schema: type[Any] | None = None) -> NodeSpec:
        """An error handler's node: it reads what the failed node read."""
        schema = schema or self.state_schema
        keys = self._schemas.keys(schema)
        return NodeSpec(
            name=name,
            action=Action(handler, name),
            input_mapper=pick_mapper(keys, schema),
            input_keys=keys,
            input_schema=schema,
            is_error_handler=True,
        )

    def set_node_defaults(
        self,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy[Any] | None = None,
        error_handler: Callable[..., Any] | Runnable[Any, Any] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> Self:
        """Policies for every node without its own, applied at ``compile()`` (LangGraph's
        scope rules: see ``_node_defaults``); not inherited by subgraphs."""
        defaults = self._node_defaults
        if retry_policy is not None:
            defaults.retry_policy = retry_policy
        if cache_policy is not None:
            defaults.cache_policy = cache_policy
        if error_handler is not None:
            defaults.error_handler = error_handler
        if timeout is not None:
            defaults.timeout = TimeoutPolicy.coerce(timeout)
        return self

    def add_edge(self, start_key: str | list[str], end_key: str) -> Self:
        """Run ``end_key`` after ``start_key`` (after ALL of them, for a list)."""
        if isinstance(start_key, str):
            if start_key == END:
                raise ValueError("END cannot be a start node")
            if end_key == START:
                raise ValueError("START cannot be an end node")
            self.edges.append((start_key, end_key))
            return self
        for start in start_key:
            if start == END:
                raise ValueError("END cannot be a start node")
        if end_key == START:
            raise ValueError("START cannot be an end node")
        self.waiting_edges.append((tuple(start_key), end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any] | Runnable[Any, Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> Self:
        """After ``source``, call ``path(state)`` to pick the next node(s), END or ``Send``s."""
        name = getattr(path, "__name__", None) or "condition"
        schema = branch_input_schema(path)
        if schema is not None:
            self._schemas.add(schema)
        self.branches.setdefault(source, []).append(
            BranchSpec(
                path=Action(path, name), path_map=path_map_for(path_map), input_schema=schema
            )
        )
        return self

    def add_sequence(
        self, nodes: Sequence[Callable[..., Any] | tuple[str, Callable[..., Any]]]
    ) -> Self:
        """Add nodes that run one after another, in order."""
        if not nodes:
            raise ValueError("Sequence requires at least one node.")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, fn = item
            else:
                name, fn = _name_of(item), item
            self.add_node(name, fn)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    def set_entry_point(self, key: str) -> Self:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> Self:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> Self:
        return self.add_edge(key, END)

    # -- compile

    def _branch_reader(self, source: str, branch: BranchSpec) -> BranchSpec:
        """``branch`` with what its router reads: its own schema's keys, else its node's,
        else the state's (LangGraph's ``attach_branch``)."""
        schema = branch.input_schema
        if schema is None:
            node = self.nodes.get(source)
            schema = node.input_schema if node is not None else self.state_schema
        keys = self._schemas.keys(schema)
        return replace(branch, input_keys=keys, input_mapper=pick_mapper(keys, schema))

    def validate(self, interrupt: Sequence[str] = ()) -> None:
        sources = {s for s, _ in self.edges} | {s for ss, _ in self.waiting_edges for s in ss}
        sources |= set(self.branches)
        for node, spec in self.nodes.items():
            if spec.ends:
                sources.add(node)
        for source in sources:
            if source != START and source not in self.nodes:
                raise ValueError(f"Found edge starting at unknown node '{source}'")
        if START not in sources:
            raise ValueError(
                "Graph must have an entrypoint: add at least one edge from START to another node"
            )
        targets = {e for _, e in self.edges} | {e for _, e in self.waiting_edges}
        for branch_list in self.branches.values():
            for branch in branch_list:
                if branch.path_map is not None:
                    targets.update(branch.path_map.values())
        for spec in self.nodes.values():
            targets.update(spec.ends or ())
        for target in targets:
            if target != END and target not in self.nodes:
                raise ValueError(f"Found edge ending at unknown node `{target}`")
        for name in interrupt:
            if name not in self.nodes:
                raise ValueError(f"Interrupt node `{name}` not found")

    def compile(
        self,
        checkpointer: BaseCheckpointSaver[Any] | bool | None = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        name: str | None = None,
        debug: bool = False,
        trust_checkpoints: bool = False,
        store: BaseStore | None = None,
        cache: BaseCache[Any] | None = None,
        transformers: Sequence[Callable[[tuple[str, ...]], Any]] | None = None,
    ) -> CompiledStateGraph:
        """Freeze the graph. ``checkpointer=None`` inherits the parent's when used as a subgraph.

        The saver gets streamtap's strict serializer (``checkpoint.serde.harden``),
        allowing the types the graph's schemas name: a tampered store must not run
        code on load. ``trust_checkpoints=True`` leaves the saver's serializer as it
        is, for stores only the application itself can write.
        """
        if checkpointer is not None and not isinstance(checkpointer, BaseCheckpointSaver | bool):
            raise TypeError(
                "Invalid checkpointer provided: pass a LangGraph checkpoint saver "
                "(InMemorySaver, SqliteSaver, PostgresSaver, ...), True, False or None, "
                f"not {type(checkpointer).__name__}"
            )
        checkpoint_types = frozenset(types_in_schemas(*self.schemas, self.context_schema))
        if isinstance(checkpointer, BaseCheckpointSaver) and not trust_checkpoints:
            harden(checkpointer, allow=checkpoint_types)
        self.validate(
            [n for n in (interrupt_before or ()) if n != "*"] if interrupt_before != "*" else []
        )
        if interrupt_after and interrupt_after != "*":
            self.validate(list(interrupt_after))
        joins: dict[str, tuple[frozenset[str], str]] = {}
        joins_from: dict[str, list[str]] = {}
        nodes = with_defaults(self.nodes, self._node_defaults, self._handler_spec)
        check_timeouts(nodes)
        triggers: dict[str, list[str]] = {n: [BRANCH_PREFIX + n] for n in nodes}
        for starts, end in self.waiting_edges:
            if end == END:
                continue
            chan = f"join:{'+'.join(starts)}:{end}"
            joins[chan] = (frozenset(starts), end)
            triggers[end].append(chan)
            for s in starts:
                joins_from.setdefault(s, []).append(chan)
        edges_from: dict[str, list[str]] = {}
        for start, end in self.edges:
            if end != END:
                edges_from.setdefault(start, []).append(end)
        self.compiled = True
        output_keys = self._schemas.keys(self.output_schema)
        compiled = CompiledStateGraph(
            builder=self,
            nodes=nodes,
            channels=dict(self.channels),
            state_keys=tuple(self.channels),
            input_keys=self._schemas.keys(self.input_schema),
            output_keys=output_keys,
            edges_from=edges_from,
            joins=joins,
            joins_from=joins_from,
            branches={k: [self._branch_reader(k, b) for b in v] for k, v in self.branches.items()},
            triggers={n: tuple(sorted(t)) for n, t in triggers.items()},
            checkpointer=checkpointer,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            name=name or "LangGraph",
            state_mapper=pick_mapper(tuple(self.channels), self.state_schema),
            output_mapper=pick_mapper(output_keys, self.output_schema),
            debug=debug,
            trust_checkpoints=trust_checkpoints,
            checkpoint_types=checkpoint_types,
            store=store,
            context_schema=self.context_schema,
            cache=cache,
        )
        compiled.stream_transformers = tuple(transformers or ())
        return compiled
