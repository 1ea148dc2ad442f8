"""A fake chat model for unit tests: scripted chunk streams through the real machinery.

:class:`FakeChatModel` is a real langchain-core chat model (``stream``,
``invoke``, ``astream_events``, a graph's ``messages`` mode) and a chunk source
(``streamtap.providers.ChunkSource``), so ``streamtap.resilient(fake1, fake2)``
drives it like any vendor's model. Each request plays the next *script*: a list
of steps, built into chunks by streamtap's own chunk constructors and summed by
its ``Accumulator``, so what comes out follows the chunk contract::

    from streamtap.testing import FakeChatModel
    from streamtap.testing.fake import Fail, Usage, overloaded, words

    fake = FakeChatModel(scripts=[
        [overloaded()],                                   # request 1: a 529 before any chunk
        [*words("Hello there"), Usage(10, 2)],            # request 2: "Hello ", "there", the end
    ])

Steps: a ``str`` (one text chunk, split as you write it), :class:`ToolCall`,
:class:`Reasoning`, :class:`Usage`, :class:`Pause`, :class:`Fail`,
:class:`Finish`. A script that does not end in a failure ends with the closing
chunk (``chunk_position="last"``, finish reason, usage, model). A failure before
the first chunk is raised as given (an HTTP error status); after it, as
``StreamInterrupted`` carrying ``.partial`` with the error as ``__cause__``,
as a real stream cut short is. Every request is recorded in
:attr:`FakeChatModel.requests` (:class:`FakeRequest`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, message_chunk_to_message
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from streamtap.accumulate import Accumulator
from streamtap.errors import (
    BadRequestError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    StreamInterrupted,
    StreamtapError,
)
from streamtap.providers._blocks import ensure_translator
from streamtap.providers._chunks import ChunkMapper, generation_chunk, make_usage
from streamtap.providers._dispatch import (
    InvokeStreamsToCallbacks,
    async_token_sinks,
    invoke_fires_tokens,
    signed,
)
from streamtap.providers._profiles import Continuation, refused
from streamtap.providers._protocol_events import EmitsProtocolEvents
from streamtap.providers._source import BindsTools

__all__ = [
    "Fail",
    "FakeChatModel",
    "FakeChunkStream",
    "FakeRequest",
    "Finish",
    "Pause",
    "Reasoning",
    "Step",
    "ToolCall",
    "Usage",
    "disconnect",
    "overloaded",
    "prefill_refused",
    "rate_limited",
    "words",
]


# --------------------------------------------------------------------------- script steps


@dataclass(frozen=True)
class ToolCall:
    """A fragment of tool call ``index``: its id and name come first, then ``args`` pieces."""

    index: int = 0
    id: str | None = None
    name: str | None = None
    args: str = ""


@dataclass(frozen=True)
class Reasoning:
    """A piece of reasoning text, in reasoning block ``block`` (its ordinal among non-text blocks)."""

    text: str
    block: int = 0


@dataclass(frozen=True)
class Usage:
    """Token usage, reported from here on (``stream.usage``) and on the closing chunk."""

    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class Pause:
    """Wait ``seconds`` before the next step (``abort()`` cuts a sync wait short)."""

    seconds: float


@dataclass(frozen=True)
class Fail:
    """Raise ``error`` here (see the module docs for how it surfaces)."""

    error: BaseException


@dataclass(frozen=True)
class Finish:
    """The finish reason of the closing chunk (default ``"stop"``; ``"tool_calls"`` after tools)."""

    reason: str = "stop"
    native: str | None = None


Step = str | ToolCall | Reasoning | Usage | Pause | Fail | Finish


def words(text: str) -> list[str]:
    """``text`` as word-sized text steps, spaces kept: ``"a b"`` -> ``["a ", "b"]``."""
    out: list[str] = []
    for part in text.split(" "):
        if out:
            out[-1] += " "
        if part or not out:
            out.append(part)
    return [w for w in out if w]


def rate_limited(retry_after: float | None = 0.0) -> Fail:
    """An HTTP 429 (retried; ``retry_after`` seconds is the server's hint)."""
    return Fail(
        RateLimitError(
            "rate limited", status_code=429, error_type="rate_limit_error", retry_after=retry_after
        )
    )


def overloaded() -> Fail:
    """An ``overloaded_error`` (HTTP 529, or in the stream when scripted after chunks)."""
    return Fail(OverloadedError("overloaded", status_code=529, error_type="overloaded_error"))


def disconnect() -> Fail:
    """The connection dropped (after chunks: ``StreamInterrupted``)."""
    return Fail(ProviderConnectionError("the connection was closed early"))


def prefill_refused() -> Fail:
    """The 400 a server gives a continuation it does not support (learned by resilience)."""
    return Fail(
        BadRequestError(
            "This model does not support assistant message prefill",
            status_code=400,
            error_type="invalid_request_error",
        )
    )


# --------------------------------------------------------------------------- requests


@dataclass
class FakeRequest:
    """One request the fake received (recorded when its stream was first iterated)."""

    messages: list[BaseMessage]
    stop: list[str] | None
    kwargs: dict[str, Any]
    header_timeout: float | None = None
    #: Whether the stream was closed (the consumer finished, stopped, or it failed).
    closed: bool = field(default=False)

    @property
    def tools(self) -> list[Any] | None:
        """The tools bound for this request, as given to ``bind_tools``."""
        return self.kwargs.get("tools")

    @property
    def prefill(self) -> str | None:
        """The trailing assistant text this request asks to continue, or None."""
        last = self.messages[-1] if self.messages else None
        return last.text if isinstance(last, AIMessage) else None


class _Mapper(ChunkMapper):
    provider = "fake"


# --------------------------------------------------------------------------- the stream


class FakeChunkStream:
    """One scripted request: a :class:`~streamtap.providers.ChunkStream`."""

    def __init__(self, model: FakeChatModel, request: FakeRequest) -> None:
        self._model = model
        self.request = request
        self._mapper = _Mapper(model_provider=model.provider_name)
        self._acc = Accumulator()
        self._abort = threading.Event()
        self._gen: Generator[AIMessageChunk, None, None] | None = None
        self._agen: AsyncGenerator[AIMessageChunk, None] | None = None

    # -- the seam ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[AIMessageChunk]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def __aiter__(self) -> AsyncIterator[AIMessageChunk]:
        if self._agen is None:
            self._agen = self._arun()
        return self._agen

    def abort(self) -> None:
        self._abort.set()

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
        self.request.closed = True

    async def aclose(self) -> None:
        if self._agen is not None:
            await self._agen.aclose()
        self.close()

    @property
    def partial(self) -> AIMessageChunk | None:
        tail = self._mapper.partial_tail()
        return self._acc.message(*([tail] if tail is not None else []))

    @property
    def usage(self) -> UsageMetadata | None:
        return self._mapper.usage

    # -- playing a script --------------------------------------------------------------------
    def _steps(self) -> list[Step]:
        number, script = self._model._take(self.request)
        mapper = self._mapper
        mapper.message_id = f"{self._model.id_prefix}{number}"
        mapper.model_name = self._model.model
        return script

    def _chunks(self, step: Step) -> list[AIMessageChunk]:
        mapper = self._mapper
        if isinstance(step, str):
            chunks = mapper.text(step)
        elif isinstance(step, ToolCall):
            if step.id is not None or step.name is not None:
                mapper.new_tool_call()  # a new call: finish_reason becomes "tool_calls"
            chunks = mapper.tool_call(step.index, id=step.id, name=step.name, args=step.args)
        elif isinstance(step, Reasoning):
            chunks = mapper.reasoning(step.block, step.text)
        elif isinstance(step, Usage):
            mapper.usage = make_usage(
                input_tokens=step.input_tokens,
                output_tokens=step.output_tokens,
                cache_read=step.cache_read,
                reasoning=step.reasoning,
            )
            chunks = []
        elif isinstance(step, Finish):
            mapper.finish(step.native or step.reason, step.reason)
            chunks = []
        else:
            raise TypeError(f"FakeChatModel: not a script step: {step!r}")
        for chunk in chunks:
            self._acc.add(chunk)
        return chunks

    def _end(self) -> list[AIMessageChunk]:
        mapper = self._mapper
        if mapper.finish_reason is None:
            mapper.finish("stop", "stop")
        chunks = mapper.last()
        for chunk in chunks:
            self._acc.add(chunk)
        return chunks

    def _failure(self, exc: BaseException, started: bool) -> BaseException:
        if not started or isinstance(exc, StreamInterrupted):
            return exc
        cause = exc if isinstance(exc, StreamtapError) else None
        err = StreamInterrupted(
            f"stream interrupted: {cause.detail if cause is not None else exc}",
            partial=self.partial,
            provider=self._model.provider_name,
            model=self._model.model,
            status_code=cause.status_code if cause is not None else None,
            error_type=cause.error_type if cause is not None else None,
        )
        err.__cause__ = exc
        return err

    def _aborted(self) -> ProviderConnectionError:
        return ProviderConnectionError(
            "the connection was aborted", provider=self._model.provider_name
        )

    def _run(self) -> Generator[AIMessageChunk, None, None]:
        started = False
        try:
            for step in self._steps():
                if self._abort.is_set():
                    raise self._aborted()
                if isinstance(step, Pause):
                    if self._abort.wait(step.seconds):
                        raise self._aborted()
                    continue
                if isinstance(step, Fail):
                    raise step.error
                for chunk in self._chunks(step):
                    started = True
                    yield chunk
            yield from self._end()
        except Exception as exc:
            failure = self._failure(exc, started)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            self.request.closed = True

    async def _arun(self) -> AsyncGenerator[AIMessageChunk, None]:
        started = False
        try:
            for step in self._steps():
                if self._abort.is_set():
                    raise self._aborted()
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    continue
                if isinstance(step, Fail):
                    raise step.error
                for chunk in self._chunks(step):
                    started = True
                    yield chunk
                await asyncio.sleep(0)
            for chunk in self._end():
                yield chunk
        except Exception as exc:
            failure = self._failure(exc, started)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            self.request.closed = True


# --------------------------------------------------------------------------- the model


class FakeChatModel(InvokeStreamsToCallbacks, EmitsProtocolEvents, BindsTools, BaseChatModel):
    """A chat model that plays one scripted stream per request (see the module docs).

    ``scripts`` are consumed in order, one per request; a ``str`` script is a
    one-chunk text answer. When they run out the request fails with an
    ``AssertionError`` (set ``cycle=True`` to start over instead).
    ``continuation`` says how the fake continues a partial answer under
    ``resilient(recovery="continue")``: ``"prefill"`` (a trailing assistant
    turn), ``"continue_final_message"`` or ``"none"`` (restart).
    """

    scripts: list[Sequence[Step] | str] = Field(default_factory=list)
    model: str = "fake-model"
    provider_name: str = "fake"
    continuation: Continuation = "none"
    prefill_trailing_whitespace: bool = True
    prefill_after_reasoning: bool = True
    cycle: bool = False
    #: Message ids are ``id_prefix`` + the request's number (1, 2, ...).
    id_prefix: str = "fake-"

    #: ``False``: requests are counted (``served``), not kept: a fake serving a
    #: long-running server or a benchmark would otherwise grow without end
    keep_requests: bool = True

    _requests: list[FakeRequest] = PrivateAttr(default_factory=list)
    _served: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        ensure_translator(self.provider_name)

    @property
    def _llm_type(self) -> str:
        return "streamtap-fake"

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request so far, in order."""
        return self._requests

    @property
    def served(self) -> int:
        """How many requests it has played (``requests`` only keeps them with
        ``keep_requests``)."""
        return self._served

    def _take(self, request: FakeRequest) -> tuple[int, list[Step]]:
        with self._lock:
            n = self._served
            if n >= len(self.scripts) and not (self.cycle and self.scripts):
                raise AssertionError(
                    f"FakeChatModel({self.model!r}): request {n + 1} but only "
                    f"{len(self.scripts)} script(s)"
                )
            self._served = n + 1
            if self.keep_requests:
                self._requests.append(request)
            script = self.scripts[n % len(self.scripts)]
        return n + 1, [script] if isinstance(script, str) else list(script)

    # -- the chunk-source seam ---------------------------------------------------------------
    def open(
        self,
        messages: Sequence[BaseMessage],
        *,
        stop: list[str] | None = None,
        header_timeout: float | None = None,
        **kwargs: Any,
    ) -> FakeChunkStream:
        """A stream that plays the next script once iterated (the request is recorded then)."""
        request = FakeRequest(list(messages), stop, dict(kwargs), header_timeout)
        return FakeChunkStream(self, request)

    def without_retries(self) -> FakeChatModel:
        """The fake itself: it never retries and holds no connections, and its
        ``requests`` stay the ones your test reads."""
        return self

    def continuation_key(self) -> tuple[str, ...]:
        return ("fake", self.provider_name, self.model)

    def continuation_style(self) -> Continuation:
        if self.continuation != "none" and refused(self.continuation_key()):
            return "none"
        return self.continuation

    # -- langchain-core ---------------------------------------------------------------------

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in _played(self.open(messages, stop=stop, **kwargs)):
            yield generation_chunk(chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in _aplayed(self.open(messages, stop=stop, **kwargs)):
            yield generation_chunk(chunk)

    def _event_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Generator[AIMessageChunk, None, None]:
        return _played(self.open(messages, stop=stop, **kwargs))  # stream_events(version="v3")

    def _aevent_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[AIMessageChunk, None]:
        return _aplayed(self.open(messages, stop=stop, **kwargs))

    @signed
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        fire = invoke_fires_tokens(self, run_manager, kwargs)
        stream = self.open(messages, stop=stop, **kwargs)
        try:
            for chunk in stream:
                if fire and run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=generation_chunk(chunk))
        finally:
            stream.close()
        return _result(stream._acc)  # the stream sums its chunks already

    @signed
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        sink, slow = async_token_sinks(self, run_manager, kwargs)
        stream = self.open(messages, stop=stop, **kwargs)
        try:
            async for chunk in stream:
                if sink is not None:
                    sink(chunk)
                elif slow is not None:
                    await slow.on_llm_new_token(chunk.text, chunk=generation_chunk(chunk))
        finally:
            await stream.aclose()
        return _result(stream._acc)  # the stream sums its chunks already


def _played(stream: FakeChunkStream) -> Generator[AIMessageChunk, None, None]:
    try:
        yield from stream
    finally:
        stream.close()


async def _aplayed(stream: FakeChunkStream) -> AsyncGenerator[AIMessageChunk, None]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()


def _result(acc: Accumulator) -> ChatResult:
    chunk = acc.message()
    message = message_chunk_to_message(chunk if chunk is not None else AIMessageChunk(content=""))
    return ChatResult(generations=[ChatGeneration(message=message)])
