"""The graph lifecycle events (``callbacks``) of one run, as LangGraph raises them: a
resume when a run (a subgraph's too) continues a saved thread, an interrupt when the top
graph's run stops at interrupts. Nothing is built for a run without a lifecycle handler."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackManager

from streamtap.graph.callbacks import (
    GraphInterruptEvent,
    GraphResumeEvent,
    _AsyncGraphCallbackManager,
    _graph_handlers,
    _GraphCallbackManager,
)
from streamtap.graph.errors import GraphInterrupt

__all__ = ["Lifecycle"]


def _wanted(callbacks: Any) -> bool:
    """Whether ``callbacks`` holds a lifecycle handler (cheap: most runs have none)."""
    if callbacks is None:
        return False
    if isinstance(callbacks, BaseCallbackManager):
        return bool(_graph_handlers(callbacks.handlers))
    if isinstance(callbacks, list | tuple):
        return bool(_graph_handlers(callbacks))
    return bool(_graph_handlers([callbacks]))


class Lifecycle:
    """One run's lifecycle dispatcher (``None`` from :meth:`of` when nobody listens)."""

    __slots__ = ("loop", "manager")

    def __init__(self, loop: Any, manager: Any) -> None:
        self.loop = loop
        self.manager = manager

    @classmethod
    def of(cls, loop: Any, *, is_async: bool) -> Lifecycle | None:
        callbacks = loop.config.get("callbacks")
        if not _wanted(callbacks):
            return None
        kind = _AsyncGraphCallbackManager if is_async else _GraphCallbackManager
        run_id = getattr(loop.run_manager, "run_id", None)
        return cls(loop, kind.configure(callbacks, run_id=run_id))

    def _resume(self) -> GraphResumeEvent | None:
        loop = self.loop
        if not loop.resuming:
            return None
        return GraphResumeEvent(self.manager.run_id, loop.status, loop.checkpoint_id, loop.ns)

    def _interrupt(self, failure: BaseException | None) -> GraphInterruptEvent | None:
        loop = self.loop
        if not isinstance(failure, GraphInterrupt) or loop.nested:
            return None
        ints = tuple(failure.interrupts)
        run_id = self.manager.run_id
        return GraphInterruptEvent(run_id, loop.status, loop.checkpoint_id, loop.ns, ints)

    def resume(self) -> None:
        if (event := self._resume()) is not None:
            self.manager.on_resume(event)

    def interrupt(self, failure: BaseException | None) -> None:
        if (event := self._interrupt(failure)) is not None:
            self.manager.on_interrupt(event)

    async def aresume(self) -> None:
        if (event := self._resume()) is not None:
            await self.manager.on_resume(event)

    async def ainterrupt(self, failure: BaseException | None) -> None:
        if (event := self._interrupt(failure)) is not None:
            await self.manager.on_interrupt(event)
