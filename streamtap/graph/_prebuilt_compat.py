"""What ``langgraph.prebuilt`` reads from a running task's config, and the versions it is
known for.

LangGraph's prebuilt components are plain runnables, but ``ToolNode`` reads two things
LangGraph's runtime puts in each task's ``configurable``: the runtime (``__pregel_runtime``,
set by the step loop for every node) and, for a task started by ``Send("tools",
[tool_call])``, a reader of the state the node would get from an edge
(``__pregel_read_state``): the tool call then carries no state of its own. This module gives
streamtap's tasks the second one, under LangGraph's key, and checks (when
``streamtap.graph.prebuilt`` is imported, never before: importing ``langgraph.prebuilt``
loads LangGraph's runtime) that the installed langgraph-prebuilt still reads these keys.

``ToolNode`` also tells a tool's ``Command`` / ``Send`` and an ``interrupt()`` from the rest
by LangGraph's classes, which streamtap's are not (streamtap.graph never imports LangGraph's
runtime). ``install()`` therefore points those names of ``langgraph.prebuilt.tool_node`` at
both families: LangGraph's objects behave exactly as before, streamtap's are recognised too.
"""

from __future__ import annotations

import functools
import itertools
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

from streamtap.graph._algo import read_channels, read_input
from streamtap.graph._constants import MISSING, PUSH
from streamtap.graph.runtime import KEY_RUNTIME

if TYPE_CHECKING:
    from streamtap.graph._algo import Task
    from streamtap.graph._channels import Channel
    from streamtap.graph._spec import GraphSpec

__all__ = ["KEY_READ", "KEY_READ_STATE", "check_prebuilt", "install", "task_readers"]

#: LangGraph's ``CONFIG_KEY_READ_STATE``: the state a ``Send``-started task would read
KEY_READ_STATE: Final = "__pregel_read_state"
#: LangGraph's ``CONFIG_KEY_READ``: reads channels (ToolNode's fallback)
KEY_READ: Final = "__pregel_read"

_TOOL_NODE: Final = "langgraph.prebuilt.tool_node"
_INSTALLED: Final = "_streamtap_installed"

#: langgraph-prebuilt releases whose config contract this module was checked against
#: (their own test suite runs in ``make conformance``): ``[first, past_last)``
TESTED: Final = ((1, 1), (1, 2))


def task_readers(graph: GraphSpec, channels: dict[str, Channel], task: Task) -> dict[str, Any]:
    """The config entries LangGraph gives a task to read state with.

    As LangGraph: a ``Send``-started (push) task gets a reader of its node's input as an
    edge would give it (coerced to the node's input schema), read when called, so it sees
    the state of the step; a task started by an edge already has its state and gets
    ``None`` there (so a graph run inside it does not see its parent's reader). Every task
    gets ``__pregel_read``, which ``ToolNode`` falls back to: LangGraph's is
    ``partial(local_read, scratchpad, channels, ...)`` and ToolNode reads the channel names
    from ``read.args[1]``; here they are the state keys, so it reads the state's values.
    """
    _install_if_loaded()
    read = functools.partial(_read, channels, graph.state_keys)
    if task.path[:1] != (PUSH,):
        return {KEY_READ_STATE: None, KEY_READ: read}
    spec = graph.nodes[task.name]

    def read_state() -> Any:
        state = read_input(channels, spec.input_keys)
        if state is MISSING or spec.input_mapper is None:
            return state
        return spec.input_mapper(state)

    return {KEY_READ_STATE: read_state, KEY_READ: read}


_install_failed: list[ImportError] = []


def _install_if_loaded() -> None:
    """``install()`` once LangGraph's ``tool_node`` is loaded (``from langgraph.prebuilt
    import ToolNode`` kept as it is, in a graph ported to streamtap.graph): looking it up in
    ``sys.modules`` never imports it. A tool_node this module does not know is warned
    about once, not raised from the user's run."""
    tool_node = sys.modules.get(_TOOL_NODE)
    if tool_node is None or vars(tool_node).get(_INSTALLED) or _install_failed:
        return
    try:
        check_prebuilt()
        install()
    except ImportError as exc:
        _install_failed.append(exc)
        warnings.warn(str(exc), RuntimeWarning, stacklevel=2)


def _read(
    channels: dict[str, Channel], keys: Sequence[str], select: Sequence[str], fresh: bool = False
) -> Any:
    """LangGraph's ``local_read(..., select, fresh)`` over the state keys: the values of
    ``select`` that are set (a task's own writes are not applied: ``fresh`` is ignored)."""
    return read_channels(channels, [k for k in select if k in keys])


