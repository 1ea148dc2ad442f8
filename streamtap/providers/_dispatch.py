"""Token callbacks without langchain-core's async dispatch, when nobody needs it.

``AsyncCallbackManagerForLLMRun.on_llm_new_token`` runs ``asyncio.gather`` over
the handlers that are not ``run_inline`` for every token, even when there are
none: about 8 µs per chunk, most of what a graph's ``messages`` mode adds over
the raw SDK. When every handler that listens for tokens is synchronous and
``run_inline`` (streamtap's and LangGraph's ``messages`` handlers, LangSmith's
tracer), that gather awaits nothing, and calling those handlers in order, with
the arguments and error handling of langchain-core's ``_ahandle_event_for_handler``,
is the same dispatch. Anything else (an async handler, a handler langchain-core
would run in an executor) keeps langchain-core's own path.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from langchain_core.callbacks import (
    AsyncCallbackHandler,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk

from streamtap.providers._chunks import generation_chunk

__all__ = [
    "TokenSink",
    "async_token_sinks",
    "direct_token_sink",
    "invoke_fires_tokens",
    "signed",
]

# langchain-core logs a failing handler under its own logger: keep the same name
_log = logging.getLogger("langchain_core.callbacks.manager")

TokenSink = Callable[[AIMessageChunk], None]

_NO_OPS = (BaseCallbackHandler.on_llm_new_token, AsyncCallbackHandler.on_llm_new_token)


def _listens(handler: BaseCallbackHandler) -> bool:
    if getattr(handler, "ignore_llm", False):
        return False
    return getattr(type(handler), "on_llm_new_token", None) not in _NO_OPS


def direct_token_sink(run_manager: AsyncCallbackManagerForLLMRun) -> TokenSink | None:
    """A plain function delivering one token to every listening handler, or ``None``
    when one of them needs langchain-core's async dispatch (await the run manager)."""
    listeners = [h for h in run_manager.handlers if _listens(h)]
    for handler in listeners:
        if not handler.run_inline or inspect.iscoroutinefunction(handler.on_llm_new_token):
            return None
    run_id, parent_run_id, tags = run_manager.run_id, run_manager.parent_run_id, run_manager.tags

    def sink(message: AIMessageChunk) -> None:
        token, chunk = message.content, generation_chunk(message)
        for handler in listeners:
            try:
                handler.on_llm_new_token(
                    token, chunk=chunk, run_id=run_id, parent_run_id=parent_run_id, tags=tags
                )
            except NotImplementedError as exc:
                _log.warning(
                    "NotImplementedError in %s.on_llm_new_token callback: %r",
                    type(handler).__name__,
                    exc,
                )
            except Exception as exc:
                _log.warning(
                    "Error in %s.on_llm_new_token callback: %r", type(handler).__name__, exc
                )
                if handler.raise_error:
                    raise

    return sink


def invoke_fires_tokens(model: BaseChatModel, run_manager: Any, kwargs: dict[str, Any]) -> bool:
    """Whether langchain-core would have streamed this invoke to its callbacks (a model
    whose ``_generate`` streams by itself fires the tokens it would have fired)."""
    if run_manager is None:
        return False
    return BaseChatModel._should_stream(model, async_api=False, run_manager=run_manager, **kwargs)


def async_token_sinks(
    model: BaseChatModel, run_manager: AsyncCallbackManagerForLLMRun | None, kwargs: dict[str, Any]
) -> tuple[TokenSink | None, AsyncCallbackManagerForLLMRun | None]:
    """How an async invoke hands each chunk to the callbacks: ``(sink, None)`` to call
    the sink, ``(None, run_manager)`` to await its ``on_llm_new_token``, ``(None, None)``
    when nobody wants tokens."""
    if run_manager is None or not invoke_fires_tokens(model, run_manager, kwargs):
        return None, None
    sink = direct_token_sink(run_manager)
    return (sink, None) if sink is not None else (None, run_manager)


_F = TypeVar("_F", bound=Callable[..., Any])


def signed(fn: _F) -> _F:
    """``fn`` with its signature computed once: langchain-core calls ``inspect.signature``
    on ``_generate`` / ``_agenerate`` for every invoke (~25 µs), and ``inspect`` takes a
    function's ``__signature__`` as it is."""
    fn.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return fn
