"""Task calls: the functional API's ``@task``, scheduled as LangGraph schedules them.

A running task (an entrypoint, a graph node, another task) that calls a ``@task``
function gets a future at once; the call becomes a task of its own in the same step,
with LangGraph's id (the checkpoint, the caller's namespace and path, the call's ordinal
within the caller). Its result is saved as that task's pending write (``__return__``),
so when the caller runs again after an interrupt the same call finds it and the
function is not called twice, whichever engine paused the thread. A call's interrupt or
error reaches the caller through the future; a call's interrupt is the caller's to
report (its path ends in ``True``, LangGraph's mark).

How the call runs (a thread, an asyncio task) is the runner's: ``_call_runner``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from langgraph.checkpoint.base import Checkpoint, PendingWrite

from streamtap.graph._algo import Task, task_id
from streamtap.graph._cache import CacheKey, cached, call_cache_key, store_cached
from streamtap.graph._constants import ERROR, INTERRUPT, MISSING, NS_SEP, PUSH, RESUME, RETURN
from streamtap.graph._spec import GraphSpec
from streamtap.graph._writes import Write
from streamtap.graph.errors import GraphInterrupt

__all__ = [
    "Call",
    "CallRunner",
    "accept_call",
    "call_name",
    "commit_call",
    "outcome_of",
    "task_path_str",
]


@dataclass(frozen=True, slots=True, eq=False)
class Call:
    """One call of a ``@task`` function: what to run and with which policies."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    retry_policy: Sequence[Any] | None = None
    cache_policy: Any = None
    timeout: Any = None
    callbacks: Any = None  # the caller's, so the call's run nests under the caller's

    @property
    def input(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """LangGraph's task input for a call: ``(args, kwargs)``."""
        return (self.args, self.kwargs)


def call_name(func: Any) -> str:
    """The task's name, as LangGraph names a called function (``get_runnable_for_task``)."""
    if hasattr(func, "__name__"):
        return str(func.__name__)
    if hasattr(func, "func"):
        return str(func.func.__name__)
    return type(func).__name__


def task_path_str(tup: Any) -> str:
    """LangGraph's string of a task path, part of a called task's id."""
    if isinstance(tup, tuple | list):
        return f"~{', '.join(task_path_str(x) for x in tup)}"
    if isinstance(tup, int):
        return f"{tup:010d}"
    return str(tup)


class CallRunner(Protocol):
    """Runs a prepared call task and commits it; the future resolves after the commit."""

    def submit(self, task: Task) -> Any: ...

    def resolved(self, value: Any) -> Any:
        """A future already holding ``value``, of the kind ``submit`` returns here."""


class CallingLoop(Protocol):
    """What a call reads of ``_loop.StepLoop`` (a protocol: the loop imports this module)."""

    graph: GraphSpec
    checkpoint: Checkpoint
    step: int
    cache_keys: dict[str, CacheKey]
    pending_writes: list[PendingWrite]
    tasks: list[Task]
    calls: CallRunner | None

    def _prepare_to_execute(self, task: Task, caller: Task | None = None) -> None: ...

    def emit_task_start(self, task: Task) -> None: ...

    def _put_writes(self, task_id: str, writes: Sequence[Write]) -> None: ...

    def _output_writes(self, task: Task, writes: Sequence[Write], cached: bool = False) -> None: ...


def accept_call(loop: CallingLoop, caller: Task, call: Call) -> Any:
    """Schedule ``call`` made by ``caller``: a future of its result.

    A call that finished in an earlier run of this step (the caller re-runs after an
    interrupt) resolves at once with its saved result, or its saved error.
    """
    if loop.calls is None:
        raise RuntimeError("A task was called outside of a running graph step")
    assert caller.ctx is not None
    idx = caller.ctx.scratchpad.next_call()
    name = call_name(call.func)
    ns = f"{caller.ns}{NS_SEP}{name}" if caller.ns else name
    tid = task_id(
        loop.checkpoint, ns, str(loop.step), name, PUSH, task_path_str(caller.path), str(idx)
    )
    # the path ends in True: a call, whose interrupts its caller reports (LangGraph's mark)
    task = Task(tid, name, (PUSH, caller.path, idx, True), (PUSH,), call.input, f"{ns}:{tid}")
    task.call = call
    loop._prepare_to_execute(task, caller)
    loop.tasks.append(task)
    loop.emit_task_start(task)
    done, value = outcome_of(loop.pending_writes, tid)
    if done:
        task.writes.append((RETURN, value))
        return loop.calls.resolved(value)
    policy = call.cache_policy or loop.graph.task_cache_policy
    if loop.graph.cache is not None and policy is not None:
        key = call_cache_key(call.func, call.args, call.kwargs, policy)
        hit = cached(loop.graph.cache, key)
        if hit is not None:  # saved as the task's writes, streamed as cached
            task.writes.extend(hit)
            loop._put_writes(task.id, task.writes)
            loop._output_writes(task, task.writes, cached=True)
            return loop.calls.resolved(next((v for c, v in hit if c == RETURN), None))
        loop.cache_keys[task.id] = key
    return loop.calls.submit(task)


def outcome_of(pending_writes: Sequence[PendingWrite], tid: str) -> tuple[bool, Any]:
    """Whether task ``tid`` finished in an earlier run of the step, and its result. A
    saved return value counts even beside the interrupt an earlier run saved; a saved
    error does not (a failed call runs again, as on LangGraph)."""
    mine = [(c, v) for t, c, v in pending_writes if t == tid]
    returned = next((v for c, v in mine if c == RETURN), MISSING)
    if returned is not MISSING:
        return True, returned
    if any(c in (ERROR, INTERRUPT) for c, _ in mine) or all(c == RESUME for c, _ in mine):
        return False, None
    return True, None


def commit_call(loop: CallingLoop, task: Task, exc: BaseException | None) -> None:
    """Record a finished call: its result (or error) saved and streamed; an interrupt
    saved only, for its caller reports it."""
    if isinstance(exc, GraphInterrupt):
        if exc.interrupts:
            resumes = [w for w in task.writes if w[0] == RESUME]
            loop._put_writes(task.id, [(INTERRUPT, exc.interrupts), *resumes])
        return
    writes: list[Write] = task.writes if exc is None else [(ERROR, exc)]
    loop._put_writes(task.id, writes)
    loop._output_writes(task, writes)
    if exc is None and task.id in loop.cache_keys:
        store_cached(loop.graph, loop.cache_keys, task)