def _release(text: str) -> tuple[int, int]:
    """(major, minor) of a version string: ``"1.1.3"`` -> (1, 1), ``"1.2rc1"`` -> (1, 2)."""
    major, minor = [*text.split("."), "0"][:2]
    return int(major), int("".join(itertools.takewhile(str.isdigit, minor)) or 0)


def check_prebuilt(
    read: Callable[[str], str] = version,
) -> None:
    """Refuse a langgraph-prebuilt that reads other config keys than streamtap gives; warn
    for a release outside the tested range (it may read keys this module does not know)."""
    from langgraph.prebuilt import tool_node

    try:
        from langgraph._internal._constants import CONFIG_KEY_RUNTIME
    except ImportError:  # pragma: no cover - a LangGraph without the key
        CONFIG_KEY_RUNTIME = KEY_RUNTIME
    expected = {
        "CONFIG_KEY_READ_STATE": KEY_READ_STATE,
        "CONFIG_KEY_READ": KEY_READ,
        "CONFIG_KEY_RUNTIME": KEY_RUNTIME,
    }
    found = {
        "CONFIG_KEY_READ_STATE": getattr(tool_node, "CONFIG_KEY_READ_STATE", KEY_READ_STATE),
        "CONFIG_KEY_READ": getattr(tool_node, "CONFIG_KEY_READ", KEY_READ),
        "CONFIG_KEY_RUNTIME": CONFIG_KEY_RUNTIME,
    }
    if found != expected:
        raise ImportError(
            f"streamtap.graph.prebuilt: this langgraph-prebuilt reads config keys {found}, "
            f"streamtap.graph provides {expected}"
        )
    try:
        installed = read("langgraph-prebuilt")
    except PackageNotFoundError:  # pragma: no cover - langgraph.prebuilt imported above
        return
    if not TESTED[0] <= _release(installed) < TESTED[1]:
        warnings.warn(
            f"streamtap.graph.prebuilt was tested with langgraph-prebuilt "
            f">={'.'.join(map(str, TESTED[0]))},<{'.'.join(map(str, TESTED[1]))}; "
            f"{installed} is installed",
            RuntimeWarning,
            stacklevel=3,
        )


class _EitherMeta(type):
    """The metaclass of a name that stands for LangGraph's class and streamtap's at once."""

    _families: tuple[type, ...]

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls._families)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._families)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """A new one of the family of the objects it is made from (``Command(goto=[Send])``
        takes its Sends' family), LangGraph's when they have none."""
        lg, st = cls._families
        values = [*args, *kwargs.values()]
        items = [i for v in values for i in (v if isinstance(v, list | tuple) else (v,))]
        ours = any(type(i).__module__.startswith("streamtap.") for i in items)
        return (st if ours else lg)(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:  # Command.PARENT: the same string in both
        return getattr(cls._families[0], name)


def either(name: str, langgraph_cls: type, streamtap_cls: type) -> type:
    """A stand-in for ``name`` that is LangGraph's ``langgraph_cls`` and ``streamtap_cls``."""
    return _EitherMeta(name, (), {"_families": (langgraph_cls, streamtap_cls)})


def install() -> None:
    """Point ``langgraph.prebuilt.tool_node``'s engine names at both engines' classes.

    Idempotent; refuses (ImportError) a tool_node whose names are not LangGraph's own
    classes, since then it is not the module this was written for.
    """
    import langgraph.errors as lg_errors
    import langgraph.types as lg_types
    from langgraph.prebuilt import tool_node

    from streamtap.graph._writes import ParentCommand
    from streamtap.graph.errors import GraphBubbleUp
    from streamtap.graph.types import Command, Send

    names = vars(tool_node)
    if names.get(_INSTALLED):
        return
    expected = {
        "GraphBubbleUp": lg_errors.GraphBubbleUp,
        "Command": lg_types.Command,
        "Send": lg_types.Send,
    }
    if any(names.get(name) is not cls for name, cls in expected.items()):
        raise ImportError(
            "streamtap.graph.prebuilt: langgraph.prebuilt.tool_node does not use LangGraph's "
            "GraphBubbleUp / Command / Send as this streamtap release expects"
        )
    replacements: dict[str, Any] = {
        # ``except GraphBubbleUp:`` re-raises an interrupt (or parent command) of either engine
        "GraphBubbleUp": (lg_errors.GraphBubbleUp, GraphBubbleUp, ParentCommand),
        "Command": either("Command", lg_types.Command, Command),
        "Send": either("Send", lg_types.Send, Send),
        _INSTALLED: True,
    }
    for name, value in replacements.items():
        setattr(tool_node, name, value)
