"""Errors raised by the graph runtime; names and bases match LangGraph's."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Literal

from langgraph.checkpoint.base import EmptyChannelError

from streamtap.graph._node_errors import NodeCancelledError, NodeError, NodeTimeoutError

if TYPE_CHECKING:
    from streamtap.graph.types import Command, Interrupt

__all__ = [
    "EmptyChannelError",
    "EmptyInputError",
    "ErrorCode",
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
    "TaskNotFound",
    "UnknownInterruptError",
    "create_error_message",
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


class ErrorCode(Enum):
    """LangGraph's troubleshooting page names, for ``create_error_message``."""

    GRAPH_RECURSION_LIMIT = "GRAPH_RECURSION_LIMIT"
    INVALID_CONCURRENT_GRAPH_UPDATE = "INVALID_CONCURRENT_GRAPH_UPDATE"
    INVALID_GRAPH_NODE_RETURN_VALUE = "INVALID_GRAPH_NODE_RETURN_VALUE"
    MULTIPLE_SUBGRAPHS = "MULTIPLE_SUBGRAPHS"
    INVALID_CHAT_HISTORY = "INVALID_CHAT_HISTORY"


def create_error_message(*, message: str, error_code: ErrorCode) -> str:
    """``message`` plus the link to LangGraph's page on ``error_code`` (LangGraph's format)."""
    return (
        f"{message}\n"
        "For troubleshooting, visit: https://docs.langchain.com/oss/python/langgraph/"
        f"errors/{error_code.value}"
    )


class TaskNotFound(Exception):
    """An executor could not find a task (LangGraph's, for distributed runs)."""


class UnknownInterruptError(Exception):
    """A resume that matches no pending interrupt, in LangGraph's strict resume mode.

    streamtap.graph has no strict resume mode yet, so it never raises this; the class is
    here for code that catches it. ``reason`` is ``"not_pending"``, ``"empty_map"`` or
    ``"ambiguous"``.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["not_pending", "empty_map", "ambiguous"],
        interrupt_ids: Sequence[str] = (),
        pending_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.interrupt_ids = tuple(interrupt_ids)
        self.pending_ids = tuple(pending_ids)
