"""What a running node can reach: its stream writer, ``interrupt()`` and its config.

Everything hangs off the task's config (``configurable[KEY_TASK]``), which
langchain-core keeps in a context variable for the duration of the node, so
these helpers work from sync code, async code and (with a copied context)
worker threads, exactly where ``get_config()`` would.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from xxhash import xxh3_128_hexdigest

from streamtap.graph._constants import CONF, KEY_TASK, NS_END, NS_SEP, RESUME
from streamtap.graph._resume_schema import resume_adapter, validate_resume
from streamtap.graph.errors import GraphInterrupt
from streamtap.graph.types import Interrupt, StreamWriter

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["get_config", "get_stream_writer", "interrupt"]

#: one part of a graph's output as producers put it: ``(namespace, mode, payload)``
StreamPart = tuple[tuple[str, ...], str, Any]
#: where a loop's parts go: a ``put`` and the modes its consumer asked for
Sink = tuple[Callable[[StreamPart], None], frozenset[str]]


def _noop_writer(_: Any) -> None:
    return None


def interrupt_id(ns: str, answered: int) -> str:
    """Stable 32-hex id of a task's n-th interrupt (LangGraph keys it the same way)."""
    return xxh3_128_hexdigest((f"{ns}{NS_SEP}{answered}" if answered else ns).encode())


class Scratchpad:
    """Per-task resume bookkeeping: which answers this task already has."""

    __slots__ = ("_calls", "_counter", "_lock", "_null", "parent", "pending", "resume")

    def __init__(
        self,
        resume: list[Any],
        null_resume: tuple[str, str, Any] | None,
        pending: list[tuple[str, str, Any]],
        parent: Scratchpad | None,
    ) -> None:
        self.resume = resume
        self._null = null_resume  # the (task_id, RESUME, value) write, if any
        self.pending = pending
        self.parent = parent
        self._counter = itertools.count()
        self._calls = itertools.count()  # the task's @task calls, numbered as LangGraph's
        self._lock = threading.Lock()

    def next_index(self) -> int:
        return next(self._counter)

    def next_call(self) -> int:
        with self._lock:
            return next(self._calls)

    def take_null_resume(self) -> Any:
        """The bare ``Command(resume=v)`` value, consumed by the first interrupt to ask."""
        if self._null is None:
            return self.parent.take_null_resume() if self.parent is not None else None
        with self._lock:
            write = self._null
            try:
                self.pending.remove(write)  # type: ignore[arg-type]
            except ValueError:
                return None
            return write[2]


@dataclass(slots=True, eq=False)
class TaskContext:
    """The slice of the running graph a node (and any subgraph it runs) may use."""

    task_id: str
    ns: str
    writer: StreamWriter
    scratchpad: Scratchpad
    send: Callable[[list[tuple[str, Any]]], None]
    checkpointer: BaseCheckpointSaver[Any] | None
    parent_sink: Sink | None
    resuming: bool
    resume_map: dict[str, Any] | None
    checkpoint_map: dict[str, str] = field(default_factory=dict)
    thread_id: Any = None
    #: how many graphs this task has called so far: each call after the first gets "|n"
    subgraph_calls: Iterator[int] = field(default_factory=itertools.count)
    durability: str = "async"
    replay: ReplayState | None = None
    #: schedules a ``@task`` call made by this task (``_calls.accept_call``): its future
    call: Callable[[Any], Any] | None = None


class ReplayState:
    """A parent's replay point, shared by the subgraphs it re-enters (LangGraph's).

    The first time a subgraph namespace is entered during the replay it loads its
    last checkpoint from before that point; later entries (a loop) load the latest.
    """

    __slots__ = ("_lock", "_visited", "checkpoint_id")

    def __init__(self, checkpoint_id: str) -> None:
        self.checkpoint_id = checkpoint_id
        self._visited: set[str] = set()
        self._lock = threading.Lock()

    def first_visit(self, ns: str) -> bool:
        stable = ns.rsplit(NS_END, 1)[0] if NS_END in ns else ns
        with self._lock:
            if stable in self._visited:
                return False
            self._visited.add(stable)
            return True


def get_config() -> RunnableConfig:
    config = var_child_runnable_config.get()
    if config is None:
        raise RuntimeError("Called get_config outside of a runnable context")
    return config


def _task_context() -> TaskContext:
    ctx = get_config().get(CONF, {}).get(KEY_TASK)
    if ctx is None:
        raise RuntimeError(
            "Called outside of a graph node: get_stream_writer() and interrupt() only "
            "work while a streamtap graph runs the calling node"
        )
    return ctx  # type: ignore[no-any-return]


def get_stream_writer() -> StreamWriter:
    """The current node's ``custom``-mode writer (a no-op when ``custom`` was not asked for)."""
    return _task_context().writer


def interrupt(value: Any, *, response_schema: dict[str, Any] | type | None = None) -> Any:
    """Pause the graph and surface ``value``; returns the answer once resumed.

    The node re-runs from the top on resume, and each ``interrupt()`` call in
    it returns, in order, the answers given so far. Needs a checkpointer to be
    resumable.

    ``response_schema`` tells clients what answer is expected: a JSON schema dict
    is passed on as is; a pydantic model, TypedDict or dataclass is surfaced as
    its JSON schema and the answer is validated (and returned) as that type. An
    answer that fails raises pydantic's ``ValidationError`` marked for
    ``is_invalid_resume``, and is not recorded, so the interrupt can be answered again.
    """
    ctx = _task_context()
    adapter = resume_adapter(response_schema)
    pad = ctx.scratchpad
    idx = pad.next_index()
    if idx < len(pad.resume):
        answer = pad.resume[idx]
        validated = validate_resume(adapter, answer)
        ctx.send([(RESUME, pad.resume[: idx + 1])])
        return validated
    answer = pad.take_null_resume()
    if answer is not None:
        validated = validate_resume(adapter, answer)
        pad.resume.append(answer)
        ctx.send([(RESUME, list(pad.resume))])
        return validated
    surfaced = adapter.json_schema() if adapter is not None else response_schema
    raise GraphInterrupt(
        (Interrupt(value, interrupt_id(ctx.ns, len(pad.resume)), response_schema=surfaced),)
    )


noop_writer = _noop_writer
