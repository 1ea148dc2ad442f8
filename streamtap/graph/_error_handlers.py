"""Node error handlers (``add_node(..., error_handler=h)``), run as LangGraph runs them.

When a node with a handler fails (retries exhausted; interrupts and commands for a
parent are not failures), its error is saved as usual, beside an
``__error_source_node__`` marker, and the handler's node runs in the same step,
on the failed node's input, with a ``NodeError`` for a parameter annotated so.
Its writes and ``Command`` are the step's as any node's; the run fails only if the
handler fails. A run resumed from a step where a handler had taken over a failure
(the handler crashed, or was interrupted) runs the handler again, not the node.

The handler's task id, namespace and path are LangGraph's, so its saved writes and
interrupt answers are found by either engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from langgraph.checkpoint.base import Checkpoint, PendingWrite

from streamtap.graph._algo import Task, task_id
from streamtap.graph._constants import CONF, ERROR, ERROR_SOURCE_NODE, NS_SEP, PUSH
from streamtap.graph._node_errors import KEY_NODE_ERROR, NodeError
from streamtap.graph.errors import GraphBubbleUp

if TYPE_CHECKING:
    from streamtap.graph._spec import GraphSpec


class StepLoop(Protocol):
    """What a handler reads of ``_loop.StepLoop`` (a protocol: the loop imports this module)."""

    graph: GraphSpec
    checkpoint: Checkpoint
    step: int

    def _prepare_to_execute(self, task: Task) -> None: ...


def routes_to_handler(loop: StepLoop, task: Task, exc: BaseException) -> bool:
    """Whether ``task``'s failure ``exc`` goes to its error handler instead of ending the run."""
    return (
        isinstance(exc, Exception)
        and not isinstance(exc, GraphBubbleUp)
        and task.name in loop.graph.error_handlers
    )


def handler_task(loop: StepLoop, failed: Task, error: BaseException) -> Task:
    """The task running ``failed``'s error handler in this step, ready to execute."""
    name = loop.graph.error_handlers[failed.name]
    ns = f"{failed.ns}{NS_SEP}{name}" if failed.ns else name
    tid = task_id(loop.checkpoint, ns, str(loop.step), name, PUSH, "node_error_handler", failed.id)
    path = (*failed.path[:3], "node_error_handler", False)
    task = Task(tid, name, path, (PUSH,), failed.input, f"{ns}:{tid}")
    loop._prepare_to_execute(task)
    task.config[CONF][KEY_NODE_ERROR] = NodeError(node=failed.name, error=error)
    return task


def resumed_handlers(
    loop: StepLoop, tasks: Sequence[Task], pending: Sequence[PendingWrite]
) -> list[Task]:
    """On resume: the handlers to run again for tasks a handler had taken over, each of
    those tasks marked done with its saved error so the node itself does not run again."""
    errors = {tid: value for tid, chan, value in pending if chan == ERROR}
    taken = {tid for tid, chan, _ in pending if chan == ERROR_SOURCE_NODE and tid in errors}
    handlers = []
    for task in tasks:
        if task.id in taken and task.name in loop.graph.error_handlers:
            task.writes.append((ERROR, errors[task.id]))
            handlers.append(handler_task(loop, task, errors[task.id]))
    return handlers
