"""The step loop: one run of a compiled graph, read top to bottom.

A run is a sequence of Pregel super-steps. Each step:

1. ``tick``    – derive the step's tasks from what the previous step triggered
                 (edges, routers, ``Send``s, joins); emit ``checkpoints``/``tasks``.
2. execute     – run every task concurrently (threads for sync nodes, asyncio
                 tasks for async ones; a step's lone task inline, or in a greenlet
                 when its output is live); each node's writes stay private to it.
3. ``commit``  – as each task finishes: record its writes (and save them as
                 pending writes), emit its ``updates`` / ``tasks`` result.
4. ``end_step`` – apply all writes together through the reducers, emit
                 ``values``, save a checkpoint, honour ``interrupt_after``.

Every producer – this loop, the ``messages`` callback handler, the ``custom``
writer, subgraph loops – puts ``(namespace, mode, payload)`` items on ONE
queue per ``stream()`` call. The drivers at the bottom (``drive_sync`` and
``drive_async``) interleave task completions with those items, so a node's
tokens reach the consumer while it runs and always before its ``updates``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent, greenlet
from langchain_core.callbacks import CallbackManagerForChainRun
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
    var_child_runnable_config,
)
from langchain_core.utils.uuid import uuid7

from streamtap.graph._channels import Channel
from streamtap.graph._config import merge_configs, patch_config
from streamtap.graph._constants import (
    BRANCH_PREFIX,
    CONF,
    CONTROL_WRITES,
    END,
    ERROR,
    EXCLUDED_METADATA_KEYS,
    INTERRUPT,
    KEY_TASK,
    MISSING,
    NO_WRITES,
    NS_SEP,
    NULL_TASK_ID,
    PULL,
    PUSH,
    RESUME,
    START,
    TASKS,
    WRITES_IDX_MAP,
)
from streamtap.graph._node import BranchSpec
from streamtap.graph._runtime import (
    Scratchpad,
    Sink,
    StreamPart,
    TaskContext,
    interrupt_id,
    noop_writer,
)
from streamtap.graph._stream_queue import AsyncStreamQueue, StreamClosed, SyncStreamQueue
from streamtap.graph._writes import (
    ParentCommand,
    Write,
    as_own_command,
    checkpoint_task,
    command_updates,
    control_from,
    fold_writes,
    is_interrupt_id,
    tap_async,
    tap_sync,
    task_states,
    updates_from,
)
from streamtap.graph.checkpoint.base import BaseCheckpointSaver, Checkpoint, PendingWrite
from streamtap.graph.errors import (
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidUpdateError,
    StreamThreadError,
)
from streamtap.graph.types import Command, Interrupt, Send

if TYPE_CHECKING:
    from streamtap.graph.state import CompiledStateGraph


def _task_id(*parts: str) -> str:
    h = hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _path_key(path: tuple[Any, ...]) -> tuple[int, str, int]:
    # LangGraph applies a step's writes sorted by task path: pulls by name, then pushes.
    return (0, path[1], 0) if path[0] == PULL else (1, "", path[1])


def filter_user_tags(tags: Sequence[str] | None) -> list[str] | None:
    if not tags:
        return None
    kept = [t for t in tags if not t.startswith("seq:step")]
    return kept or None


class Task:
    """One node execution in one step."""

    __slots__ = (
        "config",
        "ctx",
        "hidden",
        "id",
        "input",
        "name",
        "ns",
        "path",
        "triggers",
        "writes",
    )

    def __init__(
        self,
        id: str,
        name: str,
        path: tuple[Any, ...],
        triggers: tuple[str, ...],
        input: Any,
        ns: str,
    ) -> None:
        self.id = id
        self.name = name
        self.path = path
        self.triggers = triggers
        self.input = input
        self.ns = ns
        self.writes: list[Write] = []
        self.config: RunnableConfig = {}
        self.ctx: TaskContext | None = None
        self.hidden = name == START


class Run:
    """The state and bookkeeping of one ``stream()`` call of one graph (or subgraph)."""

    def __init__(
        self,
        graph: CompiledStateGraph,
        input: Any,
        config: RunnableConfig,
        *,
        sink: Sink,
        subgraphs: bool,
        run_manager: CallbackManagerForChainRun | Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
    ) -> None:
        self.graph = graph
        self.input = input
        self.config = config
        self.run_manager = run_manager
        conf = config[CONF]
        parent: TaskContext | None = conf.get(KEY_TASK)
        self.parent = parent
        self.nested = parent is not None
        self.ns_str: str = parent.ns if parent is not None else ""
        self.ns: tuple[str, ...] = tuple(self.ns_str.split(NS_SEP)) if self.ns_str else ()
        inherited = parent.parent_sink if parent is not None else None
        self.sinks: list[Sink] = [sink] if inherited is None else [sink, inherited]
        # what this run's tasks (and the subgraphs they run) stream to, besides their own consumer
        self.child_sink: Sink | None = sink if subgraphs else inherited
        self.modes: frozenset[str] = frozenset().union(*(m for _, m in self.sinks))
        own_modes = sink[1]
        self.live = subgraphs or "messages" in own_modes or "custom" in own_modes
        self.interrupt_before = interrupt_before or graph.interrupt_before
        self.interrupt_after = interrupt_after or graph.interrupt_after
        if graph.checkpointer is False:
            self.checkpointer: BaseCheckpointSaver | None = None
        elif isinstance(graph.checkpointer, BaseCheckpointSaver):
            self.checkpointer = graph.checkpointer
        else:
            self.checkpointer = parent.checkpointer if parent is not None else None
        self.thread_id = conf.get("thread_id")
        if self.checkpointer is not None and self.thread_id is None:
            raise ValueError(
                "Checkpointer requires one or more of the following 'configurable' keys: "
                "thread_id, checkpoint_ns, checkpoint_id"
            )
        self.checkpoint_map: dict[str, str] = dict(parent.checkpoint_map) if parent else {}
        self.resume_map: dict[str, Any] | None = parent.resume_map if parent else None

        # state
        self.channels: dict[str, Channel] = {k: c.fresh() for k, c in graph.channels.items()}
        self.branches: set[str] = set()
        self.sends: list[Send] = []
        self.barriers: dict[str, set[str]] = {}
        self.start_input: Any = MISSING
        self.pending_writes: list[PendingWrite] = []
        self.checkpoint_id: str = str(uuid7())
        self.checkpoint_config: RunnableConfig | None = None
        self.prev_checkpoint_config: RunnableConfig | None = None
        self.metadata: dict[str, Any] = {}
        self.step = -1
        self.stop = 0
        self.tasks: list[Task] = []
        self.resuming = False
        self.first_tick = True
        self.loaded = False
        # outcome
        self.status = "pending"
        self.error: BaseException | None = None
        self.interrupts: list[Interrupt] = []
        self.interrupted = False
        self.output: Any = None

    # ------------------------------------------------------------------ emit

    def _emit(self, mode: str, payload: Any) -> None:
        item = (self.ns, mode, payload)
        for put, modes in self.sinks:
            if mode in modes:
                put(item)

    def _emit_debug(self, mode: str, payload: Any) -> None:
        """``checkpoints``/``tasks`` events, also wrapped for ``debug`` consumers."""
        wrapped: StreamPart | None = None
        for put, modes in self.sinks:
            if mode in modes:
                put((self.ns, mode, payload))
            if "debug" in modes:
                if wrapped is None:
                    kind = (
                        "checkpoint"
                        if mode == "checkpoints"
                        else "task_result"
                        if "result" in payload
                        else "task"
                    )
                    wrapped = (
                        self.ns,
                        "debug",
                        {
                            "step": self.step - 1 if mode == "checkpoints" else self.step,
                            "timestamp": datetime.now(UTC).isoformat(),
                            "type": kind,
                            "payload": payload,
                        },
                    )
                put(wrapped)

    def _wants(self, mode: str) -> bool:
        return mode in self.modes or (mode in ("checkpoints", "tasks") and "debug" in self.modes)

    def read_state(self, keys: Sequence[str] | None = None) -> dict[str, Any]:
        chans = self.channels
        return {
            k: chans[k].value
            for k in (keys if keys is not None else self.graph.output_keys)
            if chans[k].value is not MISSING
        }

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Load the thread's checkpoint, then apply the input or the resume command."""
        conf = self.config[CONF]
        saved = None
        if self.checkpointer is not None:
            lookup = {"thread_id": self.thread_id, "checkpoint_ns": self.ns_str}
            if not self.nested and conf.get("checkpoint_id"):
                lookup["checkpoint_id"] = conf["checkpoint_id"]
            saved = self.checkpointer.get_tuple({"configurable": lookup})
        if saved is not None:
            self._load(saved.checkpoint, saved.config, saved.parent_config, saved.metadata)
            self.pending_writes = list(saved.pending_writes)
            self.step = saved.metadata.get("step", -2) + 1
        self.stop = self.step + self.config.get("recursion_limit", 25) + 1
        is_command = isinstance(self.input, Command)
        if saved is not None and (
            self.parent.resuming if self.parent is not None else self.input is None or is_command
        ):
            self.resuming = True
            if is_command:
                self._apply_command(self.input)
            self._apply_null_writes()
            if self._wants("values"):
                self._emit("values", self.read_state())
        elif self.input is not None:
            if is_command and self.input.resume is not None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            # a new input discards whatever the previous run left triggered
            self.branches.clear()
            self.sends.clear()
            self.start_input = self.input
            self.pending_writes.clear()
            self._put_checkpoint("input")
        else:
            raise EmptyInputError(f"Received no input for {START}")

    def _load(
        self,
        checkpoint: Checkpoint,
        config: RunnableConfig,
        parent_config: RunnableConfig | None,
        metadata: dict[str, Any],
    ) -> None:
        for key, value in checkpoint["channel_values"].items():
            if key == START:
                self.start_input = value
            elif key in self.channels:
                self.channels[key].value = value
        self.branches = set(checkpoint["branches"])
        self.sends = list(checkpoint["sends"])
        self.barriers = {k: set(v) for k, v in checkpoint["barriers"].items()}
        self.checkpoint_id = checkpoint["id"]
        self.checkpoint_config = config
        self.prev_checkpoint_config = parent_config
        self.metadata = {
            "source": metadata.get("source"),
            "step": metadata.get("step"),
            "parents": metadata.get("parents", {}),
        }
        self.loaded = True

    def _apply_command(self, cmd: Command) -> None:
        if cmd.graph == Command.PARENT:
            raise InvalidUpdateError("There is no parent graph")
        writes: list[Write] = []
        for go in cmd._goto_list():
            if isinstance(go, Send):
                writes.append((TASKS, go))
            elif go != END:
                writes.append((BRANCH_PREFIX + go, None))
        if cmd.resume is not None:
            if self.checkpointer is None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            resume = cmd.resume
            if isinstance(resume, dict) and resume and all(is_interrupt_id(k) for k in resume):
                self.resume_map = dict(resume)
            else:
                pending = {
                    i.id
                    for tid, ints in self._task_interrupts().items()
                    for i in ints
                    if not self._task_finished(tid)
                }
                if len(pending) > 1:
                    raise RuntimeError(
                        "When there are multiple pending interrupts, you must specify the "
                        "interrupt id when resuming. Pass Command(resume={interrupt.id: value})."
                    )
                writes.append((RESUME, resume))
        writes.extend(command_updates(cmd))
        if not writes and self.resume_map is None:
            raise EmptyInputError("Received empty Command input")
        if writes:
            self._put_writes(NULL_TASK_ID, writes)

    def _apply_null_writes(self) -> None:
        null = [(c, v) for t, c, v in self.pending_writes if t == NULL_TASK_ID]
        if null:
            self._apply([(None, null)])

    # ------------------------------------------------------------------ tick

    def tick(self) -> list[Task] | None:
        """Prepare the next step; ``None`` when the run is over."""
        if self.step > self.stop:
            self.status = "out_of_steps"
            self.tasks = self._prepare_tasks()
            self._emit_checkpoint()
            return None
        self.tasks = tasks = self._prepare_tasks()
        self._emit_checkpoint()
        if not tasks:
            self.status = "done"
            return None
        replayed = self._reapply_finished() if self.resuming and self.pending_writes else []
        if (
            self.interrupt_before
            and not (self.resuming and self.first_tick)
            and self._should_interrupt(self.interrupt_before, tasks)
        ):
            self.status = "interrupt_before"
            raise GraphInterrupt()
        if self._wants("tasks"):
            for task in tasks:
                if not task.hidden:
                    self._emit_debug("tasks", self._task_start_payload(task))
        for task in replayed:
            self._output_writes(task, task.writes, cached=True)
        self.first_tick = False
        return [t for t in tasks if not t.writes]

    def _prepare_tasks(self) -> list[Task]:
        graph = self.graph
        tasks: list[Task] = []
        for idx, send in enumerate(self.sends):
            if send.node not in graph.nodes:
                raise InvalidUpdateError(
                    f"Send targets unknown node {send.node!r}; nodes are {list(graph.nodes)}"
                )
            tasks.append(
                self._make_task(send.node, (PUSH, idx, False), (PUSH,), send.arg, str(idx))
            )
        names = set(self.branches)
        for chan, seen in self.barriers.items():
            sources, target = graph.joins[chan]
            if seen >= sources:
                names.add(target)
        if self.start_input is not MISSING:
            names.add(START)
        if names:
            order = sorted(names) if not self.loaded else [n for n in graph.order if n in names]
            for name in order:
                if name == START:
                    tasks.append(
                        self._make_task(START, (PULL, START), (START,), self.start_input, "")
                    )
                    continue
                spec = graph.nodes[name]
                state = self.read_state(spec.input_keys)
                arg = spec.input_mapper(state) if spec.input_mapper is not None else state
                tasks.append(self._make_task(name, (PULL, name), graph.triggers[name], arg, ""))
        self.loaded = False
        return tasks

    def _make_task(
        self, name: str, path: tuple[Any, ...], triggers: tuple[str, ...], arg: Any, idx: str
    ) -> Task:
        ns_prefix = f"{self.ns_str}{NS_SEP}{name}" if self.ns_str else name
        tid = _task_id(self.checkpoint_id, ns_prefix, str(self.step), name, path[0], *triggers, idx)
        task = Task(tid, name, path, triggers, arg, f"{ns_prefix}:{tid}")
        if name == START:
            return task
        spec = self.graph.nodes[name]
        metadata: dict[str, Any] = {
            "langgraph_step": self.step,
            "langgraph_node": name,
            "langgraph_triggers": triggers,
            "langgraph_path": path,
            "langgraph_checkpoint_ns": task.ns,
        }
        if spec.metadata:
            metadata.update(spec.metadata)
        ctx = TaskContext(
            task_id=tid,
            ns=task.ns,
            writer=self._writer_for(),
            scratchpad=self._scratchpad(task),
            send=task.writes.extend,
            checkpointer=self.checkpointer,
            parent_sink=self.child_sink,
            resuming=self.resuming,
            resume_map=self.resume_map,
            checkpoint_map={**self.checkpoint_map, self.ns_str: self.checkpoint_id},
            thread_id=self.thread_id,
        )
        task.ctx = ctx
        conf = {k: v for k, v in self.config[CONF].items() if k not in ("checkpoint_id", KEY_TASK)}
        conf[KEY_TASK] = ctx
        conf["checkpoint_ns"] = task.ns
        task.config = patch_config(
            merge_configs(self.config, {"metadata": metadata}),
            run_name=name,
            callbacks=self.run_manager.get_child(f"graph:step:{self.step}"),
        )
        task.config[CONF] = conf
        return task

    def _writer_for(self) -> Callable[[Any], None]:
        targets = [put for put, modes in self.sinks if "custom" in modes]
        if not targets:
            return noop_writer
        ns = self.ns
        if len(targets) == 1:
            put = targets[0]
            return lambda payload: put((ns, "custom", payload))

        def write(payload: Any) -> None:
            item = (ns, "custom", payload)
            for p in targets:
                p(item)

        return write

    def _scratchpad(self, task: Task) -> Scratchpad:
        resume: list[Any] = []
        null: PendingWrite | None = None
        found = False
        for write in self.pending_writes:
            if write[1] == RESUME:
                if write[0] == NULL_TASK_ID and null is None:
                    null = write
                elif write[0] == task.id and not found:
                    found = True
                    resume = list(write[2]) if isinstance(write[2], list) else [write[2]]
        if self.resume_map:
            next_id = interrupt_id(task.ns, len(resume))
            first_id = interrupt_id(task.ns, 0)
            if next_id in self.resume_map:
                resume.append(self.resume_map[next_id])
            elif first_id in self.resume_map:
                resume.append(self.resume_map[first_id])
        parent = self.parent.scratchpad if self.parent is not None else None
        return Scratchpad(resume, null, self.pending_writes, parent)

    def _reapply_finished(self) -> list[Task]:
        """Tasks that already finished before the pause get their saved writes, not a re-run."""
        outputs: dict[str, list[Write]] = defaultdict(list)
        for tid, chan, value in self.pending_writes:
            if tid != NULL_TASK_ID and chan not in CONTROL_WRITES:
                outputs[tid].append((chan, value))
        replayed = []
        for task in self.tasks:
            if task.id in outputs:
                task.writes.extend(outputs[task.id])
                replayed.append(task)
        return replayed

    def _should_interrupt(self, nodes: Sequence[str] | str, tasks: Sequence[Task]) -> bool:
        return any(
            (nodes == "*" and not t.hidden) or (nodes != "*" and t.name in nodes) for t in tasks
        )

    def _task_start_payload(self, task: Task) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": task.id,
            "name": task.name,
            "input": task.input,
            "triggers": task.triggers,
        }
        md = {
            k: v
            for k, v in (task.config.get("metadata") or {}).items()
            if k not in EXCLUDED_METADATA_KEYS
        }
        if tags := filter_user_tags(task.config.get("tags")):
            md["tags"] = tags
        if md:
            payload["metadata"] = md
        return payload

    # ------------------------------------------------------------------ node execution

    def node_writes(self, task: Task, ret: Any) -> tuple[list[Write], Sequence[BranchSpec]]:
        """What a node's return value writes, before its routers run."""
        graph = self.graph
        keys = graph.input_key_set if task.name == START else graph.state_key_set
        writes = updates_from(ret, keys)
        writes.extend(control_from(ret, graph.nodes))
        writes.extend((BRANCH_PREFIX + t, None) for t in graph.edges_from.get(task.name, ()))
        writes.extend((chan, task.name) for chan in graph.joins_from.get(task.name, ()))
        return writes, graph.branches.get(task.name, ())

    def router_input(self, task: Task, writes: list[Write], branch: BranchSpec) -> Any:
        """The state a router sees: the step's state plus this task's own writes."""
        local = {k: c.copy() for k, c in self.channels.items()}
        grouped: dict[str, list[Any]] = defaultdict(list)
        for chan, value in writes:
            if chan in local:
                grouped[chan].append(value)
        for chan, values in grouped.items():
            local[chan].update(values)
        state = {k: c.value for k, c in local.items() if c.value is not MISSING}
        mapper = self.graph.state_mapper
        return mapper(state) if mapper is not None else state

    def branch_writes(self, branch: BranchSpec, result: Any) -> list[Write]:
        out: list[Write] = []
        for dest in branch.destinations(result):
            if isinstance(dest, Send):
                out.append((TASKS, dest))
            elif dest != END:
                if dest not in self.graph.nodes:
                    raise ValueError(f"Router {branch.path.name!r} routed to unknown node {dest!r}")
                out.append((BRANCH_PREFIX + dest, None))
        return out

    def start_config(self, task: Task, run_manager: Any) -> RunnableConfig:
        return patch_config(task.config, callbacks=run_manager.get_child("seq:step:1"))

    def execute(self, task: Task) -> None:
        """Run one task to completion in the current thread (context already private)."""
        if task.name == START:
            writes, branches = self.node_writes(task, task.input)
            for branch in branches:
                arg = self.router_input(task, writes, branch)
                writes.extend(self.branch_writes(branch, branch.path.call(arg, self.config, None)))
            task.writes.extend(writes)
            return
        spec = self.graph.nodes[task.name]
        manager = get_callback_manager_for_config(task.config)
        run = manager.on_chain_start(None, task.input, name=task.name)
        try:
            child = self.start_config(task, run)
            var_child_runnable_config.set(child)
            try:
                ret = spec.action.call(task.input, child, task.ctx)
            except ParentCommand as pc:
                if not spec.is_subgraph:
                    raise
                ret = as_own_command(pc.command)
            writes, branches = self.node_writes(task, ret)
            for branch in branches:
                arg = self.router_input(task, writes, branch)
                writes.extend(self.branch_writes(branch, branch.path.call(arg, child, task.ctx)))
            task.writes.extend(writes)
            tap_sync(run, ret)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(ret)

    async def aexecute(self, task: Task) -> None:
        """Async twin of :meth:`execute` (runs inside its own asyncio task/context)."""
        if task.name == START:
            self.execute(task) if not self._start_has_async_router() else await self._astart(task)
            return
        spec = self.graph.nodes[task.name]
        manager = get_async_callback_manager_for_config(task.config)
        run = await manager.on_chain_start(None, task.input, name=task.name)
        try:
            child = self.start_config(task, run)
            var_child_runnable_config.set(child)
            try:
                ret = await spec.action.acall(task.input, child, task.ctx)
            except ParentCommand as pc:
                if not spec.is_subgraph:
                    raise
                ret = as_own_command(pc.command)
            writes, branches = self.node_writes(task, ret)
            for branch in branches:
                arg = self.router_input(task, writes, branch)
                if branch.path.is_async:
                    result = await branch.path.acall(arg, child, task.ctx)
                else:
                    result = branch.path.call(arg, child, task.ctx)
                writes.extend(self.branch_writes(branch, result))
            task.writes.extend(writes)
            await tap_async(run, ret)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(ret)

    def _start_has_async_router(self) -> bool:
        return any(b.path.is_async for b in self.graph.branches.get(START, ()))

    async def _astart(self, task: Task) -> None:
        writes, branches = self.node_writes(task, task.input)
        for branch in branches:
            arg = self.router_input(task, writes, branch)
            writes.extend(
                self.branch_writes(branch, await branch.path.acall(arg, self.config, None))
            )
        task.writes.extend(writes)

    # ------------------------------------------------------------------ commit

    def commit(self, task: Task, exc: BaseException | None) -> None:
        """Record a finished task: save its writes, stream its update / result."""
        if exc is None:
            if all(chan in CONTROL_WRITES for chan, _ in task.writes):
                task.writes.append((NO_WRITES, None))
            self._put_writes(task.id, task.writes)
            self._output_writes(task, task.writes)
        elif isinstance(exc, GraphInterrupt):
            self.interrupted = True
            if exc.interrupts:
                self.interrupts.extend(exc.interrupts)
                writes: list[Write] = [(INTERRUPT, exc.interrupts)]
                writes.extend(w for w in task.writes if w[0] == RESUME)
                self._put_writes(task.id, writes)
                self._output_writes(task, writes)
        elif isinstance(exc, ParentCommand | StreamClosed):
            if self.error is None:
                self.error = exc
        else:
            task.writes.append((ERROR, exc))
            self._put_writes(task.id, task.writes)
            self._output_writes(task, task.writes)
            if self.error is None and not isinstance(exc, asyncio.CancelledError):
                self.error = exc

    def _put_writes(self, task_id: str, writes: Sequence[Write]) -> None:
        if not writes:
            return
        if all(w[0] in WRITES_IDX_MAP for w in writes):
            writes = list({w[0]: w for w in writes}.values())
        if task_id == NULL_TASK_ID:
            special = {c for c, _ in writes if c in WRITES_IDX_MAP}
            self.pending_writes[:] = [
                w for w in self.pending_writes if not (w[0] == task_id and w[1] in special)
            ]
        else:
            self.pending_writes[:] = [w for w in self.pending_writes if w[0] != task_id]
        self.pending_writes.extend((task_id, c, v) for c, v in writes)
        if self.checkpointer is not None and self.checkpoint_config is not None:
            # errors are saved as their repr (as LangGraph does): an exception
            # class that can't be rebuilt must not make the checkpoint unreadable
            saved = [(c, repr(v) if c == ERROR else v) for c, v in writes]
            self.checkpointer.put_writes(self.checkpoint_config, saved, task_id)

    def _output_writes(self, task: Task, writes: Sequence[Write], cached: bool = False) -> None:
        if task.hidden or not writes:
            return
        first = writes[0][0]
        if first == INTERRUPT:
            ints = tuple(
                i
                for c, v in writes
                if c == INTERRUPT
                for i in (v if isinstance(v, Sequence) else (v,))
            )
            if "updates" in self.modes:
                self._emit("updates", {INTERRUPT: ints})
            if "values" in self.modes:
                state: dict[str, Any] = self.read_state()
                state[INTERRUPT] = ints
                self._emit("values", state)
        elif first != ERROR and "updates" in self.modes:
            self._emit("updates", self._updates_payload(task, writes, cached))
        if not cached and self._wants("tasks"):
            self._emit_debug("tasks", self._task_result_payload(task, writes))

    def _updates_payload(self, task: Task, writes: Sequence[Write], cached: bool) -> dict[str, Any]:
        keys = self.graph.output_key_set
        mine = [(c, v) for c, v in writes if c in keys]
        value: Any
        if not mine:
            value = None
        elif any(n > 1 for n in Counter(c for c, _ in mine).values()):
            value = [{c: v} for c, v in mine]
        else:
            value = dict(mine)
        out: dict[str, Any] = {task.name: value}
        if cached:
            out["__metadata__"] = {"cached": True}
        return out

    def _task_result_payload(self, task: Task, writes: Sequence[Write]) -> dict[str, Any]:
        keys = self.graph.state_key_set
        return {
            "id": task.id,
            "name": task.name,
            "error": next((v for c, v in writes if c == ERROR), None),
            "result": fold_writes([(c, v) for c, v in writes if c in keys]),
            "interrupts": [
                asdict(i)
                for c, v in writes
                if c == INTERRUPT
                for i in (v if isinstance(v, Sequence) else (v,))
            ],
        }

    # ------------------------------------------------------------------ end of step

    def end_step(self) -> None:
        """All tasks of the step finished: raise their failure, or apply their writes."""
        if self.error is not None:
            raise self.error
        if self.interrupted:
            raise GraphInterrupt(tuple(self.interrupts))
        updated = self._apply([(t, t.writes) for t in self.tasks])
        if self._wants("values") and not updated.isdisjoint(self.graph.output_key_set):
            self._emit("values", self.read_state())
        self.pending_writes.clear()
        self._put_checkpoint("loop")
        if self.interrupt_after and self._should_interrupt(self.interrupt_after, self.tasks):
            self.status = "interrupt_after"
            self.tasks = self._prepare_tasks()
            self._emit_checkpoint()
            raise GraphInterrupt()
        self.resuming = False

    def _apply(self, tasks: Sequence[tuple[Task | None, Sequence[Write]]]) -> set[str]:
        """Fold a step's writes into the channels (reducers run here, in task-path order)."""
        ordered = sorted(
            (tw for tw in tasks if tw[0] is not None),
            key=lambda tw: _path_key(tw[0].path),  # type: ignore[union-attr]
        )
        ordered = [tw for tw in tasks if tw[0] is None] + ordered
        graph = self.graph
        bump = any(t is not None for t, _ in ordered)
        # triggers the tasks consumed
        for task, _ in ordered:
            if task is None:
                continue
            for trig in task.triggers:
                seen = self.barriers.get(trig)
                if seen is not None and seen >= graph.joins[trig][0]:
                    del self.barriers[trig]
        by_channel: dict[str, list[Any]] = defaultdict(list)
        branches: set[str] = set()
        sends: list[Send] = []
        for _, writes in ordered:
            for chan, value in writes:
                if chan in self.channels:
                    by_channel[chan].append(value)
                elif chan.startswith(BRANCH_PREFIX):
                    branches.add(chan[len(BRANCH_PREFIX) :])
                elif chan == TASKS:
                    sends.append(value)
                elif chan in graph.joins:
                    self.barriers.setdefault(chan, set()).add(value)
        updated = set()
        for chan, values in by_channel.items():
            if self.channels[chan].update(values):
                updated.add(chan)
        if bump:
            self.branches = branches
            self.sends = sends
            self.start_input = MISSING
        else:  # null writes (a Command input) add to what is already triggered
            self.branches |= branches
            self.sends.extend(sends)
        return updated

    # ------------------------------------------------------------------ checkpoints

    def _put_checkpoint(self, source: str) -> None:
        self.metadata = {"source": source, "step": self.step, "parents": dict(self.checkpoint_map)}
        self.checkpoint_id = str(uuid7())
        if self.checkpointer is not None:
            values: dict[str, Any] = {
                k: c.value for k, c in self.channels.items() if c.value is not MISSING
            }
            if self.start_input is not MISSING:
                values[START] = self.start_input
            checkpoint: Checkpoint = {
                "v": 1,
                "id": self.checkpoint_id,
                "ts": datetime.now(UTC).isoformat(),
                "channel_values": values,
                "branches": sorted(self.branches),
                "sends": list(self.sends),
                "barriers": {k: sorted(v) for k, v in self.barriers.items()},
            }
            parent = self.checkpoint_config
            put_config: RunnableConfig = {
                "configurable": {
                    "thread_id": self.thread_id,
                    "checkpoint_ns": self.ns_str,
                    "checkpoint_id": (parent or {}).get(CONF, {}).get("checkpoint_id"),
                },
                "metadata": self.config.get("metadata", {}),
            }
            self.prev_checkpoint_config = parent
            self.checkpoint_config = self.checkpointer.put(put_config, checkpoint, self.metadata)
        self.step += 1

    def _emit_checkpoint(self) -> None:
        if self.checkpointer is None or not self._wants("checkpoints"):
            return
        self._emit_debug(
            "checkpoints",
            {
                "config": self._public_config(self.checkpoint_config),
                "parent_config": self._public_config(self.prev_checkpoint_config),
                "values": self.read_state(self.graph.state_keys),
                "metadata": self.metadata,
                "next": [t.name for t in self.tasks],
                "tasks": [
                    checkpoint_task(t)
                    for t in task_states(
                        self.graph, self.tasks, self.pending_writes, self.ns_str, self.thread_id
                    )
                ],
            },
        )

    def _public_config(self, config: RunnableConfig | None) -> RunnableConfig | None:
        if config is None:
            return None
        conf = dict(config[CONF])
        out = {
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "thread_id": conf.get("thread_id"),
            "checkpoint_id": conf.get("checkpoint_id"),
        }
        if self.metadata.get("parents"):
            out["checkpoint_map"] = {
                **self.metadata["parents"],
                self.ns_str: conf.get("checkpoint_id"),
            }
        return {"configurable": out}

    # ------------------------------------------------------------------ exit

    def finish(self, exc: BaseException | None) -> BaseException | None:
        """Close the run; return the exception the consumer should see (``None`` if done)."""
        if isinstance(exc, GraphInterrupt) and not self.nested:
            if self.pending_writes and any(t.writes for t in self.tasks):
                updated = self._apply([(t, t.writes) for t in self.tasks])
                if self._wants("values") and not updated.isdisjoint(self.graph.output_key_set):
                    self._emit("values", self.read_state())
            if not exc.interrupts and "updates" in self.modes:
                self._emit("updates", {INTERRUPT: ()})
            self.output = self.read_state()
            return None
        if exc is None:
            self.output = self.read_state()
            if self.status == "out_of_steps":
                return GraphRecursionError(
                    f"Recursion limit of {self.config.get('recursion_limit', 25)} reached "
                    "without hitting a stop condition. You can increase the limit by setting "
                    "the `recursion_limit` config key."
                )
        return exc

    # ------------------------------------------------------------------ helpers

    def _task_interrupts(self) -> dict[str, list[Interrupt]]:
        out: dict[str, list[Interrupt]] = defaultdict(list)
        for tid, chan, value in self.pending_writes:
            if chan == INTERRUPT and tid != NULL_TASK_ID:
                out[tid].extend(value if isinstance(value, Sequence) else [value])
        return out

    def _task_finished(self, task_id: str) -> bool:
        return any(t == task_id and c not in CONTROL_WRITES for t, c, _ in self.pending_writes)


