"""Graph lifecycle callbacks, as ``langgraph.callbacks``: a run paused by interrupts, a run
resumed from a checkpoint.

A ``GraphCallbackHandler`` passed in ``config["callbacks"]`` (a list or a callback manager,
beside any other LangChain handler) gets ``on_interrupt`` when a run stops at interrupts
and ``on_resume`` when a run (or a subgraph's) continues a paused thread. Other handlers
get nothing of these. A handler that raises is logged and skipped unless it sets
``raise_error``, as for every LangChain callback. A handler written against LangGraph's
``langgraph.callbacks.GraphCallbackHandler`` is served too (when the application loaded
LangGraph's module, which streamtap never imports).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.callbacks.manager import ahandle_event, handle_event
from langchain_core.runnables import RunnableConfig

from streamtap.graph.types import Interrupt

__all__ = (
    "GraphCallbackHandler",
    "GraphInterruptEvent",
    "GraphLifecycleEvent",
    "GraphLifecycleStatus",
    "GraphResumeEvent",
    "get_async_graph_callback_manager_for_config",
    "get_sync_graph_callback_manager_for_config",
)

GraphLifecycleStatus: TypeAlias = Literal[
    "input", "pending", "done", "interrupt_before", "interrupt_after", "out_of_steps"
]


@dataclass(frozen=True)
class GraphInterruptEvent:
    """A run paused for ``interrupts`` (the top graph's run, once)."""

    run_id: UUID | None
    status: GraphLifecycleStatus
    checkpoint_id: str
    checkpoint_ns: tuple[str, ...]
    interrupts: tuple[Interrupt, ...]


@dataclass(frozen=True)
class GraphResumeEvent:
    """A run (of the graph at ``checkpoint_ns``) continuing from a saved checkpoint."""

    run_id: UUID | None
    status: GraphLifecycleStatus
    checkpoint_id: str
    checkpoint_ns: tuple[str, ...]


GraphLifecycleEvent: TypeAlias = GraphInterruptEvent | GraphResumeEvent


class GraphCallbackHandler(BaseCallbackHandler):
    """Subclass and override: the graph lifecycle events, nothing else."""

    def on_interrupt(self, event: GraphInterruptEvent) -> Any:
        """A run paused at one or more interrupts."""

    def on_resume(self, event: GraphResumeEvent) -> Any:
        """A run continued from a persisted checkpoint."""


def _graph_handlers(handlers: Sequence[Any]) -> list[Any]:
    """The handlers that want lifecycle events: streamtap's, or LangGraph's if loaded."""
    kinds: tuple[type, ...] = (GraphCallbackHandler,)
    langgraph = sys.modules.get("langgraph.callbacks")
    if langgraph is not None:
        kinds += (langgraph.GraphCallbackHandler,)
    return [h for h in handlers if isinstance(h, kinds)]


_M = TypeVar("_M", bound="_BaseGraphCallbackManager")


class _BaseGraphCallbackManager(BaseCallbackManager):
    run_id: UUID | None

    def __init__(
        self,
        handlers: Sequence[BaseCallbackHandler] | None = None,
        inheritable_handlers: Sequence[BaseCallbackHandler] | None = None,
        parent_run_id: UUID | None = None,
        *,
        tags: list[str] | None = None,
        inheritable_tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
        run_id: UUID | None = None,
    ) -> None:
        super().__init__(
            list(handlers or ()),
            list(inheritable_handlers or ()),
            parent_run_id,
            tags=tags,
            inheritable_tags=inheritable_tags,
            metadata=metadata,
            inheritable_metadata=inheritable_metadata,
        )
        self.run_id = run_id

    @classmethod
    def configure(cls: type[_M], callbacks: Any = None, *, run_id: UUID | None = None) -> _M:
        """The lifecycle handlers among ``callbacks`` (a handler, a list or a manager)."""
        if callbacks is None:
            return cls(run_id=run_id)
        if isinstance(callbacks, BaseCallbackManager):
            return cls(
                _graph_handlers(callbacks.handlers),
                _graph_handlers(callbacks.inheritable_handlers),
                callbacks.parent_run_id,
                tags=list(callbacks.tags),
                inheritable_tags=list(callbacks.inheritable_tags),
                metadata=dict(callbacks.metadata),
                inheritable_metadata=dict(callbacks.inheritable_metadata),
                run_id=run_id,
            )
        if isinstance(callbacks, BaseCallbackHandler):
            return cls(_graph_handlers([callbacks]), run_id=run_id)
        if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Sequence):
            raise TypeError("callbacks must be a handler, sequence, or manager")
        return cls(_graph_handlers(list(callbacks)), run_id=run_id)

    def copy(self: _M, *, run_id: UUID | None = None) -> _M:
        return type(self)(
            _graph_handlers(self.handlers),
            _graph_handlers(self.inheritable_handlers),
            self.parent_run_id,
            tags=list(self.tags),
            inheritable_tags=list(self.inheritable_tags),
            metadata=dict(self.metadata),
            inheritable_metadata=dict(self.inheritable_metadata),
            run_id=run_id if run_id is not None else self.run_id,
        )


class _GraphCallbackManager(_BaseGraphCallbackManager):
    """Sync dispatcher of lifecycle events (LangGraph's name)."""

    def on_interrupt(self, event: GraphInterruptEvent) -> None:
        handle_event(_graph_handlers(self.handlers), "on_interrupt", None, event)

    def on_resume(self, event: GraphResumeEvent) -> None:
        handle_event(_graph_handlers(self.handlers), "on_resume", None, event)


class _AsyncGraphCallbackManager(_BaseGraphCallbackManager):
    """Async dispatcher: coroutine handlers are awaited."""

    @property
    def is_async(self) -> bool:
        return True

    async def on_interrupt(self, event: GraphInterruptEvent) -> None:
        await ahandle_event(_graph_handlers(self.handlers), "on_interrupt", None, event)

    async def on_resume(self, event: GraphResumeEvent) -> None:
        await ahandle_event(_graph_handlers(self.handlers), "on_resume", None, event)


def get_sync_graph_callback_manager_for_config(
    config: RunnableConfig, *, run_id: UUID | None = None
) -> _GraphCallbackManager:
    """The lifecycle handlers of ``config["callbacks"]``, bound to ``run_id``."""
    return _GraphCallbackManager.configure(config.get("callbacks"), run_id=run_id)


def get_async_graph_callback_manager_for_config(
    config: RunnableConfig, *, run_id: UUID | None = None
) -> _AsyncGraphCallbackManager:
    return _AsyncGraphCallbackManager.configure(config.get("callbacks"), run_id=run_id)
