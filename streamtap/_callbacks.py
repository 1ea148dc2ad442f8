"""Callback events delivered without langchain-core's async dispatch, when it adds nothing.

langchain-core's async managers dispatch every event through ``ahandle_event``: an
``asyncio.gather`` over the handlers that are not ``run_inline`` (a future even when
there are none), and ``on_*_end`` through ``@shielded``, a task of its own plus a
shield: two more event-loop turns per chain run. When every handler that listens for
an event is synchronous and ``run_inline`` (streamtap's and LangGraph's stream
handlers, LangSmith's tracer), those await nothing: calling the handlers in order,
with the arguments and the error handling of ``_ahandle_event_for_handler``, is the
same dispatch. A synchronous call cannot be cancelled half-way, which is what the
shield is for. Anything else (an async handler, one langchain-core would run in an
executor) keeps langchain-core's own path.

This is the bottom layer: it imports nothing from streamtap.
"""

from __future__ import annotations

import inspect
import logging
from contextvars import copy_context
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks.manager import (
    AsyncCallbackManager,
    AsyncCallbackManagerForChainRun,
    AsyncCallbackManagerForLLMRun,
    AsyncRunManager,
)
from langchain_core.messages import BaseMessage
from langchain_core.utils.uuid import uuid7

__all__ = [
    "achain_end",
    "achain_start",
    "achat_model_start",
    "arun_event",
    "call_inline",
    "handler_failed",
    "inline_listeners",
]

# langchain-core logs a failing handler under its own logger: keep the same name
_log = logging.getLogger("langchain_core.callbacks.manager")


def _is_no_op(handler: BaseCallbackHandler, method: str) -> bool:
    own = getattr(type(handler), method, None)
    return own is getattr(BaseCallbackHandler, method, None) or own is getattr(
        AsyncCallbackHandler, method, None
    )


def inline_listeners(
    handlers: list[BaseCallbackHandler], method: str, ignore: str
) -> list[BaseCallbackHandler] | None:
    """The handlers that listen for ``method`` (not ignoring it by ``ignore``, not
    inheriting the base class's no-op), when every one of them is synchronous and
    ``run_inline``; ``None`` when one needs langchain-core's async dispatch."""
    listeners = [h for h in handlers if not getattr(h, ignore, False) and not _is_no_op(h, method)]
    for handler in listeners:
        if not handler.run_inline or inspect.iscoroutinefunction(getattr(handler, method)):
            return None
    return listeners


def call_inline(
    listeners: list[BaseCallbackHandler], method: str, *args: Any, **kwargs: Any
) -> None:
    """``method`` on each listener, failures handled as langchain-core handles them:
    logged, and raised only by a handler with ``raise_error``."""
    for handler in listeners:
        try:
            getattr(handler, method)(*args, **kwargs)
        except NotImplementedError as exc:
            _log.warning(
                "NotImplementedError in %s.%s callback: %r", type(handler).__name__, method, exc
            )
        except Exception as exc:
            handler_failed(handler, method, exc)


def handler_failed(handler: BaseCallbackHandler, method: str, exc: Exception) -> None:
    """What langchain-core does when a handler raises: log it under its own logger, and
    raise it again only for a handler with ``raise_error``."""
    _log.warning("Error in %s.%s callback: %r", type(handler).__name__, method, exc)
    if handler.raise_error:
        raise exc


async def achain_start(
    manager: AsyncCallbackManager, serialized: dict[str, Any] | None, inputs: Any, **kwargs: Any
) -> AsyncCallbackManagerForChainRun:
    """``await manager.on_chain_start(serialized, inputs, **kwargs)``, directly when it can."""
    listeners = inline_listeners(manager.handlers, "on_chain_start", "ignore_chain")
    if listeners is None:
        return await manager.on_chain_start(serialized, inputs, **kwargs)
    run_id = kwargs.pop("run_id", None) or uuid7()
    _start_inline(manager, listeners, "on_chain_start", serialized, inputs, run_id, kwargs)
    return _run_manager(AsyncCallbackManagerForChainRun, manager, run_id)


_R = TypeVar("_R", AsyncCallbackManagerForChainRun, AsyncCallbackManagerForLLMRun)


def _start_inline(
    manager: AsyncCallbackManager,
    listeners: list[BaseCallbackHandler],
    method: str,
    serialized: Any,
    inputs: Any,
    run_id: UUID,
    kwargs: dict[str, Any],
) -> None:
    """A run's start event, as ``AsyncCallbackManager.on_*_start`` hands it to a handler."""
    call_inline(
        listeners,
        method,
        serialized,
        inputs,
        run_id=run_id,
        parent_run_id=manager.parent_run_id,
        tags=manager.tags,
        metadata=manager.metadata,
        **kwargs,
    )


def _run_manager(cls: type[_R], manager: AsyncCallbackManager, run_id: UUID) -> _R:
    """The run's own manager, as ``AsyncCallbackManager.on_*_start`` returns it."""
    return cls(
        run_id=run_id,
        handlers=manager.handlers,
        inheritable_handlers=manager.inheritable_handlers,
        parent_run_id=manager.parent_run_id,
        tags=manager.tags,
        inheritable_tags=manager.inheritable_tags,
        metadata=manager.metadata,
        inheritable_metadata=manager.inheritable_metadata,
    )


async def achain_end(run: AsyncCallbackManagerForChainRun, outputs: Any, **kwargs: Any) -> None:
    """``await run.on_chain_end(outputs, **kwargs)``, directly when it can."""
    await arun_event(run, "on_chain_end", "ignore_chain", outputs, **kwargs)


async def arun_event(
    run: AsyncRunManager, method: str, ignore: str, *args: Any, **kwargs: Any
) -> None:
    """``await run.<method>(*args, **kwargs)`` for a run's end or error event, directly
    when it can (in a copy of the context, as langchain-core's shielded task runs it)."""
    if not run.handlers:
        return
    listeners = inline_listeners(run.handlers, method, ignore)
    if listeners is None:
        await getattr(run, method)(*args, **kwargs)
        return
    copy_context().run(
        call_inline,
        listeners,
        method,
        *args,
        run_id=run.run_id,
        parent_run_id=run.parent_run_id,
        tags=run.tags,
        **kwargs,
    )


def _chat_start_falls_back(handler: BaseCallbackHandler) -> bool:
    """A handler without ``on_chat_model_start`` of its own gets ``on_llm_start``
    with the messages as strings (langchain-core's fallback): not done here."""
    return _is_no_op(handler, "on_chat_model_start") and not _is_no_op(handler, "on_llm_start")


async def achat_model_start(
    manager: AsyncCallbackManager,
    serialized: dict[str, Any],
    messages: list[BaseMessage],
    run_id: UUID | None = None,
    **kwargs: Any,
) -> AsyncCallbackManagerForLLMRun:
    """``(await manager.on_chat_model_start(serialized, [messages], run_id, **kwargs))[0]``,
    directly when it can: one prompt, one run."""
    listeners = inline_listeners(manager.handlers, "on_chat_model_start", "ignore_chat_model")
    if listeners is None or any(
        _chat_start_falls_back(h)
        for h in manager.handlers
        if not getattr(h, "ignore_chat_model", False)
    ):
        runs = await manager.on_chat_model_start(serialized, [messages], run_id, **kwargs)
        return runs[0]
    run_id = run_id or uuid7()
    _start_inline(manager, listeners, "on_chat_model_start", serialized, [messages], run_id, kwargs)
    return _run_manager(AsyncCallbackManagerForLLMRun, manager, run_id)
