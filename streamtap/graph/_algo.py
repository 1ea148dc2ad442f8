"""The graph algorithm: pure functions over a checkpoint (LangGraph's ``pregel/_algo.py``).

Which nodes a step triggers, what a task's return value and routers write, how a
step's writes fold into the channels, what the pending writes say about each
task. No I/O, streaming or callbacks here: the step loop (``_loop``) holds the
state, calls these, saves and streams.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from streamtap.graph._channels import Channel
from streamtap.graph._constants import (
    BRANCH_PREFIX,
    CONTROL_WRITES,
    ERROR,
    INTERRUPT,
    MISSING,
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
from streamtap.graph._runtime import TaskContext, interrupt_id
from streamtap.graph._spec import GraphSpec
from streamtap.graph._writes import (
    Write,
    command_updates,
    control_from,
    goto_writes,
    is_interrupt_id,
    updates_from,
)
from streamtap.graph.checkpoint.base import Checkpoint, PendingWrite
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.types import Command, Interrupt, Send


def task_id(*parts: str) -> str:
    """A task's id: stable for the same checkpoint, namespace, step, node and trigger."""
    h = hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _path_key(path: tuple[Any, ...]) -> tuple[int, str, int]:
    # LangGraph applies a step's writes sorted by task path: pulls by name, then pushes.
    return (0, path[1], 0) if path[0] == PULL else (1, "", path[1])


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


# ---------------------------------------------------------------------- reading the checkpoint


def read_channels(channels: dict[str, Channel], keys: Sequence[str]) -> dict[str, Any]:
    """The values of ``keys`` that are set."""
    return {k: channels[k].value for k in keys if channels[k].value is not MISSING}


def prepare_tasks(
    graph: GraphSpec,
    channels: dict[str, Channel],
    sends: list[Send],
    branches: set[str],
    barriers: dict[str, set[str]],
    start_input: Any,
    *,
    loaded: bool,
    ns_str: str,
    checkpoint_id: str,
    step: int,
) -> list[Task]:
    """The next step's tasks: one per pending ``Send``, then one per triggered node.

    Tasks come bare (no config, no context): the step loop gives them those.
    """
    tasks: list[Task] = []

    def new_task(
        name: str, path: tuple[Any, ...], triggers: tuple[str, ...], arg: Any, idx: str
    ) -> Task:
        ns_prefix = f"{ns_str}{NS_SEP}{name}" if ns_str else name
        tid = task_id(checkpoint_id, ns_prefix, str(step), name, path[0], *triggers, idx)
        return Task(tid, name, path, triggers, arg, f"{ns_prefix}:{tid}")

    for idx, send in enumerate(sends):
        if send.node not in graph.nodes:
            raise InvalidUpdateError(
                f"Send targets unknown node {send.node!r}; nodes are {list(graph.nodes)}"
            )
        tasks.append(new_task(send.node, (PUSH, idx, False), (PUSH,), send.arg, str(idx)))
    names = set(branches)
    for chan, seen in barriers.items():
        sources, target = graph.joins[chan]
        if seen >= sources:
            names.add(target)
    if start_input is not MISSING:
        names.add(START)
    if not names:
        return tasks
    for name in sorted(names) if not loaded else [n for n in graph.order if n in names]:
        if name == START:
            tasks.append(new_task(START, (PULL, START), (START,), start_input, ""))
            continue
        spec = graph.nodes[name]
        state = read_channels(channels, spec.input_keys)
        arg = spec.input_mapper(state) if spec.input_mapper is not None else state
        tasks.append(new_task(name, (PULL, name), graph.triggers[name], arg, ""))
    return tasks


