"""Composable chunk-stream transforms: ``coalesce``, ``redact``, ``on_chunk``.

A transform is a recipe for per-stream *stages*; each stage is a small state
machine fed one message at a time (``push``), asked to let go of what it holds
(``flush``) and, for time bounds, told the time (``tick``). The same stages
run over a model's chunk stream (``with_transforms(model, ...)``,
:meth:`Transform.stream`) and over a graph's ``messages`` output
(:meth:`Transform.messages`), where each message travels with its metadata
and namespace untouched.

Stages only ever rewrite plain deltas (text, one reasoning/text block, one
tool call's argument fragments). Anything else — the last chunk, usage,
``additional_kwargs``, whole messages — passes through as it came, so ids,
tool-call chunks, usage and ``chunk_position`` survive every transform.
"""

from __future__ import annotations

import re
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import closing
from typing import Any, Final

import regex  # type: ignore[import-untyped]
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict

from streamtap.middleware._pipeline import (
    Pipeline,
    atransform_items,
    rewrap_chunk,
    rewrap_output,
    transform_items,
    unwrap_chunk,
    unwrap_output,
)
from streamtap.middleware._stages import (
    _AnyMatcher,
    _Coalesce,
    _Matcher,
    _OnChunk,
    _Redact,
    _SpanMatcher,
    _Stage,
    _StopAt,
)
from streamtap.providers._protocol_events import EmitsProtocolEvents

__all__ = [
    "Transform",
    "TransformedChatModel",
    "coalesce",
    "compose",
    "on_chunk",
    "redact",
    "stop_at",
    "with_transforms",
]


class Transform:
    """A composable chunk-stream transform (build with :func:`coalesce`, :func:`redact`...).

    ``a | b`` (or ``compose(a, b)``) applies ``a`` then ``b``. Apply it to a
    model (``with_transforms``), to a chunk stream (:meth:`stream`,
    :meth:`astream`) or to a graph's output (:meth:`messages`,
    :meth:`amessages`). Each application gets fresh state.
    """

    __slots__ = ("_factories", "_timed")

    def __init__(self, factories: Sequence[Callable[[], _Stage]], *, timed: bool = False) -> None:
        self._factories = tuple(factories)
        self._timed = timed

    def __or__(self, other: Transform) -> Transform:
        if not isinstance(other, Transform):
            return NotImplemented
        return Transform((*self._factories, *other._factories), timed=self._timed or other._timed)

    def wrap_model(self, model: BaseChatModel) -> TransformedChatModel:
        """``model`` with this transform applied; how ``StreamtapChatModel.with_transforms``
        reaches this layer without importing it."""
        return with_transforms(model, self)

    def _pipeline(self) -> Pipeline:
        return Pipeline([make() for make in self._factories], time.monotonic, self._timed)

    def stream(self, chunks: Iterable[BaseMessage]) -> Iterator[BaseMessage]:
        """Transform a chunk stream (e.g. ``model.stream(...)``).

        Sync streams have no timer: a held chunk goes out when the next chunk
        arrives (or the stream ends), so ``max_delay_ms`` is checked at arrivals.
        """
        return transform_items(self._pipeline(), chunks, unwrap_chunk, rewrap_chunk)

    def astream(
        self, chunks: AsyncIterable[BaseMessage] | Iterable[BaseMessage]
    ) -> AsyncIterator[BaseMessage]:
        """Transform an async chunk stream; a timer enforces ``max_delay_ms``."""
        return atransform_items(self._pipeline(), chunks, unwrap_chunk, rewrap_chunk)

    def messages(self, output: Iterable[Any]) -> Iterator[Any]:
        """Transform a graph's stream output; items without a message pass through.

        Takes every ``messages``-mode shape: ``(msg, meta)``, ``(ns, (msg, meta))``,
        ``("messages", (msg, meta))``, ``(ns, "messages", (msg, meta))`` and v2 dicts.
        """
        return transform_items(self._pipeline(), output, unwrap_output, rewrap_output)

    def amessages(self, output: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
        """Async twin of :meth:`messages`."""
        return atransform_items(self._pipeline(), output, unwrap_output, rewrap_output)

    def __call__(self, chunks: Iterable[BaseMessage]) -> Iterator[BaseMessage]:
        return self.stream(chunks)

    def __repr__(self) -> str:
        return f"Transform({len(self._factories)} stage(s))"


def compose(*transforms: Transform) -> Transform:
    """One transform applying ``transforms`` left to right."""
    out = Transform(())
    for transform in transforms:
        if not isinstance(transform, Transform):
            raise TypeError(
                f"compose() takes transforms (coalesce(), redact(), on_chunk()), got {transform!r}"
            )
        out = out | transform
    return out


def coalesce(
    *,
    max_chars: int | None = None,
    max_delay_ms: float | None = 50.0,
    clock: Callable[[], float] = time.monotonic,
) -> Transform:
    """Batch tiny deltas into fewer chunks for high-frequency UIs.

    The first token of each message goes out at once; later deltas of the same
    kind (text, one reasoning block, one tool call's arguments) are merged until
    ``max_chars`` characters or ``max_delay_ms`` since the oldest held one. It
    never merges across messages, tool-call indexes, or into a chunk that
    carries usage, metadata or ``chunk_position`` (the last chunk), and never
    emits more chunks than it receives. ``clock`` (seconds) is for tests.
    """
    if max_chars is None and max_delay_ms is None:
        raise ValueError("coalesce() needs max_chars=, max_delay_ms= or both")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 1):
        raise ValueError(f"max_chars must be a positive int, got {max_chars!r}")
    if max_delay_ms is not None and not max_delay_ms >= 0:
        raise ValueError(f"max_delay_ms must be >= 0, got {max_delay_ms!r}")
    delay = None if max_delay_ms is None else max_delay_ms / 1000.0
    transform = Transform([lambda: _Coalesce(max_chars, delay, clock)], timed=delay is not None)
    return transform


