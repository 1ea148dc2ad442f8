"""How node return values become channel writes, and how writes read back as task status.

Pure functions shared by the step loop and ``get_state``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from streamtap._compat import StreamingCallbackHandler
from streamtap.graph._constants import (
    BRANCH_PREFIX,
    CONTROL_WRITES,
    END,
    ERROR,
    INTERRUPT,
    NULL_TASK_ID,
    ROOT,
    TASKS,
)
from streamtap.graph._fields import fields_as_updates
from streamtap.graph.checkpoint.base import PendingWrite
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.types import Command, Interrupt, PregelTask, Send

if TYPE_CHECKING:
    from streamtap.graph._loop import Task
    from streamtap.graph.compiled import CompiledStateGraph

Write = tuple[str, Any]


class ParentCommand(Exception):
    """A node asked for ``Command(graph=Command.PARENT)``: the parent graph applies it."""

    def __init__(self, command: Command) -> None:
        super().__init__(command)
        self.command = command


def object_as_updates(obj: Any, keys: Sequence[str] | None = None) -> list[Write]:
    """Updates from a dataclass/model instance returned by a node; anything else is refused."""
    updates = fields_as_updates(obj, keys)
    if updates is None:
        raise InvalidUpdateError(
            f"Expected dict, got {obj!r}. A node must return a dict of state updates, "
            "a Command, a list of those, or None"
        )
    return updates


def command_updates(cmd: Command) -> Sequence[Write]:
    """``cmd.update`` as writes; an update that is no state (``__root__``) is refused."""
    writes = cmd._update_as_tuples()
    if len(writes) == 1 and writes[0][0] == ROOT and writes[0][1] is cmd.update:
        return object_as_updates(cmd.update)  # neither a dict, pairs nor fields: raises
    return writes


def updates_from(ret: Any, keys: frozenset[str]) -> list[Write]:
    if ret is None:
        return []
    if isinstance(ret, dict):
        return [(k, v) for k, v in ret.items() if k in keys]
    if isinstance(ret, Command):
        if ret.graph == Command.PARENT:
            return []
        return [(k, v) for k, v in command_updates(ret) if k in keys]
    if isinstance(ret, list | tuple) and ret and any(isinstance(i, Command) for i in ret):
        out: list[Write] = []
        for item in ret:
            if isinstance(item, Command):
                if item.graph != Command.PARENT:
                    out.extend((k, v) for k, v in command_updates(item) if k in keys)
            else:
                out.extend(updates_from(item, keys))
        return out
    if isinstance(ret, Send):
        return []
    return object_as_updates(ret, list(keys))


def control_from(ret: Any, nodes: dict[str, Any]) -> list[Write]:
    if isinstance(ret, Send):
        return [(TASKS, ret)]
    commands: list[Command] = []
    if isinstance(ret, Command):
        commands.append(ret)
    elif isinstance(ret, list | tuple):
        commands.extend(c for c in ret if isinstance(c, Command))
    out: list[Write] = []
    for cmd in commands:
        if cmd.graph == Command.PARENT:
            raise ParentCommand(cmd)
        for go in cmd._goto_list():
            if isinstance(go, Send):
                out.append((TASKS, go))
            elif go != END:
                if go not in nodes:
                    raise InvalidUpdateError(
                        f"Command(goto={go!r}) names no node of this graph; nodes are {list(nodes)}"
                    )
                out.append((BRANCH_PREFIX + go, None))
    return out


def as_own_command(cmd: Command) -> Command:
    return Command(update=cmd.update, goto=cmd.goto, resume=cmd.resume)


def fold_writes(writes: Sequence[Write]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for chan, value in writes:
        if chan in result:
            existing = result[chan]
            if isinstance(existing, dict) and isinstance(existing.get("$writes"), list):
                existing["$writes"].append(value)
            else:
                result[chan] = {"$writes": [existing, value]}
        else:
            result[chan] = value
    return result


def is_interrupt_id(key: Any) -> bool:
    return isinstance(key, str) and len(key) == 32 and all(c in "0123456789abcdef" for c in key)


def _stream_handlers(run: Any) -> list[Any]:
    from streamtap.middleware._messages import StreamMessagesHandler

    return [
        h
        for h in run.handlers
        if isinstance(h, StreamingCallbackHandler) and not isinstance(h, StreamMessagesHandler)
    ]


def tap_sync(run: Any, ret: Any) -> None:
    """Let streaming tracers (``astream_events``) see the node output as a stream chunk."""
    for handler in _stream_handlers(run):
        for _ in handler.tap_output_iter(run.run_id, iter([ret])):
            pass


async def tap_async(run: Any, ret: Any) -> None:
    for handler in _stream_handlers(run):

        async def one() -> AsyncIterator[Any]:
            yield ret

        async for _ in handler.tap_output_aiter(run.run_id, one()):
            pass


def task_states(
    graph: CompiledStateGraph,
    tasks: Sequence[Task],
    pending_writes: Sequence[PendingWrite],
    ns_str: str,
    thread_id: Any,
    *,
    live: bool = False,
) -> list[PregelTask]:
    """Tasks of a step with what the pending writes say happened to each."""
    outputs: dict[str, list[Write]] = defaultdict(list)
    seen: set[str] = set()
    interrupts: dict[str, list[Interrupt]] = defaultdict(list)
    errors: dict[str, BaseException] = {}
    for tid, chan, value in pending_writes:
        if tid == NULL_TASK_ID:
            continue
        seen.add(tid)
        if chan == INTERRUPT:
            interrupts[tid].extend(value if isinstance(value, Sequence) else [value])
        elif chan == ERROR:
            errors.setdefault(tid, value)
        elif chan not in CONTROL_WRITES:
            outputs[tid].append((chan, value))
    out = []
    keys = graph.state_key_set
    for task in tasks:
        finished = bool(outputs.get(task.id))
        state = None
        if task.name in graph.nodes and graph.nodes[task.name].is_subgraph:
            state = {"configurable": {"thread_id": thread_id, "checkpoint_ns": task.ns}}
        mapped = [(c, v) for c, v in outputs.get(task.id, ()) if c in keys]
        result = fold_writes(mapped) if mapped else {}
        ints = tuple(interrupts.get(task.id, ()))
        out.append(
            PregelTask(
                task.id,
                task.name,
                task.path,
                errors.get(task.id),  # type: ignore[arg-type]
                () if (live and finished) else ints,
                state,  # type: ignore[arg-type]
                result if finished else None,
            )
        )
    return out


def checkpoint_task(t: PregelTask) -> dict[str, Any]:
    if t.error:
        return {"id": t.id, "name": t.name, "error": t.error, "state": t.state}
    ints = tuple(asdict(i) for i in t.interrupts)
    if t.result:
        return {
            "id": t.id,
            "name": t.name,
            "result": t.result,
            "interrupts": ints,
            "state": t.state,
        }
    return {"id": t.id, "name": t.name, "interrupts": ints, "state": t.state}