def writes_by_task(
    pending_writes: Sequence[PendingWrite],
) -> tuple[dict[str, list[Write]], dict[str, list[Interrupt]], dict[str, Any]]:
    """Per task id: its state and routing writes, its interrupts, its (first) error."""
    outputs: dict[str, list[Write]] = defaultdict(list)
    interrupts: dict[str, list[Interrupt]] = defaultdict(list)
    errors: dict[str, Any] = {}
    for tid, chan, value in pending_writes:
        if tid == NULL_TASK_ID:
            continue
        if chan == INTERRUPT:
            interrupts[tid].extend(value if isinstance(value, Sequence) else [value])
        elif chan == ERROR:
            errors.setdefault(tid, value)
        elif chan not in CONTROL_WRITES:
            outputs[tid].append((chan, value))
    return outputs, interrupts, errors


def unanswered_interrupt_ids(pending_writes: Sequence[PendingWrite]) -> set[str]:
    """Ids of the interrupts of tasks that have not finished."""
    outputs, interrupts, _ = writes_by_task(pending_writes)
    return {i.id for tid, ints in interrupts.items() if tid not in outputs for i in ints}


def command_writes(
    cmd: Command, resumable: bool, pending_writes: Sequence[PendingWrite]
) -> tuple[list[Write], dict[str, Any] | None]:
    """A ``Command`` input as null-task writes, plus its answers by interrupt id if it has them."""
    if cmd.graph == Command.PARENT:
        raise InvalidUpdateError("There is no parent graph")
    writes = goto_writes(cmd._goto_list())
    resume_map = None
    if cmd.resume is not None:
        if not resumable:
            raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
        resume = cmd.resume
        if isinstance(resume, dict) and resume and all(is_interrupt_id(k) for k in resume):
            resume_map = dict(resume)
        else:
            if len(unanswered_interrupt_ids(pending_writes)) > 1:
                raise RuntimeError(
                    "When there are multiple pending interrupts, you must specify the "
                    "interrupt id when resuming. Pass Command(resume={interrupt.id: value})."
                )
            writes.append((RESUME, resume))
    writes.extend(command_updates(cmd))
    return writes, resume_map


def resume_values(
    task: Task, pending_writes: Sequence[PendingWrite], resume_map: dict[str, Any] | None
) -> tuple[list[Any], PendingWrite | None]:
    """The answers ``task`` already has, and the bare ``Command(resume=v)`` write if any."""
    resume: list[Any] = []
    null: PendingWrite | None = None
    found = False
    for write in pending_writes:
        if write[1] == RESUME:
            if write[0] == NULL_TASK_ID and null is None:
                null = write
            elif write[0] == task.id and not found:
                found = True
                resume = list(write[2]) if isinstance(write[2], list) else [write[2]]
    if resume_map:
        next_id = interrupt_id(task.ns, len(resume))
        first_id = interrupt_id(task.ns, 0)
        if next_id in resume_map:
            resume.append(resume_map[next_id])
        elif first_id in resume_map:
            resume.append(resume_map[first_id])
    return resume, null


def should_interrupt(nodes: Sequence[str] | str, tasks: Sequence[Task]) -> bool:
    """Whether ``interrupt_before`` / ``interrupt_after`` names a task of the step."""
    return any((nodes == "*" and not t.hidden) or (nodes != "*" and t.name in nodes) for t in tasks)


# ---------------------------------------------------------------------- what a task writes


def node_writes(graph: GraphSpec, task: Task, ret: Any) -> tuple[list[Write], Sequence[BranchSpec]]:
    """What a node's return value writes, before its routers run."""
    keys = graph.input_key_set if task.name == START else graph.state_key_set
    writes = updates_from(ret, keys)
    writes.extend(control_from(ret, graph.nodes))
    writes.extend((BRANCH_PREFIX + t, None) for t in graph.edges_from.get(task.name, ()))
    writes.extend((chan, task.name) for chan in graph.joins_from.get(task.name, ()))
    return writes, graph.branches.get(task.name, ())


def router_input(graph: GraphSpec, channels: dict[str, Channel], writes: list[Write]) -> Any:
    """The state a router sees: the step's state plus this task's own writes."""
    local = {k: c.copy() for k, c in channels.items()}
    grouped: dict[str, list[Any]] = defaultdict(list)
    for chan, value in writes:
        if chan in local:
            grouped[chan].append(value)
    for chan, values in grouped.items():
        local[chan].update(values)
    state = {k: c.value for k, c in local.items() if c.value is not MISSING}
    mapper = graph.state_mapper
    return mapper(state) if mapper is not None else state


