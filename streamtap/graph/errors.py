"""Errors raised by the graph runtime; names and bases match LangGraph's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from streamtap.graph._node_errors import NodeCancelledError, NodeError, NodeTimeoutError

if TYPE_CHECKING:
    from streamtap.graph.types import Command, Interrupt

__all__ = [
    "EmptyInputError",
    "GraphBubbleUp",
    "GraphDrained",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "NodeCancelledError",
    "NodeError",
    "NodeInterrupt",
    "NodeTimeoutError",
    "ParentCommand",
    "StreamThreadError",
    "is_invalid_resume",
]


class GraphRecursionError(RecursionError):
    """The graph ran ``recursion_limit`` super-steps without reaching END.

    Raise the limit with ``config={"recursion_limit": n}`` if the loop is
    intended, or add a condition that routes to END.
    """


class InvalidUpdateError(Exception):
    """A node returned something the state cannot take.

    Two nodes of one step wrote a key that has no reducer (annotate the key,
    e.g. ``Annotated[list, operator.add]``), or a node returned something other
    than a dict, a ``Command`` or ``None``.
    """


class EmptyInputError(Exception):
    """The graph was started with no input and there is no saved state to resume."""


class GraphBubbleUp(Exception):
    """A graph stopping on purpose (an interrupt, a drain), not a failure of a node."""


class GraphDrained(GraphBubbleUp):
    """The run stopped at a step boundary because ``RunControl.request_drain()`` was called.

    Its checkpoint is saved: invoking the thread again (``invoke(None, config)``) continues.
    """

    def __init__(self, reason: str = "shutdown") -> None:
        self.reason = reason
        super().__init__(f"Graph drained: {reason}")


class GraphInterrupt(GraphBubbleUp):
    """Raised inside a node by ``interrupt()`` to pause the run.

    The runtime catches it: the consumer sees ``{"__interrupt__": (...)}`` and the
    run ends. It only escapes when a subgraph is paused, so the parent pauses too.
    """

    def __init__(self, interrupts: Sequence[Interrupt] = ()) -> None:
        super().__init__(tuple(interrupts))

    @property
    def interrupts(self) -> tuple[Interrupt, ...]:
        return tuple(self.args[0]) if self.args else ()


class ParentCommand(GraphBubbleUp):
    """A node asked for ``Command(graph=Command.PARENT)``: the parent graph applies it.

    Raised out of ``invoke()`` when the graph has no parent (LangGraph's).
    """

    args: tuple[Command]

    def __init__(self, command: Command) -> None:
        super().__init__(command)
        self.command = command


class StreamThreadError(RuntimeError):
    """A sync ``stream()`` was resumed in another thread while its node was paused.

    A sync run started in the main thread runs a step's single live node in a
    greenlet of that thread: no worker thread, so tokens arrive with less
    latency. A greenlet can only continue in its own thread. Iterate the
    stream in the thread that started it, or start it from the worker thread
    that will iterate it: streams started outside the main thread run nodes in
    worker threads and may be resumed from any thread.
    """

    def __init__(self, owner: str, current: str) -> None:
        super().__init__(
            f"graph.stream() was resumed in thread {current!r} while its node was paused in "
            f"thread {owner!r}: iterate a sync stream started in the main thread in the main "
            "thread, or start it in the thread that will iterate it"
        )
        self.owner = owner
        self.current = current


class NodeInterrupt(GraphInterrupt):
    """Raised by a node to pause the run (LangGraph's deprecated spelling of ``interrupt()``)."""

    def __init__(self, value: object, id: str | None = None) -> None:
        import warnings

        from streamtap.graph.types import Interrupt
        from streamtap.graph.warnings import LangGraphDeprecatedSinceV10

        warnings.warn(
            "NodeInterrupt is deprecated. Please use `langgraph.types.interrupt` instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        super().__init__([Interrupt(value) if id is None else Interrupt(value, id)])


#: the mark ``interrupt()`` puts on a resume value's ValidationError (LangGraph's attribute)
_INVALID_RESUME = "_langgraph_invalid_resume"


def mark_invalid_resume(error: BaseException) -> None:
    setattr(error, _INVALID_RESUME, True)


def is_invalid_resume(error: BaseException) -> bool:
    """Whether ``error`` is a resume value failing its interrupt's ``response_schema``.

    Such a failure leaves the interrupt pending (it can be answered again), and does not
    cut off the other tasks answered by the same resume, so it is told apart from a
    node's own ``ValidationError``.
    """
    return getattr(error, _INVALID_RESUME, False) is True