# ---------------------------------------------------------------------- drivers

_DONE = object()


def _drain_sync(q: queue.SimpleQueue[Any]) -> Iterator[StreamPart]:
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


def _execute_capturing(run: Run, task: Task) -> BaseException | None:
    try:
        run.execute(task)
    except BaseException as exc:  # handed to commit, re-raised at end of step
        return exc
    return None


def _live_in_greenlet(
    run: Run, chan: SyncStreamQueue, task: Task, shape: Callable[[StreamPart], Any]
) -> Iterator[Any]:
    """Run a step's only task in a greenlet of the caller's thread, yielding its items live.

    The task's puts switch back here with the item (see ``SyncStreamQueue``), so a
    token costs two greenlet switches instead of a cross-thread queue hand-off,
    and the step needs no worker thread. A greenlet can only be resumed in the
    thread that started it, so a resume from elsewhere raises
    ``StreamThreadError`` instead of hanging. Closing the stream throws
    ``StreamClosed`` into the greenlet that last put, which unwinds the node
    (and closes its model stream) before ``close()`` returns.
    """
    q = chan.q
    owner, owner_id = threading.current_thread(), threading.get_ident()
    worker = greenlet(_execute_capturing)
    worker.gr_context = contextvars.copy_context()
    resume: greenlet = worker
    args: tuple[Any, ...] = (run, task)
    try:
        while True:
            if threading.get_ident() != owner_id:
                raise StreamThreadError(owner.name, threading.current_thread().name)
            # whoever resumes this generator is where the task's items must go
            chan.consumer = worker.parent = getcurrent()
            out = resume.switch(*args)
            args = ()
            if worker.dead:
                chan.consumer = None
                run.commit(task, out)
                return
            item, producer = out, chan.producer
            chan.producer = None
            if producer is not None:  # always set by the put that switched here
                resume = producer
            for queued in _drain_sync(q):  # put earlier by the node's own threads
                yield shape(queued)
            yield shape(item)
    finally:
        chan.consumer = None
        chan.closed = chan.closed or not worker.dead
        if not worker.dead and threading.get_ident() == owner_id:
            while not worker.dead:
                worker.parent = getcurrent()
                (worker if resume.dead else resume).throw(StreamClosed())
        # from another thread the node stays paused in its own thread, where
        # greenlet unwinds it (GreenletExit) once nothing references it


