"""How a node's return value (or a ``Command`` input) becomes channel writes.

Pure functions used by the graph algorithm (``_algo``) and the step loop. A write
is ``(channel, value)``; besides state keys, channels include the pseudo-channels
of ``_constants`` (``branch:to:<node>`` triggers, ``TASKS`` for ``Send``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from streamtap.graph._constants import BRANCH_PREFIX, END, NS_END, NS_SEP, ROOT, TASKS
from streamtap.graph._fields import fields_as_updates
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.errors import ParentCommand as ParentCommand  # its old home
from streamtap.graph.types import Command, Send

Write = tuple[str, Any]


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
    """The state writes in a node's return value (a dict, a Command, a list of those, fields)."""
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


def goto_writes(
    targets: Iterable[Send | str], check: Callable[[str], None] | None = None
) -> list[Write]:
    """Writes that trigger ``targets`` next step: a ``Send`` as a push task, a node by name.

    ``END`` triggers nothing; ``check`` may refuse a node name before it is written.
    """
    out: list[Write] = []
    for go in targets:
        if isinstance(go, Send):
            out.append((TASKS, go))
        elif go != END:
            if check is not None:
                check(go)
            out.append((BRANCH_PREFIX + go, None))
    return out


def control_from(ret: Any, nodes: dict[str, Any]) -> list[Write]:
    """The routing writes in a node's return value: its ``Send``, its Commands' ``goto``."""
    if isinstance(ret, Send):
        return [(TASKS, ret)]
    commands: list[Command] = []
    if isinstance(ret, Command):
        commands.append(ret)
    elif isinstance(ret, list | tuple):
        commands.extend(c for c in ret if isinstance(c, Command))

    def known(go: str) -> None:
        if go not in nodes:
            raise InvalidUpdateError(
                f"Command(goto={go!r}) names no node of this graph; nodes are {list(nodes)}"
            )

    out: list[Write] = []
    for cmd in commands:
        if cmd.graph == Command.PARENT:
            raise ParentCommand(cmd)
        out.extend(goto_writes(cmd._goto_list(), known))
    return out


def addressed_to(task: Any, pc: ParentCommand) -> Command:
    """The ``Command`` a task must apply as its own, or raise it on to the graph it names.

    As LangGraph: ``graph=PARENT`` raised inside a task is re-addressed to the
    namespace of the task that runs this graph, however deep the call (a
    subgraph node, or a node calling ``child.invoke()``); that task applies it.
    """
    cmd = pc.command
    ns: str = task.ns
    target = cmd.graph
    if target is not None and NS_SEP in target and target.rsplit(NS_SEP, 1)[1].isdigit():
        target = target.rsplit(NS_SEP, 1)[0]  # raised in the task's n-th graph call
    if target is not None and target in (ns, recast_ns(ns), task.name):
        return Command(update=cmd.update, goto=cmd.goto, resume=cmd.resume)
    if cmd.graph == Command.PARENT:
        parts = ns.split(NS_SEP)
        if parts[-1].isdigit():
            parts.pop()
        raise ParentCommand(dataclasses.replace(cmd, graph=NS_SEP.join(parts[:-1]))) from None
    raise pc


def own_ns(ns: str) -> str:
    """A stateful subgraph's namespace: task ids dropped, a task's n-th call kept."""
    return NS_SEP.join(part.split(NS_END)[0] for part in ns.split(NS_SEP))


def recast_ns(ns: str) -> str:
    """``parent:<task id>|child:<task id>`` -> ``parent|child`` (LangGraph's recast)."""
    return NS_SEP.join(part.split(NS_END)[0] for part in ns.split(NS_SEP) if not part.isdigit())


def is_interrupt_id(key: Any) -> bool:
    return isinstance(key, str) and len(key) == 32 and all(c in "0123456789abcdef" for c in key)
