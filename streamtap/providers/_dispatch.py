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
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
    Callbacks,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models import chat_models as _lc
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import LLMResult, RunInfo

from streamtap._callbacks import (
    achat_model_start,
    arun_event,
    call_inline,
    handler_failed,
    inline_listeners,
)
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

#: a handler's method taking ``(message, run_id)`` for a token (streamtap's messages
#: handler has it): called instead of ``on_llm_new_token`` when it is the only listener
_TOKEN_HOOK = "on_message_token"


def direct_token_sink(run_manager: AsyncCallbackManagerForLLMRun) -> TokenSink | None:
    """A plain function delivering one token to every listening handler, or ``None``
    when one of them needs langchain-core's async dispatch (await the run manager)."""
    listeners = inline_listeners(run_manager.handlers, "on_llm_new_token", "ignore_llm")
    if listeners is None:
        return None
    run_id, parent_run_id, tags = run_manager.run_id, run_manager.parent_run_id, run_manager.tags
    if len(listeners) == 1 and callable(on_token := getattr(listeners[0], _TOKEN_HOOK, None)):
        handler = listeners[0]  # a graph's messages handler alone: the message, as it is

        def direct(message: AIMessageChunk) -> None:
            try:
                on_token(message, run_id)
            except Exception as exc:
                handler_failed(handler, "on_llm_new_token", exc)

        return direct

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

    async def agenerate(
        self,
        messages: list[list[BaseMessage]],
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        """langchain-core's ``agenerate`` for the one prompt of an ``ainvoke``, in the
        caller's own task: upstream runs every prompt in a task of its own
        (``asyncio.gather``) and ends it through ``@shielded`` (another task), so each
        token crossed a task and an invoke cost three loop turns more. The same calls,
        payloads and errors (``tests/test_agenerate_direct.py`` holds it to upstream's);
        batches, and a langchain-core without the helpers it copies, take upstream's path.
        """
        if len(messages) != 1 or not _UPSTREAM_HELPERS:
            return await super().agenerate(
                messages,
                stop,
                callbacks,
                tags=tags,
                metadata=metadata,
                run_name=run_name,
                run_id=run_id,
                **kwargs,
            )
        structured = kwargs.pop("ls_structured_output_format", None) or kwargs.pop(
            "structured_output_format", None
        )
        params = self._get_invocation_params(stop=stop, **kwargs)
        options = {"stop": stop, **_lc._format_ls_structured_output(structured)}
        inheritable_metadata = {
            **(metadata or {}),
            **self._get_ls_params_with_defaults(stop=stop, **kwargs),
        }
        manager = AsyncCallbackManager.configure(
            callbacks,
            self.callbacks,
            self.verbose,
            tags,
            self.tags,
            inheritable_metadata,
            self.metadata,
            langsmith_inheritable_metadata=_lc._filter_invocation_params_for_tracing(params),  # type: ignore[attr-defined]
        )
        run = await achat_model_start(
            manager,
            self._serialized,
            _lc._format_for_tracing(messages[0]),
            run_id,
            invocation_params=params,
            options=options,
            name=run_name,
            batch_size=1,
        )
        try:
            result = await self._agenerate_with_cache(
                _lc._normalize_messages(messages[0]),  # type: ignore[attr-defined]
                stop=stop,
                run_manager=run,
                **kwargs,
            )
        except Exception as exc:
            failed = LLMResult(generations=[_lc._generate_response_from_error(exc)])
            await arun_event(run, "on_llm_error", "ignore_llm", exc, response=failed)
            raise
        flat = LLMResult(generations=[result.generations], llm_output=result.llm_output)
        await arun_event(run, "on_llm_end", "ignore_llm", flat)
        output = LLMResult(
            generations=[result.generations],
            llm_output=self._combine_llm_outputs([result.llm_output]),
        )
        output.run = [RunInfo(run_id=run.run_id)]
        return output


# what ``InvokeStreamsToCallbacks.agenerate`` copies from langchain-core's own ``agenerate``
_UPSTREAM_HELPERS = (
    all(
        callable(getattr(_lc, name, None))
        for name in (
            "_format_ls_structured_output",
            "_filter_invocation_params_for_tracing",
            "_format_for_tracing",
            "_normalize_messages",
            "_generate_response_from_error",
        )
    )
    and all(
        callable(getattr(BaseChatModel, name, None))
        for name in (
            "_get_ls_params_with_defaults",
            "_agenerate_with_cache",
            "_combine_llm_outputs",
        )
    )
    and hasattr(BaseChatModel, "_serialized")
    and "langsmith_inheritable_metadata"
    in inspect.signature(AsyncCallbackManager.configure).parameters
)
