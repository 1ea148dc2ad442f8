"""``streamtap.resilient``: retries, fallbacks, timeouts and recovery for streamed answers.

A :class:`ResilientChatModel` is an ordinary langchain-core chat model whose
chunks follow streamtap's chunk contract. Underneath it drives chunk sources
(``streamtap.providers.ChunkSource``: every streamtap chat model, the testing
``FakeChatModel``, your own), one tenacity policy per model, the next model
when one gives up.

Retries, fallbacks and timeouts before the first content chunk are invisible
to the consumer apart from the timing. After it, ``recovery`` decides:
``"raise"`` ends the call with the partial answer, ``"continue"`` goes on from
it under the same message id, ``"restart"`` starts over under a new id after a
``stream_reset`` signal.

Cancellation (the consumer stops reading) closes the HTTP response at once,
in the consumer's own thread or task; nothing keeps reading in the background.
It is reported as ``on_llm_error`` with the cancellation exception, which
carries the visible partial message (usage so far included) as ``.partial``;
under ``stream``/``astream`` langchain-core also passes the chunks received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import aclosing, closing
from typing import Any, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    message_chunk_to_message,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
from pydantic import ConfigDict, Field, field_validator, model_validator

from streamtap._compat import callers_local
from streamtap.providers import ChunkSource, chat_model
from streamtap.providers._dispatch import async_token_sinks, invoke_fires_tokens
from streamtap.providers._protocol_events import EmitsProtocolEvents
from streamtap.providers._source import BindsTools
from streamtap.resilience._attempts import astream_attempts, stream_attempts
from streamtap.resilience._call import Call, Recovery
from streamtap.resilience._recovery import RESET_EVENT
from streamtap.resilience._retry import RetryPolicy
from streamtap.resilience._timeouts import (
    Timeouts,
)

__all__ = ["ResilientChatModel", "resilient"]

_RECOVERY = ("raise", "continue", "restart")
_RM = TypeVar("_RM", CallbackManagerForLLMRun, AsyncCallbackManagerForLLMRun)


def _as_model(value: Any) -> ChunkSource:
    if isinstance(value, str):
        return chat_model(value)
    if isinstance(value, ChunkSource):
        return value
    raise TypeError(
        f"resilient() takes streamtap chat models, chunk sources (streamtap.providers."
        f"ChunkSource) or 'vendor:model' spec strings, not {type(value).__name__}; build "
        f"one with streamtap.chat_model('openai:gpt-4o-mini')"
    )


def _without_retries(model: ChunkSource) -> ChunkSource:
    """The source's own copy that never retries by itself and shares no connections.

    A source without ``without_retries()`` (the seam's optional hook) is used as is.
    """
    hook = getattr(model, "without_retries", None)
    if hook is None:
        return model
    copy = hook()
    if not isinstance(copy, ChunkSource):
        raise TypeError(f"{type(model).__name__}.without_retries() did not return a chunk source")
    return copy


def _describe(model: ChunkSource) -> dict[str, Any]:
    """What identifies ``model`` in a trace: a chat model's own parameters, else its names."""
    if isinstance(model, BaseChatModel):
        return dict(model._identifying_params)  # langchain-core's hook, not streamtap's
    return {"model": model.model, "provider": model.provider_name}


class ResilientChatModel(EmitsProtocolEvents, BindsTools, BaseChatModel):
    """Retries, vendor fallbacks, timeouts and mid-stream recovery around streamtap models."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    models: list[ChunkSource] = Field(min_length=1)
    """The primary first, then the fallbacks (copies with the SDKs' own retries off)."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    first_token_timeout: float | None = None
    idle_timeout: float | None = None
    total_timeout: float | None = None
    recovery: Literal["raise", "continue", "restart"] = "raise"
    user_turn: bool = False
    """With ``recovery="continue"``: continue a model that cannot prefill through a
    trailing user turn (repeats dropped) instead of restarting it."""

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> list[ChunkSource]:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("models: give at least one streamtap chat model or spec string")
        return [_without_retries(_as_model(v)) for v in value]

    @model_validator(mode="after")
    def _check(self) -> ResilientChatModel:
        self._timeouts()  # raises a clear ValueError for bad values
        return self

    def _timeouts(self) -> Timeouts:
        return Timeouts(self.first_token_timeout, self.idle_timeout, self.total_timeout)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the SDK clients (and their pooled connections) this model's copies created.

        HTTP clients you passed in (``http_client=``) are yours and stay open.
        Calls each source's ``close()``, the seam's optional hook.
        """
        for model in self.models:
            close = getattr(model, "close", None)
            if close is not None:
                close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (each source's ``aclose()``, else its ``close()``)."""
        for model in self.models:
            aclose = getattr(model, "aclose", None)
            if aclose is not None:
                await aclose()
            elif (close := getattr(model, "close", None)) is not None:
                close()

    def __enter__(self) -> ResilientChatModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> ResilientChatModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- LangChain surface ----------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "streamtap-resilient"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "models": [_describe(m) for m in self.models],
            "recovery": self.recovery,
            "user_turn": self.user_turn,
            "first_token_timeout": self.first_token_timeout,
            "idle_timeout": self.idle_timeout,
            "total_timeout": self.total_timeout,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        primary = self.models[0]
        if isinstance(primary, BaseChatModel):  # langchain-core's hook, not streamtap's
            return primary._get_ls_params(stop=stop, **kwargs)
        return LangSmithParams(
            ls_provider=primary.provider_name, ls_model_name=primary.model, ls_model_type="chat"
        )

    def _should_stream(self, *, async_api: bool, **kwargs: Any) -> bool:
        # Only stream()/astream() take the _stream path: under invoke, langchain-core
        # would sum every yielded chunk, a discarded restart's included. invoke goes
        # through _generate, which streams tokens to callbacks itself and returns
        # the clean final message.
        return bool(kwargs.get("stream")) and not self._streaming_disabled(**kwargs)

    def _should_use_protocol_streaming(self, *, async_api: bool, **kwargs: Any) -> bool:
        # Under a v2 streaming handler (a LangGraph v3 run) invoke returns the message
        # assembled from the protocol events. A restart cannot take back the deltas it
        # abandons, so a model that may restart keeps _generate's clean message there.
        if self.recovery != "raise":
            return False
        return super()._should_use_protocol_streaming(async_api=async_api, **kwargs)

    def _new_call(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Call:
        return Call(
            models=self.models,
            policy=self.retry,
            timeouts=self._timeouts(),
            recovery=self.recovery,
            messages=messages,
            stop=stop,
            kwargs=kwargs,
            user_turn=self.user_turn,
        )

    # -- langchain-core entry points ---------------------------------------------------------
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        run_manager = run_manager or _callers_run_manager(CallbackManagerForLLMRun)
        call = self._new_call(messages, stop, kwargs)
        wrappers = _Wrappers()
        with closing(stream_attempts(call, run_manager)) as chunks:
            for chunk in chunks:
                yield wrappers.wrap(chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        run_manager = run_manager or _callers_run_manager(AsyncCallbackManagerForLLMRun)
        call = self._new_call(messages, stop, kwargs)
        wrappers = _Wrappers()
        async with aclosing(astream_attempts(call, run_manager)) as chunks:
            async for chunk in chunks:
                yield wrappers.wrap(chunk)

    def _event_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Generator[AIMessageChunk, None, None]:
        """``stream_events(version="v3")``: the chunks ``_stream`` wraps, retries and resets
        reported on the run's manager."""
        return stream_attempts(self._new_call(messages, stop, kwargs), run_manager)

    def _aevent_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[AIMessageChunk, None]:
        return astream_attempts(self._new_call(messages, stop, kwargs), run_manager)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._new_call(messages, stop, kwargs)
        tokens = invoke_fires_tokens(self, run_manager, {})
        try:
            with closing(stream_attempts(call, run_manager)) as chunks:
                for chunk in chunks:
                    if tokens and run_manager is not None:
                        run_manager.on_llm_new_token(
                            chunk.content,  # type: ignore[arg-type]
                            chunk=ChatGenerationChunk(message=chunk),
                        )
        except BaseException as exc:
            # langchain-core reports it with on_llm_error; the partial rides on it.
            _attach_partial(exc, call)
            raise
        return call.result()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._new_call(messages, stop, kwargs)
        sink, slow = async_token_sinks(self, run_manager, {})
        try:
            async with aclosing(astream_attempts(call, run_manager)) as chunks:
                async for chunk in chunks:
                    if sink is not None:
                        sink(chunk)
                    elif slow is not None:
                        await slow.on_llm_new_token(
                            chunk.content,  # type: ignore[arg-type]
                            chunk=ChatGenerationChunk(message=chunk),
                        )
        except asyncio.CancelledError as exc:
            # A cancelled ainvoke never reaches langchain-core's on_llm_error (its
            # gather is cancelled with us): close the run here, partial included.
            partial = _attach_partial(exc, call)
            if run_manager is not None:
                generations = [[ChatGeneration(message=partial)]] if partial is not None else []
                with contextlib.suppress(Exception):
                    await run_manager.on_llm_error(exc, response=LLMResult(generations=generations))
            raise
        except BaseException as exc:
            _attach_partial(exc, call)
            raise
        return call.result()

    # -- without langchain-core's callback layer ------------------------------------------------
    def stream_chunks(
        self, messages: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
    ) -> Generator[AIMessageChunk, None, None]:
        """Normalized chunks with retries, fallbacks and recovery, and no callbacks."""
        msgs = self._convert_input(messages).to_messages()
        return stream_attempts(self._new_call(msgs, stop, kwargs), None)

    def astream_chunks(
        self, messages: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
    ) -> AsyncGenerator[AIMessageChunk, None]:
        """Async twin of :meth:`stream_chunks`."""
        msgs = self._convert_input(messages).to_messages()
        return astream_attempts(self._new_call(msgs, stop, kwargs), None)


class _Wrappers:
    """The ChatGenerationChunks yielded for the current message, to forget it on a restart.

    langchain-core's ``stream()`` yields each wrapper's message to the consumer
    and keeps the wrappers to build ``on_llm_end``'s message. Emptying the
    wrappers of a discarded message (not the messages the consumer holds) keeps
    a restart's abandoned text out of that final message, as under ``invoke``.
    """

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: list[ChatGenerationChunk] = []

    def wrap(self, chunk: AIMessageChunk) -> ChatGenerationChunk:
        if RESET_EVENT in chunk.response_metadata:
            for old in self._current:
                old.message = AIMessageChunk(content="", id=chunk.id)
                old.text = ""
            self._current = []
        wrapper = ChatGenerationChunk(message=chunk)
        self._current.append(wrapper)
        return wrapper


def _callers_run_manager(kind: type[_RM]) -> _RM | None:
    """The LLM run manager of langchain-core's ``stream()`` / ``astream()`` calling us.

    Those two create the run's callback manager but, unlike the invoke path, do
    not pass it to ``_stream`` / ``_astream``; retries (``on_retry``) and
    ``stream_reset`` custom events belong to that run, so it is read from the
    calling frame. Must be called first thing in ``_stream`` / ``_astream``;
    returns None (no callbacks) if langchain-core ever stops holding it there.
    """
    return callers_local("run_manager", kind, depth=2)


def _attach_partial(exc: BaseException, call: Call) -> AIMessage | None:
    """Hang the visible partial message on a cancellation exception (``exc.partial``)."""
    if isinstance(exc, Exception):
        return None  # streamtap errors carry their own .partial
    partial = getattr(exc, "partial", None)
    if partial is None:
        partial = call.visible_partial()
        with contextlib.suppress(AttributeError, TypeError):
            exc.partial = partial  # type: ignore[attr-defined]
    return message_chunk_to_message(partial) if partial is not None else None  # type: ignore[return-value]


def resilient(
    primary: ChunkSource | str,
    *fallbacks: ChunkSource | str,
    retry: RetryPolicy | None = None,
    first_token_timeout: float | None = None,
    idle_timeout: float | None = None,
    total_timeout: float | None = None,
    recovery: Recovery = "raise",
    user_turn: bool = False,
) -> ResilientChatModel:
    """A chat model that retries, falls back across vendors, times out and recovers mid-stream.

    >>> model = resilient(  # doctest: +SKIP
    ...     "anthropic:claude-sonnet-4-6", "openai:gpt-4o",
    ...     retry=RetryPolicy(max_attempts=3, max_wait=4), first_token_timeout=20,
    ...     idle_timeout=15, recovery="continue",
    ... )

    With ``recovery="continue"`` a model continues the partial answer when it can
    (``model.continuation_style()``) and restarts otherwise; ``user_turn=True``
    continues those that cannot prefill through a trailing user turn instead.
    Any chunk source (``streamtap.providers.ChunkSource``) can take part, e.g.
    ``streamtap.testing.FakeChatModel`` in unit tests.
    """
    if recovery not in _RECOVERY:
        raise ValueError(f"recovery={recovery!r}: use one of {', '.join(map(repr, _RECOVERY))}")
    return ResilientChatModel(
        models=[primary, *fallbacks],
        retry=retry if retry is not None else RetryPolicy(),
        first_token_timeout=first_token_timeout,
        idle_timeout=idle_timeout,
        total_timeout=total_timeout,
        recovery=recovery,
        user_turn=user_turn,
    )
