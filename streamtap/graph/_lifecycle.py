"""The graph lifecycle events (``callbacks``) of one run, as LangGraph raises them: a
resume when a run (a subgraph's too) continues a saved thread, an interrupt when the top
graph's run stops at interrupts. Built only when a lifecycle handler is configured."""

from __future__ import annotations

from typing import Any

from streamtap.graph.callbacks import (
    GraphInterruptEvent,
    GraphResumeEvent,
    _AsyncGraphCallbackManager,
    _GraphCallbackManager,
)
from streamtap.graph.errors import GraphInterrupt

__all__ = ["aemit_interrupt", "aemit_resume", "emit_interrupt", "emit_resume"]


def _run_id(loop: Any) -> Any:
    return getattr(loop.run_manager, "run_id", None)


def _resume(loop: Any, run_id: Any) -> GraphResumeEvent | None:
    if not loop.resuming:
        return None
    return GraphResumeEvent(run_id, loop.status, loop.checkpoint_id, loop.ns)


def _interrupt(loop: Any, failure: BaseException | None, run_id: Any) -> GraphInterruptEvent | None:
    if not isinstance(failure, GraphInterrupt) or loop.nested:
        return None
    interrupts = tuple(failure.interrupts)
    return GraphInterruptEvent(run_id, loop.status, loop.checkpoint_id, loop.ns, interrupts)


def emit_resume(loop: Any) -> None:
    manager = _GraphCallbackManager.configure(loop.config.get("callbacks"), run_id=_run_id(loop))
    if manager.handlers and (event := _resume(loop, manager.run_id)) is not None:
        manager.on_resume(event)


def emit_interrupt(loop: Any, failure: BaseException | None) -> None:
    manager = _GraphCallbackManager.configure(loop.config.get("callbacks"), run_id=_run_id(loop))
    if manager.handlers and (event := _interrupt(loop, failure, manager.run_id)) is not None:
        manager.on_interrupt(event)


async def aemit_resume(loop: Any) -> None:
    callbacks = loop.config.get("callbacks")
    manager = _AsyncGraphCallbackManager.configure(callbacks, run_id=_run_id(loop))
    if manager.handlers and (event := _resume(loop, manager.run_id)) is not None:
        await manager.on_resume(event)


async def aemit_interrupt(loop: Any, failure: BaseException | None) -> None:
    callbacks = loop.config.get("callbacks")
    manager = _AsyncGraphCallbackManager.configure(callbacks, run_id=_run_id(loop))
    if manager.handlers and (event := _interrupt(loop, failure, manager.run_id)) is not None:
        await manager.on_interrupt(event)