def redact(
    pattern: str | Any | Callable[[str], Iterable[tuple[int, int]]],
    replacement: str | Callable[[Any], str] = "[REDACTED]",
    *,
    flags: int = 0,
    window: int | None = None,
) -> Transform:
    """Mask matches of ``pattern`` in text, reasoning and tool-call arguments.

    ``pattern`` is a regular expression (``str``, ``re.Pattern`` or
    ``regex.Pattern``). Matches spanning chunk boundaries are masked: only text
    that could be the start of a match is held back (found with ``regex``
    partial matching) and released as soon as the next delta settles it or the
    delta run ends (the last chunk, another kind of delta, the end of the
    stream). ``replacement`` is a string or a function of the match.
    Lookbehinds do not see text already released; zero-width matches are not
    masked.

    ``pattern`` may instead be a function returning the ``(start, end)`` spans
    to mask in a text (e.g. a PII detector); then ``window`` (the longest span
    it can find) is required and the last ``window - 1`` characters are held.
    """
    matcher: _AnyMatcher
    if callable(pattern) and not hasattr(pattern, "search"):
        if window is None or not isinstance(window, int) or window < 1:
            raise ValueError(
                "redact(function) needs window=<longest span it can find> (a positive int) "
                "to know how much text to hold back across chunk boundaries"
            )
        if not isinstance(replacement, str):
            raise TypeError("redact(function) takes a str replacement")
        matcher = _SpanMatcher(pattern, replacement, window)
    else:
        compiled = _compile(pattern, flags)
        if compiled.fullmatch("") is not None:
            raise ValueError(f"redact() pattern {compiled.pattern!r} matches the empty string")
        matcher = _Matcher(compiled, replacement)
    return Transform([lambda: _Redact(matcher)])


_RE_FLAGS: Final = ("IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII")


def _compile(pattern: Any, flags: int) -> Any:
    if isinstance(pattern, regex.Pattern):
        return pattern
    source = getattr(pattern, "pattern", pattern)
    if not isinstance(source, str):
        raise TypeError(
            f"redact() takes a regex (str or compiled pattern), got {type(pattern).__name__}"
        )
    if isinstance(pattern, re.Pattern):  # carry its flags over (the values differ in `regex`)
        for name in _RE_FLAGS:
            if pattern.flags & getattr(re, name):
                flags |= getattr(regex, name)
    try:
        return regex.compile(source, flags)
    except regex.error as exc:
        raise ValueError(f"redact() pattern {source!r} is not a valid regex: {exc}") from exc


def stop_at(*sequences: str) -> Transform:
    """Cut each message's text at the first of ``sequences``, as a server's ``stop`` would.

    For servers that ignore ``stop`` (the OpenAI Responses API has none; streamtap's
    Responses model applies it with the same scanner). Text that could start a
    stop sequence is held until the next delta settles it; after the stop, the
    message's text is dropped while its other chunks (usage, the last chunk, tool
    calls) pass unchanged.
    """
    stops = [s for s in sequences if s]
    if not stops or not all(isinstance(s, str) for s in sequences):
        raise TypeError(f"stop_at() takes one or more non-empty strings, got {sequences!r}")
    return Transform([lambda: _StopAt(stops)])


