"""What ``compile()`` freezes: a graph's nodes, state channels and wiring.

The step loop and the graph algorithm read a graph through this class only, so
they import nothing above them; ``CompiledStateGraph`` is a ``GraphSpec`` that
also speaks ``Runnable``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from streamtap.graph._channels import Barrier, Channel, Ephemeral, Tasks
from streamtap.graph._channels_deferred import AfterFinish, BarrierAfterFinish
from streamtap.graph._constants import BRANCH_PREFIX, START, TASKS
from streamtap.graph._node import BranchSpec, NodeSpec


class GraphSpec:
    """A compiled graph's structure; its attributes are read, never changed, while it runs."""

    def __init__(
        self,
        *,
        builder: Any,
        nodes: dict[str, NodeSpec],
        channels: dict[str, Channel],
        state_keys: tuple[str, ...],
        input_keys: tuple[str, ...],
        output_keys: tuple[str, ...],
        edges_from: dict[str, list[str]],
        joins: dict[str, tuple[frozenset[str], str]],
        joins_from: dict[str, list[str]],
        branches: dict[str, list[BranchSpec]],
        triggers: dict[str, tuple[str, ...]],
        checkpointer: BaseCheckpointSaver[Any] | bool | None,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        name: str,
        state_mapper: Callable[[dict[str, Any]], Any] | None,
        output_mapper: Callable[[dict[str, Any]], Any] | None,
        debug: bool = False,
        trust_checkpoints: bool = False,
        checkpoint_types: frozenset[type] = frozenset(),
        store: Any = None,
        context_schema: type[Any] | None = None,
        cache: Any = None,
    ) -> None:
        self.builder = builder  # the StateGraph this was compiled from
        self.nodes = nodes
        # LangGraph's channels, by LangGraph's names: the state keys, then what
        # triggers nodes (the input, one branch channel per node, joins, Sends)
        self.channels: dict[str, Channel] = {
            **channels,
            START: Ephemeral(START, guard=True),
            **{
                BRANCH_PREFIX + n: AfterFinish(BRANCH_PREFIX + n)
                if spec.defer
                else Ephemeral(BRANCH_PREFIX + n, guard=False)
                for n, spec in nodes.items()
            },
            **{
                chan: BarrierAfterFinish(chan, sources)
                if nodes[end].defer
                else Barrier(chan, sources)
                for chan, (sources, end) in joins.items()
            },
            TASKS: Tasks(TASKS),
        }
        self.state_keys = state_keys
        #: what ``stream()`` streams and ``get_state`` shows by default (LangGraph's
        #: ``stream_channels``): the state; an entrypoint's return value alone
        self.stream_keys = state_keys
        self.state_key_set = frozenset(state_keys)
        self.input_keys = input_keys
        self.input_key_set = frozenset(input_keys)
        self.output_keys = output_keys
        self.output_key_set = frozenset(output_keys)
        self.edges_from = edges_from
        self.joins = joins
        self.joins_from = joins_from
        self.branches = branches
        self.triggers = {START: (START,), **triggers}
        trigger_to_nodes: dict[str, list[str]] = {}
        for node, chans in self.triggers.items():
            for chan in chans:
                trigger_to_nodes.setdefault(chan, []).append(node)
        self.trigger_to_nodes = trigger_to_nodes
        self.checkpointer = checkpointer
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.name: str | None = name  # str | None as on Runnable
        self.state_mapper = state_mapper
        self.output_mapper = output_mapper
        self.debug = debug
        self.trust_checkpoints = trust_checkpoints
        self.checkpoint_types = checkpoint_types  # what a saver must be able to load
        self.store = store  # a langgraph BaseStore, handed to nodes through their Runtime
        self.context_schema = context_schema  # what invoke(context=...) is coerced to
        self.order = [START, *nodes]
        self.cache = cache  # a langgraph BaseCache: compile(cache=...), for CachePolicy nodes
        #: a step's time limit (LangGraph's ``graph.step_timeout = s``), set after compile
        self.step_timeout: float | None = None
        #: an entrypoint's (``func``): what its one node's return value writes, instead of
        #: state updates
        self.return_writes: Callable[[Any], list[tuple[str, Any]]] | None = None
        #: the retry policy of ``@task`` calls that name none (an entrypoint's own)
        self.task_retry_policy: Any = None
        self.task_cache_policy: Any = None  # and cache policy
        #: node -> the error handler node it hands its failure to
        self.error_handlers: dict[str, str] = {
            n: s.error_handler_node
            for n, s in nodes.items()
            if s.error_handler_node is not None and not s.is_error_handler
        }
