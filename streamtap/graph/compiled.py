"""The compiled graph: a langchain-core ``Runnable`` whose ``stream()`` speaks LangGraph.

It sets a stream up (config, callbacks, the stream queue, a step loop) and
hands it to the runner; parts get their public shape at this edge (``_io``).
``get_state`` reads checkpoints back through a step loop that only prepares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Generic, Literal, cast

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
)
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from pydantic import BaseModel

from streamtap._callbacks import achain_end, achain_start
from streamtap.graph._algo import branch_writes
from streamtap.graph._cache import ClearCache
from streamtap.graph._config import ensure_config
from streamtap.graph._constants import CONF, KEY_TASK, NS_SEP
from streamtap.graph._emit import task_states
from streamtap.graph._introspect import Introspection
from streamtap.graph._io import InvokeResult, StreamMode, modes_of, shaper
from streamtap.graph._loop import StepLoop
from streamtap.graph._params import call_options, check_call_kwargs
from streamtap.graph._pregel_compat import PregelCompat
from streamtap.graph._printing import printing_put
from streamtap.graph._runner import astream_steps, stream_steps
from streamtap.graph._runtime import StreamPart
from streamtap.graph._saving import Saves
from streamtap.graph._schema import run_output_keys
from streamtap.graph._schema_models import context_jsonschema, input_model, output_model
from streamtap.graph._spec import GraphSpec
from streamtap.graph._stream_handlers import attach_stream_handlers, ready_callbacks
from streamtap.graph._stream_queue import AsyncStreamQueue, SyncStreamQueue
from streamtap.graph._stream_v3 import StreamEventsV3
from streamtap.graph._typing import ContextT, InputT, OutputT, StateT
from streamtap.graph._update import Superstep
from streamtap.graph._writes import own_ns, recast_ns
from streamtap.graph.runtime import KEY_RUNTIME, RunControl, run_runtime
from streamtap.graph.types import PregelTask, StateSnapshot, StateUpdate

__all__ = ["CompiledStateGraph"]


#: stream() parameters invoke() passes through.
_STREAM_ONLY = frozenset(
    {"subgraphs", "interrupt_before", "interrupt_after", "durability", "context", "control"}
) | {"output_keys"}
_DURABILITY = (None, "sync", "async", "exit")


class CompiledStateGraph(
    Introspection,
    ClearCache,
    PregelCompat,
    StreamEventsV3,
    Runnable[Any, Any],
    GraphSpec,
    Generic[StateT, ContextT, InputT, OutputT],
):
    """A ready-to-run graph. Runnable (invoke/stream/batch/astream_events/with_config)
    and usable as a node of another graph."""

    stream_mode: StreamMode = "updates"

    # ------------------------------------------------------------------ streaming

    def _prepare(
        self,
        config: RunnableConfig | None,
        stream_mode: str | Sequence[str] | None,
        subgraphs: bool,
        version: str,
        context: Any,
        control: RunControl | None,
    ) -> tuple[RunnableConfig, frozenset[str], Callable[[StreamPart], Any]]:
        """The stream's config (with the run's :class:`Runtime`), its modes and the public
        shape of its parts."""
        config = ensure_config(self.config, config)
        if config.get("recursion_limit", 25) < 1:
            raise ValueError("recursion_limit must be at least 1")
        runtime = run_runtime(
            config,
            context_schema=self.context_schema,
            context=context,
            store=self.store,
            control=control,
        )
        config[CONF] = {**config[CONF], KEY_RUNTIME: runtime}
        if stream_mode is None:
            stream_mode = "values" if KEY_TASK in config[CONF] else self.stream_mode
        modes = modes_of(stream_mode)
        shape = shaper(stream_mode, subgraphs, version, self.output_mapper, self.state_mapper)
        return config, modes, shape

    def _callbacks(
        self, manager: Any, config: RunnableConfig, modes: frozenset[str], version: str
    ) -> dict[str, Any]:
        """Ready ``manager`` for the graph's chain run; return that run's name and id."""
        ready_callbacks(manager, config, modes, version)
        return {"name": config.get("run_name") or self.get_name(), "run_id": config.get("run_id")}

    def _new_loop(
        self,
        input: Any,
        config: RunnableConfig,
        put: Callable[[Any], None],
        modes: frozenset[str],
        subgraphs: bool,
        run_manager: Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        durability: Durability | None,
        output_keys: str | Sequence[str] | None = None,
        version: str = "v1",
    ) -> StepLoop:
        """One step loop feeding ``put``; in messages mode, the token handler joins its callbacks."""
        loop = StepLoop(
            self,
            input,
            config,
            sink=(put, modes),
            subgraphs=subgraphs,
            run_manager=run_manager,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            durability=durability,
            output_keys=run_output_keys(self.stream_keys, self.channels, output_keys),
        )
        attach_stream_handlers(run_manager, put, modes, subgraphs, loop.ns, config, version)
        return loop

    def stream(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: StreamMode | Sequence[StreamMode] | None = None,
        subgraphs: bool = False,
        version: Literal["v1", "v2"] = "v1",
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        durability: Durability | None = None,
        context: Any = None,
        control: RunControl | None = None,
        output_keys: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the graph, yielding what ``stream_mode`` asks for as it happens."""
        opts = call_options("stream", kwargs, debug=self.debug, durability=durability)
        durability = opts.durability
        _check_durability(durability)
        config, modes, shape = self._prepare(
            config, stream_mode, subgraphs, version, context, control
        )
        manager = get_callback_manager_for_config(config)
        run_manager = manager.on_chain_start(
            None, input, **self._callbacks(manager, config, modes, version)
        )
        loop: StepLoop | None = None
        try:
            sq = SyncStreamQueue()
            loop = self._new_loop(
                input,
                config,
                printing_put(sq.put, modes, opts.print_modes, subgraphs),
                modes | opts.print_modes,
                subgraphs,
                run_manager,
                interrupt_before,
                interrupt_after,
                durability,
                output_keys,
                version,
            )
            yield from stream_steps(loop, sq, shape)
        except BaseException as exc:
            run_manager.on_chain_error(exc)
            raise
        run_manager.on_chain_end(loop.output)

    async def astream(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: StreamMode | Sequence[StreamMode] | None = None,
        subgraphs: bool = False,
        version: Literal["v1", "v2"] = "v1",
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        durability: Durability | None = None,
        context: Any = None,
        control: RunControl | None = None,
        output_keys: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`; sync nodes run in threads, async ones as tasks."""
        opts = call_options("astream", kwargs, debug=self.debug, durability=durability)
        durability = opts.durability
        _check_durability(durability)
        config, modes, shape = self._prepare(
            config, stream_mode, subgraphs, version, context, control
        )
        manager = get_async_callback_manager_for_config(config)
        run_manager = await achain_start(
            manager, None, input, **self._callbacks(manager, config, modes, version)
        )
        loop: StepLoop | None = None
        try:
            sq = AsyncStreamQueue()
            loop = self._new_loop(
                input,
                config,
                printing_put(sq.put, modes, opts.print_modes, subgraphs),
                modes | opts.print_modes,
                subgraphs,
                run_manager,
                interrupt_before,
                interrupt_after,
                durability,
                output_keys,
                version,
            )
            parts = astream_steps(loop, sq, shape)
            try:
                async for part in parts:
                    yield part
            finally:
                await parts.aclose()
        except BaseException as exc:
            await run_manager.on_chain_error(exc)
            raise
        await achain_end(run_manager, loop.output)

    # ------------------------------------------------------------------ invoke

    def invoke(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: StreamMode = "values",
        version: Literal["v1", "v2"] = "v1",
        **kwargs: Any,
    ) -> Any:
        """Run to the end; return the final state (plus ``__interrupt__`` if it paused)."""
        check_call_kwargs("invoke", {k: v for k, v in kwargs.items() if k not in _STREAM_ONLY})
        result = InvokeResult(stream_mode, version)
        kwargs.setdefault("output_keys", self.output_keys)  # the output schema's (LangGraph)
        for chunk in self.stream(
            input, config, stream_mode=result.modes, version=version, **kwargs
        ):
            result.add(chunk)
        return result.value()

    async def ainvoke(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: StreamMode = "values",
        version: Literal["v1", "v2"] = "v1",
        **kwargs: Any,
    ) -> Any:
        check_call_kwargs("ainvoke", {k: v for k, v in kwargs.items() if k not in _STREAM_ONLY})
        result = InvokeResult(stream_mode, version)
        kwargs.setdefault("output_keys", self.output_keys)
        async for chunk in self.astream(
            input, config, stream_mode=result.modes, version=version, **kwargs
        ):
            result.add(chunk)
        return result.value()

    # ------------------------------------------------------------------ schemas

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """``input_schema``: the input schema as a model named ``<name>Input`` (LangGraph's)."""
        return input_model(self.get_name("Input"), self.builder.input_schema)

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """``output_schema``: the output keys, each optional, as ``<name>Output``."""
        return output_model(  # type: ignore[no-any-return]
            self.get_name("Output"), self.output_keys, self.builder.schemas
        )

    def get_context_jsonschema(self) -> dict[str, Any] | None:
        """The JSON schema of ``context_schema`` (``None`` without one)."""
        return context_jsonschema(self.context_schema)

    # ------------------------------------------------------------------ state

    def _saver(self, config: RunnableConfig) -> BaseCheckpointSaver[Any]:
        if isinstance(self.checkpointer, BaseCheckpointSaver):
            return self.checkpointer
        ctx = (config.get(CONF) or {}).get(KEY_TASK)
        if ctx is not None and ctx.checkpointer is not None:
            return ctx.checkpointer  # type: ignore[no-any-return]
        raise ValueError("No checkpointer set: compile(checkpointer=InMemorySaver()) to keep state")

    def _subgraph_for(self, ns: str) -> CompiledStateGraph:
        graph: CompiledStateGraph = self
        for part in ns.split(NS_SEP):
            if part.isdigit():  # a task's second, third ... graph call
                continue
            name = part.split(":")[0]
            spec = graph.nodes.get(name)
            if spec is None or spec.subgraph is None:
                raise ValueError(f"Subgraph {recast_ns(ns)} not found (checkpoint_ns={ns!r})")
            graph = spec.subgraph
        return graph

    def _snapshot(
        self,
        saved: CheckpointTuple | None,
        config: RunnableConfig,
        saver: BaseCheckpointSaver[Any],
        *,
        live: bool,
    ) -> StateSnapshot:
        """The snapshot of ``saved`` (no I/O: subgraph states are filled in by the caller)."""
        if saved is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        ns = saved.config[CONF].get("checkpoint_ns", "")
        loop = StepLoop.at_checkpoint(self, saved, saver)
        tasks = loop.tasks
        states = task_states(self, tasks, loop.pending_writes, ns, loop.thread_id, live=live)
        finished = {t.id for t in states if t.result is not None} if live else set()
        if finished:
            loop.apply_finished()
        parents = saved.metadata.get("parents") or {}
        return StateSnapshot(
            values=loop.read_state(self.stream_keys),
            next=tuple(t.name for t in tasks if t.id not in finished),
            config=_with_checkpoint_map(saved.config, parents) or saved.config,
            metadata=dict(saved.metadata),
            created_at=saved.checkpoint["ts"],
            parent_config=_with_checkpoint_map(saved.parent_config, parents),
            tasks=tuple(states),
            interrupts=tuple(i for t in states for i in t.interrupts),
        )

    def _state_lookup(
        self, config: RunnableConfig, *, update: bool = False
    ) -> tuple[CompiledStateGraph, BaseCheckpointSaver[Any], RunnableConfig]:
        """Which graph owns ``config``'s namespace, the saver, and the config to look up.

        A namespace with no declared subgraph (one a node calls itself) is read with
        this graph, as LangGraph reads it; an update there raises instead, since this
        graph's nodes and channels would write the wrong state into it.
        """
        conf = dict(config.get(CONF) or {})
        saver = conf.pop("__streamtap_saver", None) or self._saver(config)
        graph: CompiledStateGraph = self
        ns = conf.get("checkpoint_ns", "")
        if ns and not conf.pop("__streamtap_resolved", None):
            try:
                graph = self._subgraph_for(ns)
            except ValueError:
                if update:
                    raise
                graph = self
        conf.pop("__streamtap_resolved", None)
        if graph.checkpointer is True and ns:
            # a stateful subgraph keeps one history per thread, without task ids
            conf["checkpoint_ns"] = own_ns(ns)
        if conf.get("thread_id") is None:
            raise ValueError('get_state needs config={"configurable": {"thread_id": ...}}')
        conf["thread_id"] = str(conf["thread_id"])
        return graph, saver, {CONF: conf}

    @staticmethod
    def _subgraph_config(task: PregelTask, saver: BaseCheckpointSaver[Any]) -> RunnableConfig:
        conf = cast(dict[str, Any], task.state)[CONF]
        return {CONF: {**conf, "__streamtap_saver": saver, "__streamtap_resolved": True}}

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's latest state (or the checkpoint ``checkpoint_id`` names)."""
        graph, saver, lookup = self._state_lookup(config)
        snap = graph._snapshot(
            saver.get_tuple(lookup), lookup, saver, live="checkpoint_id" not in lookup[CONF]
        )
        if not subgraphs:
            return snap
        tasks = tuple(
            t._replace(
                state=graph._subgraph_for(t.name).get_state(
                    self._subgraph_config(t, saver), subgraphs=True
                )
            )
            if t.state is not None
            else t
            for t in snap.tasks
        )
        return snap._replace(tasks=tasks)

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """:meth:`get_state` through the saver's async methods (``AsyncPostgresSaver``...)."""
        graph, saver, lookup = self._state_lookup(config)
        saved = await Saves(saver).aload(lookup)
        snap = graph._snapshot(saved, lookup, saver, live="checkpoint_id" not in lookup[CONF])
        if not subgraphs:
            return snap
        tasks = []
        for t in snap.tasks:
            if t.state is not None:
                sub = graph._subgraph_for(t.name)
                t = t._replace(
                    state=await sub.aget_state(self._subgraph_config(t, saver), subgraphs=True)
                )
            tasks.append(t)
        return snap._replace(tasks=tuple(tasks))

    def _history_lookup(
        self, config: RunnableConfig
    ) -> tuple[CompiledStateGraph, BaseCheckpointSaver[Any], RunnableConfig]:
        """As :meth:`_state_lookup`: a subgraph's namespace is listed and read by that subgraph."""
        if (config.get(CONF) or {}).get("thread_id") is None:
            raise ValueError('get_state_history needs config={"configurable": {"thread_id": ...}}')
        graph, saver, lookup = self._state_lookup(config)
        lookup[CONF].setdefault("checkpoint_ns", "")  # else savers list every namespace
        return graph, saver, lookup

    def get_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Every saved checkpoint of the thread, newest first (``filter`` matches metadata)."""
        graph, saver, lookup = self._history_lookup(config)
        # read eagerly: a database cursor is not held open while the caller iterates
        for saved in list(saver.list(lookup, filter=filter, before=before, limit=limit)):
            yield graph._snapshot(saved, saved.config, saver, live=False)

    async def aget_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        graph, saver, lookup = self._history_lookup(config)
        async for saved in Saves(saver).alist(lookup, filter=filter, before=before, limit=limit):
            yield graph._snapshot(saved, saved.config, saver, live=False)

    # ------------------------------------------------------------------ updates

    def bulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]]
    ) -> RunnableConfig:
        """Write supersteps by hand, each a checkpoint (LangGraph's ``bulk_update_state``)."""
        graph, saves, lookup = self._update_target(config, supersteps)
        todo = deque(supersteps)
        first = True
        while todo:
            updates = todo.popleft()
            latest = saves.load(_latest(lookup)) if first else None
            step = graph._superstep(saves, lookup, updates, saves.load(lookup), latest)
            for task, branch, arg in step.plan():
                result = branch.path.call(arg, lookup, None)
                task.writes.extend(branch_writes(graph, branch, result))
            lookup = graph._save_update(step, saves)
            saves.flush()
            first = False
            if step.then:
                todo.appendleft(step.then)
        return lookup

    async def abulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]]
    ) -> RunnableConfig:
        graph, saves, lookup = self._update_target(config, supersteps)
        todo = deque(supersteps)
        first = True
        while todo:
            updates = todo.popleft()
            latest = await saves.aload(_latest(lookup)) if first else None
            step = graph._superstep(saves, lookup, updates, await saves.aload(lookup), latest)
            for task, branch, arg in step.plan():
                result = await branch.path.acall(arg, lookup, None)
                task.writes.extend(branch_writes(graph, branch, result))
            lookup = graph._save_update(step, saves)
            await saves.aflush()
            first = False
            if step.then:
                todo.appendleft(step.then)
        return lookup

    def _update_target(
        self, config: RunnableConfig, supersteps: Sequence[Any]
    ) -> tuple[CompiledStateGraph, Saves, RunnableConfig]:
        if not supersteps:
            raise ValueError("No supersteps provided")
        graph, saver, lookup = self._state_lookup(config, update=True)
        return graph, Saves(saver), lookup

    def _superstep(
        self,
        saves: Saves,
        lookup: RunnableConfig,
        updates: Sequence[Any],
        saved: CheckpointTuple | None,
        latest: CheckpointTuple | None,
    ) -> Superstep:
        """The next superstep; only the first can find the thread moved past ``saved``."""
        superseded = _superseded(saved, latest)
        next_version = saves.saver.get_next_version
        return Superstep(self, saved, updates, lookup, next_version, superseded=superseded)

    def _save_update(self, step: Superstep, saves: Saves) -> RunnableConfig:
        parent, checkpoint, metadata, new_versions = step.result()
        if step.saved is not None:
            for task_id, writes in step.stored_writes():
                saves.put_writes(step.saved.config, writes, task_id)
        put_config: RunnableConfig = {CONF: {**parent[CONF], "checkpoint_ns": step.ns}}
        saves.put(put_config, checkpoint, metadata, new_versions)
        saved: RunnableConfig = {
            CONF: {
                "thread_id": step.thread_id,
                "checkpoint_ns": step.ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        return _with_checkpoint_map(saved, metadata.get("parents") or {}) or saved

    def update_state(
        self,
        config: RunnableConfig,
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> RunnableConfig:
        """Update the thread's state as if ``as_node`` had returned ``values``."""
        return self.bulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    async def aupdate_state(
        self,
        config: RunnableConfig,
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> RunnableConfig:
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])


Durability = Literal["sync", "async", "exit"]


def _latest(config: RunnableConfig) -> RunnableConfig:
    return {CONF: {k: v for k, v in config[CONF].items() if k != "checkpoint_id"}}


def _superseded(saved: CheckpointTuple | None, latest: CheckpointTuple | None) -> bool:
    """Whether the thread has moved past ``saved`` (an update there forks it)."""
    return (
        saved is not None
        and latest is not None
        and latest.checkpoint["id"] != saved.checkpoint["id"]
    )


def _check_durability(durability: Any) -> None:
    if durability not in _DURABILITY:
        raise ValueError(f"durability must be 'sync', 'async' or 'exit', got {durability!r}")


def _with_checkpoint_map(
    config: RunnableConfig | None, parents: dict[str, str]
) -> RunnableConfig | None:
    if config is None or not parents:
        return config
    conf = dict(config[CONF])
    conf["checkpoint_map"] = {**parents, conf.get("checkpoint_ns", ""): conf.get("checkpoint_id")}
    return {CONF: conf}