def branch_writes(graph: GraphSpec, branch: BranchSpec, result: Any) -> list[Write]:
    """The writes of a router's result: the nodes and ``Send``s it picked."""

    def known(dest: str) -> None:
        if dest not in graph.nodes:
            raise ValueError(f"Router {branch.path.name!r} routed to unknown node {dest!r}")

    return goto_writes(branch.destinations(result), known)


def record_writes(
    pending_writes: list[PendingWrite], task_id: str, writes: Sequence[Write]
) -> Sequence[Write]:
    """Make ``writes`` the task's pending writes (in place); return them as saved.

    A task's control writes keep one slot each (the newest wins); a null task's
    control writes replace only their own kind.
    """
    if all(w[0] in WRITES_IDX_MAP for w in writes):
        writes = list({w[0]: w for w in writes}.values())
    if task_id == NULL_TASK_ID:
        special = {c for c, _ in writes if c in WRITES_IDX_MAP}
        pending_writes[:] = [w for w in pending_writes if not (w[0] == task_id and w[1] in special)]
    else:
        pending_writes[:] = [w for w in pending_writes if w[0] != task_id]
    pending_writes.extend((task_id, c, v) for c, v in writes)
    return writes


# ---------------------------------------------------------------------- applying a step


def apply_writes(
    graph: GraphSpec,
    channels: dict[str, Channel],
    barriers: dict[str, set[str]],
    tasks: Sequence[tuple[Task | None, Sequence[Write]]],
) -> tuple[set[str], set[str], list[Send], bool]:
    """Fold a step's writes into the channels (reducers run here, in task-path order).

    Updates ``channels`` and ``barriers`` in place; returns the keys updated, the
    branches and ``Send``s triggered, and whether a task (not only null writes) ran.
    """
    ordered = sorted(
        (tw for tw in tasks if tw[0] is not None),
        key=lambda tw: _path_key(tw[0].path),  # type: ignore[union-attr]
    )
    ordered = [tw for tw in tasks if tw[0] is None] + ordered
    bump = any(t is not None for t, _ in ordered)
    # triggers the tasks consumed
    for task, _ in ordered:
        if task is None:
            continue
        for trig in task.triggers:
            seen = barriers.get(trig)
            if seen is not None and seen >= graph.joins[trig][0]:
                del barriers[trig]
    by_channel: dict[str, list[Any]] = defaultdict(list)
    branches: set[str] = set()
    sends: list[Send] = []
    for _, writes in ordered:
        for chan, value in writes:
            if chan in channels:
                by_channel[chan].append(value)
            elif chan.startswith(BRANCH_PREFIX):
                branches.add(chan[len(BRANCH_PREFIX) :])
            elif chan == TASKS:
                sends.append(value)
            elif chan in graph.joins:
                barriers.setdefault(chan, set()).add(value)
    updated = set()
    for chan, values in by_channel.items():
        if channels[chan].update(values):
            updated.add(chan)
    return updated, branches, sends, bump


def create_checkpoint(
    checkpoint_id: str,
    ts: str,
    channels: dict[str, Channel],
    start_input: Any,
    branches: set[str],
    sends: list[Send],
    barriers: dict[str, set[str]],
) -> Checkpoint:
    """The checkpoint of the state as it is now (the start input kept until consumed)."""
    values: dict[str, Any] = {k: c.value for k, c in channels.items() if c.value is not MISSING}
    if start_input is not MISSING:
        values[START] = start_input
    return {
        "v": 1,
        "id": checkpoint_id,
        "ts": ts,
        "channel_values": values,
        "branches": sorted(branches),
        "sends": list(sends),
        "barriers": {k: sorted(v) for k, v in barriers.items()},
    }
