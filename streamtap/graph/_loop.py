"""The step loop: the state and bookkeeping of one ``stream()`` call, read top to bottom.

A run of a graph is a sequence of Pregel super-steps. Each step:

1. ``tick``     – derive the step's tasks from what the previous step triggered
                  (edges, routers, ``Send``s, joins); emit ``checkpoints``/``tasks``.
2. execute      – the runner (``_runner``) runs every task (``_execute``); each
                  node's writes stay private to it.
3. ``commit``   – as each task finishes: record its writes (and save them as
                  pending writes), emit its ``updates`` / ``tasks`` result.
4. ``end_step`` – apply all writes together through the reducers, emit
                  ``values``, save a checkpoint, honour ``interrupt_after``.

The decisions themselves are pure functions of ``_algo``; the payloads are
built by ``_emit``. This module holds the state between them: channels, what
is triggered, pending writes, the checkpoint chain and the run's outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from langchain_core.callbacks import CallbackManagerForChainRun
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointTuple,
    PendingWrite,
)

from streamtap.graph._algo import (
    Task,
    apply_writes,
    command_writes,
    empty_checkpoint,
    increment,
    mark_interrupt_seen,
    prepare_tasks,
    read_channels,
    record_writes,
    restore_channels,
    resume_values,
    should_interrupt,
    writes_by_task,
)
from streamtap.graph._cache import CacheKey, match_cached, store_cached
from streamtap.graph._calls import CallRunner, accept_call
from streamtap.graph._checkpointing import CheckpointChain
from streamtap.graph._config import merge_configs, patch_config
from streamtap.graph._constants import (
    CONF,
    CONTROL_WRITES,
    ERROR,
    ERROR_SOURCE_NODE,
    INPUT,
    INTERRUPT,
    KEY_TASK,
    MISSING,
    NO_WRITES,
    NS_SEP,
    NULL_TASK_ID,
    PREVIOUS,
    RESUME,
    ROOT,
    START,
)
from streamtap.graph._emit import (
    Sinks,
    task_start_payload,
)
from streamtap.graph._error_handlers import handler_task, resumed_handlers, routes_to_handler
from streamtap.graph._prebuilt_compat import task_readers
from streamtap.graph._runtime import ReplayState, Scratchpad, Sink, TaskContext
from streamtap.graph._saving import Saves
from streamtap.graph._spec import GraphSpec
from streamtap.graph._stream_queue import StreamClosed
from streamtap.graph._writes import ParentCommand, Write, own_ns
from streamtap.graph.checkpoint.serde import harden, is_hardened
from streamtap.graph.errors import (
    EmptyInputError,
    GraphDrained,
    GraphInterrupt,
    GraphRecursionError,
)
from streamtap.graph.runtime import DEFAULT_RUNTIME, KEY_RUNTIME, ExecutionInfo, Runtime
from streamtap.graph.types import Command, Interrupt


class _NoRunManager:
    """Stands in for the callback run manager when tasks are only listed (get_state)."""

    def get_child(self, tag: str | None = None) -> None:
        return None


class StepLoop(CheckpointChain):
    """The state and bookkeeping of one ``stream()`` call of one graph (or subgraph)."""

    def __init__(
        self,
        graph: GraphSpec,
        input: Any,
        config: RunnableConfig,
        *,
        sink: Sink,
        subgraphs: bool,
        run_manager: CallbackManagerForChainRun | Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        durability: str | None = None,
        output_keys: Sequence[str] | None = None,
    ) -> None:
        self.graph = graph
        # what ``values`` / ``updates`` show and the run returns: invoke()'s output schema
        # keys, stream()'s every channel (LangGraph's ``output_keys``)
        self.output_keys = tuple(output_keys) if output_keys is not None else graph.output_keys
        self.output_key_set = frozenset(self.output_keys)
        self.input = input
        self.config = config
        self.run_manager = run_manager  # langchain-core's, for the graph's chain run
        conf = config[CONF]
        # context, store, control: the caller (compiled.stream) put this run's there
        self.runtime: Runtime[Any] = conf.get(KEY_RUNTIME) or DEFAULT_RUNTIME
        parent: TaskContext | None = conf.get(KEY_TASK)
        self.parent = parent
        self.nested = parent is not None
        # when checkpoints are written: each step (sync/async) or once at exit;
        # a subgraph does as the graph that runs it
        self.durability = parent.durability if parent is not None else durability or "async"
        self.ns_str: str = parent.ns if parent is not None else ""
        if graph.checkpointer is True and self.ns_str:
            # a stateful subgraph: one namespace per node name, whatever task runs it,
            # so its state outlives the call (LangGraph's ``_own_checkpoint_config``)
            self.ns_str = own_ns(self.ns_str)
        if parent is not None and (nth := next(parent.subgraph_calls)):
            # the task's n-th graph call gets a namespace of its own (as LangGraph)
            self.ns_str = f"{self.ns_str}{NS_SEP}{nth}"
        self.ns: tuple[str, ...] = tuple(self.ns_str.split(NS_SEP)) if self.ns_str else ()
        inherited = parent.parent_sink if parent is not None else None
        self.out = Sinks(self.ns, [sink] if inherited is None else [sink, inherited])
        # what this loop's tasks (and the subgraphs they run) stream to, besides their own consumer
        self.child_sink: Sink | None = sink if subgraphs else inherited
        self.modes = self.out.modes
        own_modes = sink[1]
        self.live = subgraphs or not own_modes.isdisjoint(("messages", "custom", "tools"))
        self.interrupt_before = interrupt_before or graph.interrupt_before
        self.interrupt_after = interrupt_after or graph.interrupt_after
        if graph.checkpointer is False:
            self.checkpointer: BaseCheckpointSaver[Any] | None = None
        elif isinstance(graph.checkpointer, BaseCheckpointSaver):
            self.checkpointer = graph.checkpointer
        else:
            self.checkpointer = parent.checkpointer if parent is not None else None
            if self.checkpointer is not None and is_hardened(self.checkpointer):
                # the parent's saver must also load what this subgraph's state holds
                harden(self.checkpointer, allow=graph.checkpoint_types)
        thread_id = conf.get("thread_id")
        # savers key threads by string (a UUID thread id must find its own checkpoints)
        self.thread_id = str(thread_id) if thread_id is not None else None
        if self.checkpointer is not None and self.thread_id is None:
            raise ValueError(
                "Checkpointer requires one or more of the following 'configurable' keys: "
                "thread_id, checkpoint_ns, checkpoint_id"
            )
        # the checkpoint each namespace is addressed at: the ancestors' (a subgraph's), plus
        # whatever the caller's config names (a subgraph snapshot's config time-travels
        # into that subgraph's checkpoint); also stored as the checkpoints' ``parents``
        self.checkpoint_map: dict[str, str] = dict(
            parent.checkpoint_map if parent else conf.get("checkpoint_map") or {}
        )
        self.resume_map: dict[str, Any] | None = parent.resume_map if parent else None
        self.replay: ReplayState | None = parent.replay if parent else None
        self.saves = Saves(self.checkpointer) if self.checkpointer is not None else None
        self.next_version = (
            self.checkpointer.get_next_version if self.checkpointer is not None else increment
        )

        # state: LangGraph's checkpoint and the channels it describes
        self.checkpoint: Checkpoint = empty_checkpoint()
        self.channels = restore_channels(graph, self.checkpoint)
        self.updated_channels: set[str] | None = None
        self.saved_versions: dict[str, Any] = {}
        self.pending_writes: list[PendingWrite] = []
        self.exit_writes: list[tuple[str, Sequence[Write]]] = []  # durability="exit"
        self.checkpoint_config: RunnableConfig | None = None
        self.prev_checkpoint_config: RunnableConfig | None = None
        self.metadata: dict[str, Any] = {}
        self.step = -1
        self.stop = 0
        self.tasks: list[Task] = []
        self.scheduled: list[Task] = []  # error handlers to run in this step (_error_handlers)
        self.cache_keys: dict[str, CacheKey] = {}  # task id -> its key (_cache)
        self.calls: CallRunner | None = None  # runs @task calls (the runner sets it)
        self.resuming = False
        self.replaying = False  # time travel: finished tasks re-run, their writes not reused
        self.replay_entered = False  # a subgraph started from a parent replay's point
        # outcome
        self.status = "pending"
        self.error: BaseException | None = None
        self.interrupts: list[Interrupt] = []
        self.interrupted = False
        self.output: Any = None

    @property
    def checkpoint_id(self) -> str:
        return self.checkpoint["id"]

    @classmethod
    def at_checkpoint(
        cls, graph: GraphSpec, saved: CheckpointTuple, saver: BaseCheckpointSaver[Any]
    ) -> StepLoop:
        """A loop that only reads ``saved`` (for ``get_state``): its step's tasks prepared."""
        ns = saved.config[CONF].get("checkpoint_ns", "")
        loop = cls(
            graph,
            None,
            {CONF: {"thread_id": saved.config[CONF]["thread_id"]}, "recursion_limit": 25},
            sink=(lambda part: None, frozenset()),
            subgraphs=False,
            run_manager=_NoRunManager(),
            interrupt_before=None,
            interrupt_after=None,
        )
        loop.checkpointer = saver
        loop.next_version = saver.get_next_version
        loop.ns_str = ns
        loop.ns = loop.out.ns = tuple(ns.split(NS_SEP)) if ns else ()
        loop._load(saved)
        loop.checkpoint_map = dict(saved.metadata.get("parents", {}))
        loop.tasks = loop._prepare_tasks()
        loop._apply_null_writes()
        return loop

    def read_state(self, keys: Sequence[str] | None = None) -> Any:
        return read_channels(self.channels, keys if keys is not None else self.output_keys)

    # ------------------------------------------------------------------ start

    def lookup(self) -> tuple[RunnableConfig, str | None] | None:
        """Where to start from: the config to load, and the id its checkpoint must precede
        (a subgraph re-entered by its parent's replay); ``None`` without a saver."""
        if self.checkpointer is None:
            return None
        conf = self.config[CONF]
        lookup = {"thread_id": self.thread_id, "checkpoint_ns": self.ns_str}
        if not self.nested and conf.get("checkpoint_id"):
            lookup["checkpoint_id"] = conf["checkpoint_id"]
            if conf.get("checkpoint_ns") and conf.get("checkpoint_map"):
                # a subgraph's snapshot config: this graph's checkpoint at the time
                lookup["checkpoint_id"] = conf["checkpoint_map"].get("", conf["checkpoint_id"])
        if self.nested and (addressed := self.checkpoint_map.get(self.ns_str)):
            # time travel to this subgraph's own checkpoint (LangGraph's checkpoint_map entry)
            lookup["checkpoint_id"] = addressed
            return {"configurable": lookup}, None
        before = None
        if self.replay is not None and self.replay.first_visit(self.ns_str):
            before = self.replay.checkpoint_id
            # re-entered by a parent's replay: the input is applied again on that state
            # (nodes trigger afresh), it is not a resume (LangGraph drops RESUMING here)
            self.replay_entered = True
        return {"configurable": lookup}, before

    def start(self, saved: CheckpointTuple | None = None, superseded: bool = False) -> None:
        """Start from ``saved`` (the runner loaded it), then apply the input or the command.

        ``superseded``: ``saved`` was addressed by id and the thread has moved past it; a
        resume there re-runs its finished tasks instead of reusing their writes, which
        belong to the branch the thread took since (LangGraph's rule).
        """
        if saved is not None:
            self._load(saved)
        self.stop = self.step + self.config.get("recursion_limit", 25) + 1
        is_command = isinstance(self.input, Command)
        # time travel: a run addressed at a saved checkpoint that is not the answer to
        # its interrupt re-runs what followed (interrupts fire again) on a fork of it
        addressed = (
            self.ns_str in self.checkpoint_map
            if self.nested
            else bool(self.config[CONF].get("checkpoint_id"))
        )
        traveling = (
            saved is not None and addressed and not (is_command and self.input.resume is not None)
        )
        if saved is not None and (
            self.parent.resuming and not self.replay_entered
            if self.parent is not None
            else self.input is None or is_command
        ):
            self.resuming = True
            # an update's or fork's own checkpoint is not forked again, unless the thread
            # moved past it (its other children would see what this run stores on it)
            forks = traveling and (
                self.metadata.get("source") not in ("update", "fork") or superseded
            )
            self.replaying = traveling or superseded
            if traveling:
                self.pending_writes = [w for w in self.pending_writes if w[1] != RESUME]
                # subgraphs re-entered by this replay start from their state before it
                # (a fork's or an update's: before the checkpoint it was made from)
                bound = saved.checkpoint["id"]
                if self.metadata.get("source") in ("update", "fork") and saved.parent_config:
                    bound = saved.parent_config[CONF].get("checkpoint_id") or bound
                self.replay = ReplayState(bound)
            if is_command:
                self._apply_command(self.input, save=not forks)
            self._apply_null_writes()
            mark_interrupt_seen(self.checkpoint, self.channels)
            if forks:
                self.pending_writes.clear()
                self._put_checkpoint("fork")
            if self.out.wants("values"):
                self.out.emit("values", self.read_state())
        elif self.input is not None:
            if is_command and self.input.resume is not None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            # a new input discards whatever the previous run left triggered
            discarded = self._prepare_tasks(configure=False)
            start = Task(NULL_TASK_ID, INPUT, (), (), None, "")
            start.writes = [(START, self.input)]
            self.updated_channels = apply_writes(
                self.graph, self.checkpoint, self.channels, [*discarded, start], self.next_version
            )
            self.pending_writes.clear()
            self._put_checkpoint("input")
        else:
            raise EmptyInputError(f"Received no input for {START}")

    def _apply_command(self, cmd: Command, *, save: bool = True) -> None:
        writes, resume_map = command_writes(
            cmd,
            self.checkpointer is not None,
            self.pending_writes,
            root=self.graph.state_keys == (ROOT,),
        )
        if resume_map is not None:
            self.resume_map = resume_map
        if not writes and self.resume_map is None:
            raise EmptyInputError("Received empty Command input")
        if writes and save:
            self._put_writes(NULL_TASK_ID, writes)
        elif writes:  # carried into a fork: applied, never stored on the addressed checkpoint
            record_writes(self.pending_writes, NULL_TASK_ID, writes)

    def _apply_null_writes(self) -> None:
        null = [(c, v) for t, c, v in self.pending_writes if t == NULL_TASK_ID]
        if null:
            task = Task(NULL_TASK_ID, INPUT, (), (), None, "")
            task.writes = null
            self._apply([task])

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
        reapplies = self.resuming and not self.replaying and bool(self.pending_writes)
        replayed = self._reapply_finished() if reapplies else []
        if reapplies and self.graph.error_handlers:
            tasks.extend(resumed_handlers(self, tasks, self.pending_writes))
        if self.interrupt_before and should_interrupt(
            self.checkpoint, self.interrupt_before, tasks
        ):
            self.status = "interrupt_before"
            raise GraphInterrupt()
        if self.runtime.drain_requested:
            # a graceful stop between steps (after the breakpoint check: a resume passes
            # the next step's breakpoints); the checkpoint is saved, the run can continue
            self.status = "draining"
            return None
        for task in tasks:
            if not task.hidden:
                self.emit_task_start(task)
        for task in replayed:
            self._output_writes(task, task.writes, cached=True)
        if self.graph.cache is not None:
            for task in match_cached(self.graph, self.cache_keys, tasks):
                self._put_writes(task.id, task.writes)
                self._output_writes(task, task.writes, cached=True)
        return [t for t in tasks if not t.writes]

    def _prepare_tasks(self, *, configure: bool = True) -> list[Task]:
        tasks = prepare_tasks(
            self.graph,
            self.checkpoint,
            self.channels,
            self.updated_channels,
            ns_str=self.ns_str,
            step=self.step,
            stop=self.stop,
        )
        if configure:
            for task in tasks:
                if not task.hidden:
                    self._prepare_to_execute(task)
        return tasks

    def _prepare_to_execute(self, task: Task, caller: Task | None = None) -> None:
        """Give a node's task its config: metadata, callbacks and its task context; a
        ``@task`` call's (``caller`` made it) is built on its caller's config."""
        spec = self.graph.nodes[task.name] if caller is None else None
        metadata: dict[str, Any] = {
            "langgraph_step": self.step,
            "langgraph_node": task.name,
            "langgraph_triggers": task.triggers,
            "langgraph_path": task.path,
            "langgraph_checkpoint_ns": task.ns,
        }
        if spec is not None and spec.metadata:
            metadata.update(spec.metadata)
        resume, null_resume = resume_values(task, self.pending_writes, self.resume_map)
        above = caller.ctx if caller is not None else self.parent
        ctx = TaskContext(
            task_id=task.id,
            ns=task.ns,
            writer=self.out.custom_writer(),
            scratchpad=Scratchpad(
                resume,
                null_resume,
                self.pending_writes,
                above.scratchpad if above is not None else None,
            ),
            send=task.writes.extend,
            checkpointer=self.checkpointer,
            parent_sink=self.child_sink,
            resuming=self.resuming,
            resume_map=self.resume_map,
            checkpoint_map={**self.checkpoint_map, self.ns_str: self.checkpoint_id},
            durability=self.durability,
            replay=self.replay,
            thread_id=self.thread_id,
        )
        task.ctx = ctx
        ctx.call = partial(accept_call, self, task)
        conf = {k: v for k, v in self.config[CONF].items() if k not in ("checkpoint_id", KEY_TASK)}
        conf[KEY_TASK] = ctx
        conf["checkpoint_ns"] = task.ns
        conf["__pregel_durability"] = self.durability  # LangGraph's key, read by some nodes
        conf[KEY_RUNTIME] = self.runtime.override(
            stream_writer=ctx.writer,
            execution_info=ExecutionInfo(
                checkpoint_id=self.checkpoint_id,
                checkpoint_ns=task.ns,
                task_id=task.id,
                thread_id=self.thread_id,
                run_id=str(rid) if (rid := self.config.get("run_id")) else None,
                node_first_attempt_time=time.time(),
            ),
            previous=self._previous(),
        )
        if caller is None:
            conf.update(task_readers(self.graph, self.channels, task))  # langgraph.prebuilt
        callbacks = task.call.callbacks if caller is not None else None
        task.config = patch_config(
            merge_configs(self.config if caller is None else caller.config, {"metadata": metadata}),
            run_name=task.name,
            callbacks=callbacks or self.run_manager.get_child(f"graph:step:{self.step}"),
        )
        task.config[CONF] = conf

    def _reapply_finished(self) -> list[Task]:
        """Tasks that already finished before the pause get their saved writes, not a re-run."""
        outputs = writes_by_task(self.pending_writes)[0]
        replayed = []
        for task in self.tasks:
            if task.id in outputs:
                task.writes.extend(outputs[task.id])
                replayed.append(task)
        return replayed

    # ------------------------------------------------------------------ commit

    def commit(self, task: Task, exc: BaseException | None) -> None:
        """Record a finished task: save its writes, stream its update / result."""
        if exc is None:
            if all(chan in CONTROL_WRITES for chan, _ in task.writes):
                task.writes.append((NO_WRITES, None))
            self._put_writes(task.id, task.writes)
            self._output_writes(task, task.writes)
            if self.cache_keys:
                store_cached(self.graph, self.cache_keys, task)
        elif isinstance(exc, GraphInterrupt):
            self.interrupted = True
            if exc.interrupts:
                self.interrupts.extend(exc.interrupts)
                writes: list[Write] = [(INTERRUPT, exc.interrupts)]
                writes.extend(w for w in task.writes if w[0] == RESUME)
                self._put_writes(task.id, writes)
                self._output_writes(task, writes)
        elif isinstance(exc, ParentCommand | StreamClosed | GraphDrained):
            if self.error is None:
                self.error = exc
        else:
            task.writes.append((ERROR, exc))
            handled = routes_to_handler(self, task, exc)  # its error handler takes over
            if handled:
                task.writes.append((ERROR_SOURCE_NODE, task.name))
            self._put_writes(task.id, task.writes)
            self._output_writes(task, task.writes)
            if handled:
                self.scheduled.append(handler_task(self, task, exc))
                self.tasks.append(self.scheduled[-1])
            elif self.error is None and not isinstance(exc, asyncio.CancelledError):
                self.error = exc

    def _previous(self) -> Any:
        """An entrypoint's value saved by its last run on the thread (``previous``)."""
        chan = self.channels.get(PREVIOUS)
        return None if chan is None or chan.value is MISSING else chan.value

    def emit_task_start(self, task: Task) -> None:
        if self.out.wants("tasks"):
            self.out.emit_debug("tasks", task_start_payload(task), self.step)

    def _output_writes(self, task: Task, writes: Sequence[Write], cached: bool = False) -> None:
        self.out.task_writes(
            task, writes, self.graph, self.step, self.read_state, self.output_key_set, cached=cached
        )

    # ------------------------------------------------------------------ end of step

    def end_step(self) -> None:
        """All tasks of the step finished: raise their failure, or apply their writes."""
        if self.error is not None:
            raise self.error
        if self.interrupted:
            raise GraphInterrupt(tuple(self.interrupts))
        self._apply_and_emit_values()
        self.pending_writes.clear()
        self._put_checkpoint("loop")
        if self.interrupt_after and should_interrupt(
            self.checkpoint, self.interrupt_after, self.tasks
        ):
            self.status = "interrupt_after"
            self.tasks = self._prepare_tasks()
            self._emit_checkpoint()
            raise GraphInterrupt()
        self.resuming = False

    def _apply_and_emit_values(self) -> None:
        updated = self._apply(self.tasks)
        if self.out.wants("values") and not updated.isdisjoint(self.output_key_set):
            self.out.emit("values", self.read_state())

    def _apply(self, tasks: Sequence[Task]) -> set[str]:
        updated = apply_writes(self.graph, self.checkpoint, self.channels, tasks, self.next_version)
        if any(t.triggers for t in tasks):
            self.updated_channels = updated
        elif self.updated_channels is not None:  # null writes add to what the step triggered
            self.updated_channels |= updated
        return updated

    def apply_finished(self) -> None:
        """Apply the writes of the tasks that finished (``get_state`` of a paused step)."""
        self._apply(self._reapply_finished())

    # ------------------------------------------------------------------ exit

    def finish(self, exc: BaseException | None) -> BaseException | None:
        """Close the run; return the exception the consumer should see (``None`` if done)."""
        if isinstance(exc, GraphInterrupt) and not self.nested:
            if self.pending_writes and any(t.writes for t in self.tasks):
                self._apply_and_emit_values()
            if not exc.interrupts and "updates" in self.modes:
                self.out.emit("updates", {INTERRUPT: ()})
            self.output = self.read_state()
            return None
        if exc is None:
            self.output = self.read_state()
            if self.status == "draining":
                return GraphDrained(self.runtime.drain_reason or "shutdown")
            if self.status == "out_of_steps":
                return GraphRecursionError(
                    f"Recursion limit of {self.config.get('recursion_limit', 25)} reached "
                    "without hitting a stop condition. You can increase the limit by setting "
                    "the `recursion_limit` config key."
                )
        return exc
