"""The compiled graph: a langchain-core ``Runnable`` whose ``stream()`` speaks LangGraph.

This is the edge where the internal ``(namespace, mode, payload)`` items get
their public shape, exactly once per item (see ``_shaper``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
)

from streamtap.graph._channels import Channel
from streamtap.graph._config import ensure_config
from streamtap.graph._constants import CONF, INTERRUPT, KEY_TASK, NS_SEP, START
from streamtap.graph._loop import Run, drive_async, drive_sync
from streamtap.graph._node import BranchSpec, NodeSpec
from streamtap.graph._runtime import StreamPart
from streamtap.graph._stream_queue import AsyncStreamQueue, SyncStreamQueue
from streamtap.graph._writes import task_states
from streamtap.graph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from streamtap.graph.types import Command, GraphOutput, Interrupt, StateSnapshot

if TYPE_CHECKING:
    from streamtap.graph.state import StateGraph

__all__ = ["CompiledStateGraph"]

STREAM_MODES = frozenset(
    ("values", "updates", "messages", "custom", "debug", "tasks", "checkpoints")
)
StreamMode = Literal["values", "updates", "messages", "custom", "debug", "tasks", "checkpoints"]


class _NoRunManager:
    """Stands in for the run's callback manager when tasks are only listed (get_state)."""

    def get_child(self, tag: str | None = None) -> None:
        return None


def _modes_of(stream_mode: str | Sequence[str]) -> frozenset[str]:
    modes = frozenset([stream_mode]) if isinstance(stream_mode, str) else frozenset(stream_mode)
    unknown = modes - STREAM_MODES
    if unknown:
        raise ValueError(
            f"Unknown stream_mode {sorted(unknown)}; choose from {sorted(STREAM_MODES)}"
        )
    if not modes:
        raise ValueError("stream_mode is empty: pass a mode or a list of modes")
    return modes


def _shaper(
    stream_mode: str | Sequence[str],
    subgraphs: bool,
    version: str,
    output_mapper: Callable[[dict[str, Any]], Any] | None,
    state_mapper: Callable[[dict[str, Any]], Any] | None,
) -> Callable[[StreamPart], Any]:
    """The public shape of an item: bare payload, (mode, payload), (ns, ...) or a v2 dict."""
    if version == "v2":

        def shape_v2(item: StreamPart) -> dict[str, Any]:
            ns, mode, payload = item
            if mode == "values":
                ints: tuple[Interrupt, ...] = ()
                if isinstance(payload, dict):
                    if INTERRUPT in payload:
                        payload = dict(payload)
                        ints = payload.pop(INTERRUPT)
                    if output_mapper is not None:
                        payload = output_mapper(payload)
                return {"type": mode, "ns": ns, "data": payload, "interrupts": ints}
            if mode in ("checkpoints", "debug") and state_mapper is not None:
                _coerce_checkpoint_values(payload, state_mapper)
            return {"type": mode, "ns": ns, "data": payload}

        return shape_v2
    if version != "v1":
        raise ValueError(f'version must be "v1" or "v2", got {version!r}')
    if isinstance(stream_mode, list):
        if subgraphs:
            return lambda item: item
        return lambda item: (item[1], item[2])
    if subgraphs:
        return lambda item: (item[0], item[2])
    return itemgetter(2)


def _coerce_checkpoint_values(payload: Any, mapper: Callable[[dict[str, Any]], Any]) -> None:
    target = payload.get("payload") if payload.get("type") == "checkpoint" else payload
    if (
        isinstance(target, dict)
        and isinstance(target.get("values"), dict)
        and START not in target.get("next", ())
    ):
        target["values"] = mapper(target["values"])