def on_chunk(callback: Callable[[BaseMessage], object]) -> Transform:
    """Call ``callback(message)`` for every message passing (metrics, logging); changes nothing."""
    if not callable(callback):
        raise TypeError(f"on_chunk() takes a callable, got {callback!r}")
    return Transform([lambda: _OnChunk(callback)])


# --------------------------------------------------------------------------- models


class TransformedChatModel(EmitsProtocolEvents, BaseChatModel):
    """A chat model whose chunks pass through a :class:`Transform`.

    Callbacks (so ``messages`` mode, ``astream_events`` and tracers) see the
    transformed chunks: the wrapped model streams without its own callbacks.
    ``stream_events(version="v3")`` folds the transformed chunks into protocol events
    natively (``streamtap.providers._protocol_events``); a wrapped streamtap model hands
    over its own chunk stream (a ``resilient()`` one reports its retries on this run).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bound: BaseChatModel
    stream_transform: Transform

    @property
    def _llm_type(self) -> str:
        return f"{self.bound._llm_type}+transforms"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.bound._identifying_params)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self.bound._get_ls_params(stop=stop, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        def inner() -> Iterator[BaseMessage]:
            with closing(self.bound._stream(messages, stop=stop, **kwargs)) as chunks:  # type: ignore[type-var]
                for g in chunks:
                    yield g.message

        for message in self.stream_transform.stream(inner()):
            assert isinstance(message, AIMessageChunk)
            yield ChatGenerationChunk(message=message)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async def inner() -> AsyncIterator[BaseMessage]:
            async for g in self.bound._astream(messages, stop=stop, **kwargs):
                yield g.message

        async for message in self.stream_transform.astream(inner()):
            assert isinstance(message, AIMessageChunk)
            yield ChatGenerationChunk(message=message)

    def _event_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Generator[AIMessageChunk, None, None]:
        bound = self.bound
        source: Iterator[BaseMessage]
        if isinstance(bound, EmitsProtocolEvents):
            source = bound._event_chunks(messages, stop, run_manager, kwargs)
        else:  # any other chat model: its _stream's messages, as _stream reads them
            source = _messages(bound._stream(messages, stop=stop, **kwargs))
        return _ai_chunks(self.stream_transform.stream(source))

    def _aevent_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[AIMessageChunk, None]:
        bound = self.bound
        source: AsyncIterator[BaseMessage]
        if isinstance(bound, EmitsProtocolEvents):
            source = bound._aevent_chunks(messages, stop, run_manager, kwargs)
        else:
            source = _amessages(bound._astream(messages, stop=stop, **kwargs))
        return _aai_chunks(self.stream_transform.astream(source))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, **kwargs))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate_from_stream(self._astream(messages, stop=stop, **kwargs))

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        """The wrapped model's tool binding, kept behind the transforms."""
        binding = self.bound.bind_tools(tools, **kwargs)
        if not isinstance(binding, RunnableBinding) or binding.bound is not self.bound:
            raise NotImplementedError(
                f"{type(self.bound).__name__}.bind_tools() does not return a plain binding; "
                "bind tools before calling with_transforms()"
            )
        return self.bind(**binding.kwargs)


def _messages(chunks: Iterator[ChatGenerationChunk]) -> Generator[BaseMessage, None, None]:
    with closing(chunks):  # type: ignore[type-var]
        for chunk in chunks:
            yield chunk.message


async def _amessages(
    chunks: AsyncIterator[ChatGenerationChunk],
) -> AsyncGenerator[BaseMessage, None]:
    try:
        async for chunk in chunks:
            yield chunk.message
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _ai_chunks(messages: Iterator[BaseMessage]) -> Generator[AIMessageChunk, None, None]:
    try:
        for message in messages:
            assert isinstance(message, AIMessageChunk)
            yield message
    finally:
        close = getattr(messages, "close", None)
        if close is not None:
            close()


async def _aai_chunks(messages: AsyncIterator[BaseMessage]) -> AsyncGenerator[AIMessageChunk, None]:
    try:
        async for message in messages:
            assert isinstance(message, AIMessageChunk)
            yield message
    finally:
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()


def with_transforms(model: BaseChatModel, *transforms: Transform) -> TransformedChatModel:
    """``model`` with ``transforms`` applied, in order, to every chunk it streams."""
    if not isinstance(model, BaseChatModel):
        raise TypeError(f"with_transforms() takes a chat model, got {type(model).__name__}")
    return TransformedChatModel(
        bound=model,
        stream_transform=compose(*transforms),
        tags=model.tags,
        callbacks=model.callbacks,
        metadata=model.metadata,
    )