def drive_sync(
    run: Run, chan: SyncStreamQueue, shape: Callable[[StreamPart], Any]
) -> Iterator[Any]:
    """Run the loop in the caller's thread.

    A step's only task runs inline when no output is live. When it is, the
    task runs in a greenlet if the caller is the main thread, in a worker
    thread otherwise; parallel tasks always run in worker threads, like
    LangGraph's.
    """
    q = chan.q
    executor: concurrent.futures.ThreadPoolExecutor | None = None

    def in_thread(task: Task) -> None:
        exc = _execute_capturing(run, task)
        q.put((_DONE, task, exc))

    failure: BaseException | None = None
    try:
        try:
            run.start()
            for item in _drain_sync(q):
                yield shape(item)
            while (tasks := run.tick()) is not None:
                for item in _drain_sync(q):
                    yield shape(item)
                if len(tasks) == 1 and (not run.live or tasks[0].hidden):
                    task = tasks[0]
                    run.commit(task, contextvars.copy_context().run(_execute_capturing, run, task))
                elif len(tasks) == 1 and threading.current_thread() is threading.main_thread():
                    # outside the main thread a pool (web server, Gradio) may resume
                    # this generator in another thread: a greenlet could not follow
                    yield from _live_in_greenlet(run, chan, tasks[0], shape)
                elif tasks:
                    # about to wait: starting a worker thread can hand it the GIL
                    # before this thread reaches chan.get()
                    chan.idle = True
                    if executor is None:
                        executor = concurrent.futures.ThreadPoolExecutor(
                            thread_name_prefix="streamtap-graph"
                        )
                    for t in tasks:
                        executor.submit(contextvars.copy_context().run, in_thread, t)
                    pending = len(tasks)
                    while pending:
                        item = chan.get()
                        if item[0] is _DONE:
                            run.commit(item[1], item[2])
                            pending -= 1
                        else:
                            yield shape(item)
                for item in _drain_sync(q):
                    yield shape(item)
                run.end_step()
                for item in _drain_sync(q):
                    yield shape(item)
        except GeneratorExit:
            raise
        except BaseException as exc:
            failure = exc
        failure = run.finish(failure)
        for item in _drain_sync(q):
            if item[0] is not _DONE:
                yield shape(item)
        if failure is not None:
            raise failure
    finally:
        chan.closed = True
        if executor is not None:
            # threads can't be cancelled: their next put raises StreamClosed, so wait
            executor.shutdown(wait=True)