class CompiledStateGraph(Runnable[Any, Any]):
    """A ready-to-run graph. Runnable (invoke/stream/batch/astream_events/with_config)
    and usable as a node of another graph."""

    def __init__(
        self,
        *,
        builder: StateGraph,
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
        checkpointer: BaseCheckpointSaver | bool | None,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        name: str,
        state_mapper: Callable[[dict[str, Any]], Any] | None,
        output_mapper: Callable[[dict[str, Any]], Any] | None,
        debug: bool = False,
    ) -> None:
        self.builder = builder
        self.nodes = nodes
        self.channels = channels
        self.state_keys = state_keys
        self.state_key_set = frozenset(state_keys)
        self.input_keys = input_keys
        self.input_key_set = frozenset(input_keys)
        self.output_keys = output_keys
        self.output_key_set = frozenset(output_keys)
        self.edges_from = edges_from
        self.joins = joins
        self.joins_from = joins_from
        self.branches = branches
        self.triggers = triggers
        self.checkpointer = checkpointer
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.name = name
        self.state_mapper = state_mapper
        self.output_mapper = output_mapper
        self.debug = debug
        self.order = [START, *nodes]
        self.stream_mode: StreamMode = "updates"

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        base = str(name or self.name)
        return f"{base}{suffix}" if suffix else base

    # ------------------------------------------------------------------ streaming

    def _prepare(
        self,
        config: RunnableConfig | None,
        stream_mode: str | Sequence[str] | None,
        version: str,
    ) -> tuple[RunnableConfig, str | Sequence[str], frozenset[str]]:
        config = ensure_config(config)
        if config.get("recursion_limit", 25) < 1:
            raise ValueError("recursion_limit must be at least 1")
        if stream_mode is None:
            stream_mode = "values" if KEY_TASK in config[CONF] else self.stream_mode
        return config, stream_mode, _modes_of(stream_mode)

    def _filter_handlers(self, manager: Any, config: RunnableConfig) -> None:
        """Outside a parent task, a parent's subgraph-less messages handler must not see us."""
        from streamtap.middleware._messages import StreamMessagesHandler

        if "ls_integration" not in manager.metadata:
            manager.add_metadata({"ls_integration": "langgraph"})
        if KEY_TASK in config[CONF]:
            return

        def keep(h: Any) -> bool:
            return not (isinstance(h, StreamMessagesHandler) and not h.subgraphs)

        manager.handlers = [h for h in manager.handlers if keep(h)]
        manager.inheritable_handlers = [h for h in manager.inheritable_handlers if keep(h)]

    def _new_run(
        self,
        input: Any,
        config: RunnableConfig,
        put: Callable[[Any], None],
        modes: Any,
        subgraphs: bool,
        run_manager: Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
    ) -> Run:
        """One run feeding ``put``; in messages mode, the token handler joins its callbacks."""
        run = Run(
            self,
            input,
            config,
            sink=(put, modes),
            subgraphs=subgraphs,
            run_manager=run_manager,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if "messages" in modes:
            from streamtap.middleware._messages import StreamMessagesHandler

            run_manager.inheritable_handlers.append(
                StreamMessagesHandler(put, subgraphs, parent_ns=run.ns, command_types=(Command,))
            )
        return run

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
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the graph, yielding what ``stream_mode`` asks for as it happens."""
        config, mode_arg, modes = self._prepare(config, stream_mode, version)
        shape = _shaper(mode_arg, subgraphs, version, self.output_mapper, self.state_mapper)
        manager = get_callback_manager_for_config(config)
        self._filter_handlers(manager, config)
        run_manager = manager.on_chain_start(
            None, input, name=config.get("run_name") or self.get_name(), run_id=config.get("run_id")
        )
        run: Run | None = None
        try:
            chan = SyncStreamQueue()
            run = self._new_run(
                input,
                config,
                chan.put,
                modes,
                subgraphs,
                run_manager,
                interrupt_before,
                interrupt_after,
            )
            yield from drive_sync(run, chan, shape)
        except BaseException as exc:
            run_manager.on_chain_error(exc)
            raise
        run_manager.on_chain_end(run.output)

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
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`; sync nodes run in threads, async ones as tasks."""
        config, mode_arg, modes = self._prepare(config, stream_mode, version)
        shape = _shaper(mode_arg, subgraphs, version, self.output_mapper, self.state_mapper)
        manager = get_async_callback_manager_for_config(config)
        self._filter_handlers(manager, config)
        run_manager = await manager.on_chain_start(
            None, input, name=config.get("run_name") or self.get_name(), run_id=config.get("run_id")
        )
        run: Run | None = None
        try:
            chan = AsyncStreamQueue()
            run = self._new_run(
                input,
                config,
                chan.put,
                modes,
                subgraphs,
                run_manager,
                interrupt_before,
                interrupt_after,
            )
            agen = drive_async(run, chan, shape)
            try:
                async for item in agen:
                    yield item
            finally:
                await agen.aclose()
        except BaseException as exc:
            await run_manager.on_chain_error(exc)
            raise
        await run_manager.on_chain_end(run.output)

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
        latest: Any = None
        chunks: list[Any] = []
        interrupts: list[Interrupt] = []
        if stream_mode == "values":
            modes: Any = "values" if version == "v2" else ["updates", "values"]
        else:
            modes = stream_mode
        for chunk in self.stream(input, config, stream_mode=modes, version=version, **kwargs):
            latest = self._collect(chunk, stream_mode, version, chunks, interrupts, latest)
        return self._result(stream_mode, version, latest, chunks, interrupts)

    async def ainvoke(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: StreamMode = "values",
        version: Literal["v1", "v2"] = "v1",
        **kwargs: Any,
    ) -> Any:
        latest: Any = None
        chunks: list[Any] = []
        interrupts: list[Interrupt] = []
        if stream_mode == "values":
            modes: Any = "values" if version == "v2" else ["updates", "values"]
        else:
            modes = stream_mode
        async for chunk in self.astream(
            input, config, stream_mode=modes, version=version, **kwargs
        ):
            latest = self._collect(chunk, stream_mode, version, chunks, interrupts, latest)
        return self._result(stream_mode, version, latest, chunks, interrupts)

    @staticmethod
    def _collect(
        chunk: Any,
        stream_mode: str,
        version: str,
        chunks: list[Any],
        interrupts: list[Interrupt],
        latest: Any,
    ) -> Any:
        if stream_mode != "values":
            chunks.append(chunk)
            return latest
        if version == "v2":
            interrupts.extend(chunk.get("interrupts", ()))
            return chunk["data"]
        mode, payload = chunk[-2], chunk[-1]
        if mode == "updates" and isinstance(payload, dict) and INTERRUPT in payload:
            interrupts.extend(payload[INTERRUPT])
        elif mode == "values":
            return payload
        return latest

    @staticmethod
    def _result(
        stream_mode: str, version: str, latest: Any, chunks: list[Any], interrupts: list[Interrupt]
    ) -> Any:
        if stream_mode != "values":
            return chunks
        if version == "v2":
            return GraphOutput(value=latest, interrupts=tuple(interrupts))
        if interrupts:
            return (
                {**latest, INTERRUPT: interrupts}
                if isinstance(latest, dict)
                else {INTERRUPT: interrupts}
            )
        return latest

    # ------------------------------------------------------------------ state

    def _saver(self, config: RunnableConfig) -> BaseCheckpointSaver:
        if isinstance(self.checkpointer, BaseCheckpointSaver):
            return self.checkpointer
        ctx = (config.get(CONF) or {}).get(KEY_TASK)
        if ctx is not None and ctx.checkpointer is not None:
            return ctx.checkpointer  # type: ignore[no-any-return]
        raise ValueError("No checkpointer set: compile(checkpointer=InMemorySaver()) to keep state")

    def _subgraph_for(self, ns: str) -> CompiledStateGraph:
        graph: CompiledStateGraph = self
        for part in ns.split(NS_SEP):
            name = part.split(":")[0]
            spec = graph.nodes.get(name)
            if spec is None or not isinstance(spec.action.runnable, CompiledStateGraph):
                raise ValueError(f"Subgraph {name!r} not found (checkpoint_ns={ns!r})")
            graph = spec.action.runnable
        return graph

    def _snapshot(
        self,
        saved: CheckpointTuple | None,
        config: RunnableConfig,
        saver: BaseCheckpointSaver,
        *,
        live: bool,
        recurse: bool,
    ) -> StateSnapshot:
        if saved is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        ns = saved.config[CONF].get("checkpoint_ns", "")
        run = Run(
            self,
            None,
            {CONF: {"thread_id": saved.config[CONF]["thread_id"]}, "recursion_limit": 25},
            sink=(lambda item: None, frozenset()),
            subgraphs=False,
            run_manager=_NoRunManager(),
            interrupt_before=None,
            interrupt_after=None,
        )
        run.checkpointer = saver
        run.ns_str = ns
        run.ns = tuple(ns.split(NS_SEP)) if ns else ()
        run._load(saved.checkpoint, saved.config, saved.parent_config, saved.metadata)
        run.checkpoint_map = dict(saved.metadata.get("parents", {}))
        run.pending_writes = list(saved.pending_writes)
        run.step = saved.metadata.get("step", -1) + 1
        tasks = run._prepare_tasks()
        run.tasks = tasks
        run._apply_null_writes()
        states = task_states(self, tasks, run.pending_writes, ns, run.thread_id, live=live)
        if recurse:
            states = [
                t._replace(
                    state=self._subgraph_for(t.name).get_state(
                        {
                            CONF: {
                                **cast(dict[str, Any], t.state)[CONF],
                                "__streamtap_saver": saver,
                                "__streamtap_resolved": True,
                            }
                        },
                        subgraphs=True,
                    )
                )
                if t.state is not None
                else t
                for t in states
            ]
        finished = {t.id for t in states if t.result is not None} if live else set()
        if finished:
            run._apply([(t, t.writes) for t in run._reapply_finished()])
        parents = saved.metadata.get("parents") or {}
        return StateSnapshot(
            values=run.read_state(self.state_keys),
            next=tuple(t.name for t in tasks if t.id not in finished),
            config=_with_checkpoint_map(saved.config, parents) or saved.config,
            metadata=saved.metadata,
            created_at=saved.checkpoint["ts"],
            parent_config=_with_checkpoint_map(saved.parent_config, parents),
            tasks=tuple(states),
            interrupts=tuple(i for t in states for i in t.interrupts),
        )

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's latest state (or the checkpoint ``checkpoint_id`` names)."""
        conf = dict(config.get(CONF) or {})
        saver = conf.pop("__streamtap_saver", None) or self._saver(config)
        ns = conf.get("checkpoint_ns", "")
        if ns and conf.get("__streamtap_resolved") is None:
            sub = self._subgraph_for(ns)
            if sub is not self:
                return sub.get_state(
                    {CONF: {**conf, "__streamtap_saver": saver, "__streamtap_resolved": True}},
                    subgraphs=subgraphs,
                )
        conf.pop("__streamtap_resolved", None)
        if conf.get("thread_id") is None:
            raise ValueError('get_state needs config={"configurable": {"thread_id": ...}}')
        conf["thread_id"] = str(conf["thread_id"])
        lookup: RunnableConfig = {CONF: conf}
        saved = saver.get_tuple(lookup)
        return self._snapshot(
            saved, lookup, saver, live="checkpoint_id" not in conf, recurse=subgraphs
        )

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        return self.get_state(config, subgraphs=subgraphs)

    def get_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Every saved checkpoint of the thread, newest first."""
        saver = self._saver(config)
        conf = dict(config.get(CONF) or {})
        if conf.get("thread_id") is None:
            raise ValueError('get_state_history needs config={"configurable": {"thread_id": ...}}')
        conf["thread_id"] = str(conf["thread_id"])
        conf.setdefault("checkpoint_ns", "")
        for saved in saver.list({CONF: conf}, filter=filter, before=before, limit=limit):
            yield self._snapshot(saved, saved.config, saver, live=False, recurse=False)

    async def aget_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        for snap in self.get_state_history(config, filter=filter, before=before, limit=limit):
            yield snap


def _with_checkpoint_map(
    config: RunnableConfig | None, parents: dict[str, str]
) -> RunnableConfig | None:
    if config is None or not parents:
        return config
    conf = dict(config[CONF])
    conf["checkpoint_map"] = {**parents, conf.get("checkpoint_ns", ""): conf.get("checkpoint_id")}
    return {CONF: conf}
