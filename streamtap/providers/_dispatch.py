"""Token callbacks without langchain-core's async dispatch, when nobody needs it.

``AsyncCallbackManagerForLLMRun.on_llm_new_token`` runs ``asyncio.gather`` over
the handlers that are not ``run_inline`` for every token, even when there are
none: about 8 µs per chunk, most of what a graph's ``messages`` mode adds over
the raw SDK. When every handler that listens for tokens is synchronous and
``run_inline`` (streamtap's and LangGraph's ``messages`` handlers, LangSmith's
tracer), the handlers are called directly (``streamtap._callbacks``: same calls,
same error handling). Anything else keeps langchain-core's own path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk

from streamtap._callbacks import call_inline, inline_listeners
from streamtap.providers._chunks import generation_chunk

__all__ = [
    "InvokeStreamsToCallbacks",
    "TokenSink",
    "async_token_sinks",
    "direct_token_sink",
    "invoke_fires_tokens",
    "signed",
]

TokenSink = Callable[[AIMessageChunk], None]


def direct_token_sink(run_manager: AsyncCallbackManagerForLLMRun) -> TokenSink | None:
    """A plain function delivering one token to every listening handler, or ``None``
    when one of them needs langchain-core's async dispatch (await the run manager)."""
    listeners = inline_listeners(run_manager.handlers, "on_llm_new_token", "ignore_llm")
    if listeners is None:
        return None
    run_id, parent_run_id, tags = run_manager.run_id, run_manager.parent_run_id, run_manager.tags

    def sink(message: AIMessageChunk) -> None:
        call_inline(
            listeners,
            "on_llm_new_token",
            message.content,
            chunk=generation_chunk(message),
            run_id=run_id,
            parent_run_id=parent_run_id,
            tags=tags,
        )

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


class InvokeStreamsToCallbacks(BaseChatModel):
    """A chat model whose ``_generate`` / ``_agenerate`` stream to the callbacks
    themselves on invoke (:func:`invoke_fires_tokens`, :func:`async_token_sinks`):
    langchain-core's own path copies ``response_metadata`` per chunk and keeps every
    chunk alive until a final merge."""

    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        if run_manager is not None and not kwargs.get("stream") and self.output_version != "v1":
            return False  # invoke: _generate streams to the callbacks itself
        return super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)