async def drive_async(
    run: Run, chan: AsyncStreamQueue, shape: Callable[[StreamPart], Any]
) -> AsyncGenerator[Any, None]:
    """Run the loop on the event loop; nodes are asyncio tasks, sync nodes run in threads."""
    q = chan.q
    running: dict[asyncio.Task[None], Task] = {}

    async def as_task(task: Task) -> None:
        exc: BaseException | None = None
        try:
            await run.aexecute(task)
        except BaseException as e:
            exc = e
        if not chan.closed:
            q.put_nowait((_DONE, task, exc))

    def drain() -> list[Any]:
        out = []
        while True:
            try:
                out.append(q.get_nowait())
            except asyncio.QueueEmpty:
                return out

    failure: BaseException | None = None
    try:
        try:
            run.start()
            for item in drain():
                yield shape(item)
            while (tasks := run.tick()) is not None:
                for item in drain():
                    yield shape(item)
                if len(tasks) == 1 and (not run.live or tasks[0].hidden):
                    task = tasks[0]
                    exc: BaseException | None = None
                    try:
                        await asyncio.create_task(
                            run.aexecute(task), context=contextvars.copy_context()
                        )
                    except asyncio.CancelledError:
                        raise
                    except BaseException as e:
                        exc = e
                    run.commit(task, exc)
                elif tasks:
                    chan.idle = True
                    for t in tasks:
                        at = asyncio.create_task(as_task(t), context=contextvars.copy_context())
                        running[at] = t
                    pending = len(tasks)
                    while pending:
                        item = await chan.get()
                        if item[0] is _DONE:
                            done_task, exc = item[1], item[2]
                            for at, t in list(running.items()):
                                if t is done_task:
                                    del running[at]
                            run.commit(done_task, exc)
                            pending -= 1
                            if run.error is not None:
                                for at in running:
                                    at.cancel()
                        else:
                            yield shape(item)
                for item in drain():
                    yield shape(item)
                run.end_step()
                for item in drain():
                    yield shape(item)
        except (GeneratorExit, asyncio.CancelledError):
            raise
        except BaseException as exc:
            failure = exc
        failure = run.finish(failure)
        for item in drain():
            if item[0] is not _DONE:
                yield shape(item)
        if failure is not None:
            raise failure
    finally:
        chan.closed = True
        for at in running:
            at.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
