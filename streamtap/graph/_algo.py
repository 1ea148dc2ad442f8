"""The graph algorithm: pure functions over a checkpoint (LangGraph's ``pregel/_algo.py``).

Which nodes a step triggers, what a task's return value and routers write, how a
step's writes fold into the channels, what the pending writes say about each
task. No I/O, streaming or callbacks here: the step loop (``_loop``) holds the
state, calls these, saves and streams.
"""

from __future__ import annotations

import binascii
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from hashlib import sha1
from typing import Any

import langgraph.checkpoint.base.id as _lg_id
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import LATEST_VERSION, Checkpoint, PendingWrite
from xxhash import xxh3_128_hexdigest

from streamtap.graph._channels import Channel, Managed
from streamtap.graph._constants import (
    BARE_CHANNELS,
    BRANCH_PREFIX,
    CONTROL_WRITES,
    ERROR,
    INTERRUPT,
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
from streamtap.graph._runtime import TaskContext, interrupt_id
from streamtap.graph._schema import ROOT_KEYS, root_updates
from streamtap.graph._spec import GraphSpec
from streamtap.graph._stored_types import from_stored, to_stored
from streamtap.graph._writes import (
    Write,
    command_updates,
    control_from,
    goto_writes,
    is_interrupt_id,
    updates_from,
)
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.managed import StepScratchpad
from streamtap.graph.types import Command, Interrupt

#: The checkpoint format LangGraph 1.x writes (its runtime's, newer than the
#: interface package's ``LATEST_VERSION``): 4 has no ``pending_sends``.
CHECKPOINT_VERSION = 4

#: How a channel's next version is made: the saver's ``get_next_version``, else a counter.
NextVersion = Callable[[Any, None], Any]


def increment(current: int | None, channel: None) -> int:
    """Channel versions without a saver (LangGraph's default)."""
    return current + 1 if current is not None else 1


def task_id(checkpoint: Checkpoint, *parts: str) -> str:
    """A task's id exactly as LangGraph computes it.

    Saved writes and resume values are keyed by task id, so a thread paused by
    one engine resumes on the other only if both derive the same id from the
    same checkpoint: xxh3-128 (uuid5-style SHA-1 for version-1 checkpoints) of
    the checkpoint id's bytes and the namespace, step, node and triggers.
    """
    data = binascii.unhexlify(checkpoint["id"].replace("-", "")) + "".join(parts).encode()
    if checkpoint["v"] > 1:
        h = xxh3_128_hexdigest(data)
    else:
        h = sha1(data, usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def uuid6_str(clock_seq: int) -> str:
    """``str(langgraph.checkpoint.base.id.uuid6(clock_seq=clock_seq))`` in a third of the
    time (no ``UUID`` object), on the same monotonic clock: ids made by either one in
    this process keep their order, which savers sort checkpoints by."""
    timestamp = time.time_ns() // 100 + 0x01B21DD213814000
    last = _lg_id._last_v6_timestamp
    if last is not None and timestamp <= last:
        timestamp = last + 1
    _lg_id._last_v6_timestamp = timestamp  # type: ignore[assignment]  # typed None there
    value = ((timestamp >> 12) & 0xFFFFFFFFFFFF) << 80 | (timestamp & 0x0FFF) << 64
    value |= (clock_seq & 0x3FFF) << 48 | random.getrandbits(48)
    value = (value & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 6 << 76
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def empty_checkpoint() -> Checkpoint:
    return {
        "v": LATEST_VERSION,
        "id": uuid6_str(-2),
        "ts": datetime.now(UTC).isoformat(),
        "channel_values": {},
        "channel_versions": {},
        "versions_seen": {},
        "updated_channels": None,
    }


def _path_key(path: tuple[Any, ...]) -> tuple[int, str, int]:
    # LangGraph applies a step's writes sorted by task path: input, pulls by name, then pushes.
    if not path:
        return (-2, "", 0)
    if path[0] == INTERRUPT:  # update_state's hand-written tasks
        return (-1, "", path[1])
    return (0, path[1], 0) if path[0] == PULL else (1, "", path[1])


class Task:
    """One node execution in one step."""

    __slots__ = (
        "call",
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
        self.call: Any = None  # a task call's (``_calls.Call``): what to run, how


# ---------------------------------------------------------------------- reading the checkpoint


def read_channels(channels: dict[str, Channel], keys: Sequence[str]) -> Any:
    """The values of ``keys`` that are set; a bare-value state (``__root__``) reads as its
    value (``None`` while unset), as LangGraph reads a single channel."""
    if len(keys) == 1 and keys[0] in BARE_CHANNELS:
        value = channels[keys[0]].value
        return None if value is MISSING else value
    return {k: channels[k].value for k in keys if channels[k].value is not MISSING}


def read_input(channels: dict[str, Channel], keys: Sequence[str]) -> Any:
    """What a node reading ``keys`` gets; ``MISSING`` for a bare-value state that is
    unset (LangGraph then does not run the node)."""
    if len(keys) == 1 and keys[0] in BARE_CHANNELS:
        return channels[keys[0]].value
    return read_channels(channels, keys)


def _managed_values(
    channels: dict[str, Channel], keys: Sequence[str], step: int, stop: int
) -> dict[str, Any]:
    pad = StepScratchpad(step, stop)
    return {k: c.manager.get(pad) for k in keys if isinstance(c := channels[k], Managed)}


def restore_channels(graph: GraphSpec, checkpoint: Checkpoint) -> dict[str, Channel]:
    """The graph's channels holding what ``checkpoint`` saved."""
    values = checkpoint["channel_values"]
    return {k: c.restore(from_stored(k, values.get(k, MISSING))) for k, c in graph.channels.items()}


def _triggered(
    channels: dict[str, Channel],
    versions: dict[str, Any],
    seen: dict[str, Any] | None,
    null: Any,
    triggers: Sequence[str],
) -> bool:
    # a node runs when a trigger holds a value written since the node last ran
    for chan in triggers:
        if channels[chan].is_available() and (
            seen is None or versions.get(chan, null) > seen.get(chan, null)
        ):
            return True
    return False


def prepare_tasks(
    graph: GraphSpec,
    checkpoint: Checkpoint,
    channels: dict[str, Channel],
    updated_channels: set[str] | None,
    *,
    ns_str: str,
    step: int,
    stop: int | None = None,
) -> list[Task]:
    """The next step's tasks, as LangGraph's ``prepare_next_tasks``: one per pending
    ``Send``, then one per node a channel written since it last ran triggers.

    ``stop`` (the run's last step) fills the managed values a node reads (``RemainingSteps``).

    Tasks come bare (no config, no context): the step loop gives them those.
    """
    tasks: list[Task] = []

    def ns_of(name: str) -> str:
        return f"{ns_str}{NS_SEP}{name}" if ns_str else name

    sends = channels[TASKS]
    if sends.is_available():
        for idx, send in enumerate(sends.value):
            if send.node not in graph.nodes:
                raise InvalidUpdateError(
                    f"Send targets unknown node {send.node!r}; nodes are {list(graph.nodes)}"
                )
            ns = ns_of(send.node)
            tid = task_id(checkpoint, ns, str(step), send.node, PUSH, str(idx))
            tasks.append(Task(tid, send.node, (PUSH, idx, False), (PUSH,), send.arg, f"{ns}:{tid}"))
    versions = checkpoint["channel_versions"]
    if updated_channels and graph.trigger_to_nodes:
        names: set[str] = set()
        for chan in updated_channels:
            names.update(graph.trigger_to_nodes.get(chan, ()))
        candidates: Sequence[str] = sorted(names)
    elif not versions:
        return tasks
    else:
        candidates = graph.order
    null = type(next(iter(versions.values())))() if versions else None
    for name in candidates:
        triggers = graph.triggers[name]
        if not _triggered(
            channels, versions, checkpoint["versions_seen"].get(name), null, triggers
        ):
            continue
        ns = ns_of(name)
        tid = task_id(checkpoint, ns, str(step), name, PULL, *triggers)
        if name == START:
            arg = channels[START].value
        else:
            spec = graph.nodes[name]
            state = read_input(channels, spec.input_keys)
            if state is MISSING:
                continue
            if stop is not None and isinstance(state, dict):
                state.update(_managed_values(channels, spec.input_keys, step, stop))
            arg = state
            if spec.input_mapper is not None:
                try:  # a pydantic state's validation error, from the node that reads it
                    arg = spec.input_mapper(state)
                except Exception as exc:
                    exc.add_note(f"Before task with name '{name}' and path '{(PULL, name)}'")
                    raise
        tasks.append(Task(tid, name, (PULL, name), triggers, arg, f"{ns}:{tid}"))
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
    cmd: Command, resumable: bool, pending_writes: Sequence[PendingWrite], *, root: bool = False
) -> tuple[list[Write], dict[str, Any] | None]:
    """A ``Command`` input as null-task writes, plus its answers by interrupt id if it has them.

    ``root``: the state is one bare value, which ``Command(update=value)`` replaces.
    """
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
    writes.extend(cmd._update_as_tuples() if root else command_updates(cmd))
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


def should_interrupt(
    checkpoint: Checkpoint, nodes: Sequence[str] | str, tasks: Sequence[Task]
) -> bool:
    """Whether ``interrupt_before`` / ``interrupt_after`` stops at this step (as LangGraph).

    Only when a channel changed since the last such interrupt: a resumed run marks
    every version seen (``mark_interrupt_seen``) and so does not stop again.
    """
    versions: dict[str, Any] = checkpoint["channel_versions"]
    seen: dict[str, Any] = checkpoint["versions_seen"].get(INTERRUPT, {})
    null: Any = type(next(iter(versions.values()), 0))()
    if not any(v > seen.get(chan, null) for chan, v in versions.items()):
        return False
    return any((nodes == "*" and not t.hidden) or (nodes != "*" and t.name in nodes) for t in tasks)


def mark_interrupt_seen(checkpoint: Checkpoint, channels: dict[str, Channel]) -> None:
    """A resumed run has seen every version: ``interrupt_before`` must not stop it again."""
    seen = checkpoint["versions_seen"].setdefault(INTERRUPT, {})
    for key in channels:
        if key in checkpoint["channel_versions"]:
            seen[key] = checkpoint["channel_versions"][key]


# ---------------------------------------------------------------------- what a task writes


def node_writes(graph: GraphSpec, task: Task, ret: Any) -> tuple[list[Write], Sequence[BranchSpec]]:
    """What a node's return value writes, before its routers run."""
    keys = graph.input_keys if task.name == START else graph.state_keys
    if graph.return_writes is not None and task.name != START:  # an entrypoint's
        writes = graph.return_writes(ret)
    elif keys == ROOT_KEYS:
        writes = root_updates(ret)
    else:
        writes = updates_from(
            ret, graph.input_key_set if task.name == START else graph.state_key_set
        )
    writes.extend(control_from(ret, graph.nodes))
    writes.extend((BRANCH_PREFIX + t, None) for t in graph.edges_from.get(task.name, ()))
    writes.extend((chan, task.name) for chan in graph.joins_from.get(task.name, ()))
    return writes, graph.branches.get(task.name, ())


def router_input(
    graph: GraphSpec,
    channels: dict[str, Channel],
    writes: list[Write],
    branch: BranchSpec | None = None,
    output: Any = None,
    steps: tuple[int, int] | None = None,
) -> Any:
    """The state a router sees: the step's state plus this task's own writes, read as
    the router's schema (``branch.input_keys``: its own, its node's or the state's);
    ``steps`` (the task's step and the run's stop) fills its managed values.

    A router with no schema of its own also sees the keys of the node's ``output`` dict
    the state lacks (LangGraph passes them through, for dict states).
    """
    keys = graph.state_keys
    mapper = graph.state_mapper
    if branch is not None and branch.input_keys is not None:
        keys, mapper = branch.input_keys, branch.input_mapper
    local = {k: channels[k].copy() for k in keys}
    grouped: dict[str, list[Any]] = defaultdict(list)
    for chan, value in writes:
        if chan in local:
            grouped[chan].append(value)
    for chan, values in grouped.items():
        local[chan].update(values)
    state = read_channels(local, keys)
    if steps is not None and isinstance(state, dict):
        state.update(_managed_values(local, keys, *steps))
    value = mapper(state) if mapper is not None else state
    passthrough = branch is not None and branch.input_schema is None
    if passthrough and isinstance(value, dict) and isinstance(output, dict):
        value = {**output, **value}
    return value


def branch_writes(graph: GraphSpec, branch: BranchSpec, result: Any) -> list[Write]:
    """The writes of a router's result: the nodes and ``Send``s it picked."""

    def known(dest: str) -> None:
        if dest not in graph.nodes:
            raise ValueError(f"Router {branch.path.name!r} routed to unknown node {dest!r}")

    return goto_writes(branch.destinations(result), known)


def record_writes(
    pending_writes: list[PendingWrite], task_id: str, writes: Sequence[Write]
) -> Sequence[Write]:
    """Make ``writes`` the task's pending writes (in place); return what to save for it.

    A task's control writes keep one slot each (the newest wins). A null task's
    writes (a ``Command`` input's) accumulate, as LangGraph's do: savers key a write
    by its position, so the whole list is saved again, control writes last (they
    have fixed slots) and regular ones where they were, or a second command's
    update would land on the first one's slot and be lost.
    """
    if all(w[0] in WRITES_IDX_MAP for w in writes):
        writes = list({w[0]: w for w in writes}.values())
    if task_id != NULL_TASK_ID:
        pending_writes[:] = [w for w in pending_writes if w[0] != task_id]
        pending_writes.extend((task_id, c, v) for c, v in writes)
        return writes
    pending_writes[:] = [
        w for w in pending_writes if not (w[0] == task_id and w[1] in WRITES_IDX_MAP)
    ]
    writes = sorted(writes, key=lambda w: w[0] in WRITES_IDX_MAP)
    to_save = [(c, v) for t, c, v in pending_writes if t == task_id] + list(writes)
    pending_writes.extend((task_id, c, v) for c, v in writes)
    return to_save


# ---------------------------------------------------------------------- applying a step


#: pseudo-channels a task writes that are not state (LangGraph leaves them out too)
_NOT_CHANNELS = frozenset((NO_WRITES, PUSH, RESUME, INTERRUPT, ERROR))


def apply_writes(
    graph: GraphSpec,
    checkpoint: Checkpoint,
    channels: dict[str, Channel],
    tasks: Sequence[Task],
    next_version: NextVersion,
) -> set[str]:
    """Fold a step's writes into the channels, as LangGraph's ``apply_writes``.

    Reducers run in task-path order; ``checkpoint``'s versions and versions seen
    are updated in place, with the same bumps LangGraph makes (triggers consumed,
    ephemeral channels cleared a step later). Returns the channels updated.
    """
    ordered = sorted(tasks, key=lambda t: _path_key(t.path))
    # only a null task (a Command's or the input's writes): not a new step
    bump_step = any(t.triggers for t in ordered)
    versions = checkpoint["channel_versions"]
    for task in ordered:
        checkpoint["versions_seen"].setdefault(task.name, {}).update(
            {chan: versions[chan] for chan in task.triggers if chan in versions}
        )
    version = next_version(max(versions.values()) if versions else None, None)
    for chan in {c for t in ordered for c in t.triggers if c in channels}:
        if channels[chan].consume():
            versions[chan] = version
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for task in ordered:
        for chan, value in task.writes:
            if chan not in _NOT_CHANNELS and chan in channels:
                by_channel[chan].append(value)
    updated: set[str] = set()
    for chan, values in by_channel.items():
        if channels[chan].update(values):
            versions[chan] = version
            if channels[chan].is_available():
                updated.add(chan)
    if bump_step:
        for chan, channel in channels.items():
            if chan not in updated and channel.is_available() and channel.update(()):
                versions[chan] = version
                if channel.is_available():
                    updated.add(chan)
    if bump_step and updated.isdisjoint(graph.trigger_to_nodes):
        # the run is (tentatively) over: deferred nodes' triggers become available now
        for chan, channel in channels.items():
            if channel.finish():
                versions[chan] = version
                if channel.is_available():
                    updated.add(chan)
    return updated


def create_checkpoint(
    checkpoint: Checkpoint,
    channels: dict[str, Channel],
    step: int,
    updated_channels: set[str] | None,
) -> Checkpoint:
    """The next checkpoint: LangGraph's format, with a uuid6 id savers order by."""
    versions = checkpoint["channel_versions"]
    values = {}
    for key, channel in channels.items():
        if key in versions and (value := channel.checkpoint()) is not MISSING:
            values[key] = to_stored(key, value)
    return {
        "v": CHECKPOINT_VERSION,
        "id": uuid6_str(step),
        "ts": datetime.now(UTC).isoformat(),
        "channel_values": values,
        "channel_versions": dict(versions),
        "versions_seen": {k: dict(v) for k, v in checkpoint["versions_seen"].items()},
        "updated_channels": None if updated_channels is None else sorted(updated_channels),
    }
