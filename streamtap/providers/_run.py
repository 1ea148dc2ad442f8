"""Driving a mapping over one stream: accumulation, termination and failure.

The vendor mappings are pure folds; this module is the thin loop around them
that both the chat models and :func:`normalize` share. It reads the SDK's
decoded server-sent events (HTTP and SSE stay the SDK's job) and turns every
way a started stream can end badly into one :class:`StreamInterrupted`
carrying the partial message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any, Final

from langchain_core.messages import AIMessageChunk

from streamtap._compat import json_loads, sdk_sse_events
from streamtap.accumulate import Accumulator
from streamtap.errors import (
    ProviderConnectionError,
    StreamInterrupted,
    StreamtapError,
    from_sdk_error,
    from_stream_error,
)
from streamtap.providers._blocks import ensure_translator
from streamtap.providers._chunks import ChunkMapper, InStreamError, ProtocolError

__all__ = ["DONE", "StreamRun", "aiter_sse", "iter_sse"]


class _Done:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DONE"


#: Yielded by :func:`iter_sse` for Chat Completions' ``data: [DONE]``.
DONE: Final = _Done()


_YIELD_EVERY = 4


class StreamRun:
    """One stream's mapping, its accumulated message and its error translation."""

    __slots__ = ("acc", "api_key", "mapper", "model", "on_open", "provider", "terminal")

    def __init__(
        self,
        mapper: ChunkMapper,
        *,
        model: str | None,
        api_key: str | None = None,
        provider: str | None = None,
        terminal: str = "terminal event",
    ):
        self.mapper = mapper
        ensure_translator(mapper.model_provider)
        #: What a complete stream ends with (``Wire.terminal``), named when it never came.
        self.terminal = terminal
        self.model = model
        self.api_key = api_key
        # Errors name the preset ("groq") rather than the wire format it speaks.
        self.provider = provider or mapper.provider
        self.acc = Accumulator()
        #: Called with the SDK stream once the response headers are in, before any
        #: event is read: a watchdog on another thread can then abort a blocked read.
        self.on_open: Callable[[Any], None] | None = None

    def opened(self, stream: Any) -> None:
        """The chat models call this as soon as the SDK stream exists."""
        if self.on_open is not None:
            self.on_open(stream)

    def feed(self, data: dict[str, Any] | _Done) -> list[AIMessageChunk]:
        if data is DONE:
            chunks = self.mapper.done()
        else:
            chunks = self.mapper.feed(data)  # type: ignore[arg-type]
        add = self.acc.add
        for chunk in chunks:
            add(chunk)
        return chunks

    def eof(self, *, strict: bool = True) -> list[AIMessageChunk]:
        """End of body: the closing chunks, or StreamInterrupted if the terminal event never came."""
        chunks = self.mapper.eof(strict=strict)
        if chunks is None:
            terminal = self.terminal
            cause = ProviderConnectionError(
                f"the stream ended without its terminal event ({terminal}): "
                "the connection was closed early",
                provider=self.provider,
                model=self._model_name(),
            )
            raise self._interrupted(cause) from cause
        for chunk in chunks:
            self.acc.add(chunk)
        return chunks

    def drive(
        self, source: Iterable[dict[str, Any] | _Done], *, strict: bool
    ) -> Iterator[AIMessageChunk]:
        """Map every event of ``source``, then the end of body; failures become StreamInterrupted."""
        try:
            for data in source:
                yield from self.feed(data)
            yield from self.eof(strict=strict)
        except Exception as exc:
            failure = self.failure(exc)
            if failure is exc:
                raise
            raise failure from failure.__cause__

    async def adrive(
        self, source: AsyncIterable[dict[str, Any] | _Done], *, strict: bool
    ) -> AsyncGenerator[AIMessageChunk, None]:
        """Async twin of :meth:`drive`.

        When a whole response is already buffered, decoding it never awaits, so
        every chunk would pile up in the consumer's queue (a graph run's) before
        it ran once, and other streams on the loop would wait. Yielding to the
        event loop every ``_YIELD_EVERY`` events keeps bursts bounded and fair.
        """
        events = 0
        try:
            async for data in source:
                for chunk in self.feed(data):
                    yield chunk
                events += 1
                if not events % _YIELD_EVERY:
                    await asyncio.sleep(0)
            for chunk in self.eof(strict=strict):
                yield chunk
        except Exception as exc:
            failure = self.failure(exc)
            if failure is exc:
                raise
            raise failure from failure.__cause__

    def _model_name(self) -> str | None:
        return self.mapper.model_name or self.model

    def partial(self) -> AIMessageChunk | None:
        tail = self.mapper.partial_tail()
        return self.acc.message(*([tail] if tail is not None else []))

    def _interrupted(self, cause: StreamtapError) -> StreamInterrupted:
        partial = self.partial()
        return StreamInterrupted(
            f"stream interrupted: {cause.detail}",
            partial=partial,
            provider=self.provider,
            model=self._model_name(),
            status_code=cause.status_code,
            error_type=cause.error_type,
            request_id=cause.request_id,
        )

    def failure(self, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` caught while the stream was being read.

        Returns ``exc`` itself for anything that is not a stream failure
        (cancellation, a bug in user code), so it propagates untouched.
        """
        provider, model = self.provider, self._model_name()
        cause: StreamtapError | None
        if isinstance(exc, StreamInterrupted):
            return exc
        if isinstance(exc, InStreamError):
            cause = from_stream_error(
                exc.payload, provider=provider, model=model, api_key=self.api_key
            )
        elif isinstance(exc, (json.JSONDecodeError, KeyError, TypeError, AttributeError)):
            cause = ProtocolError(f"malformed event: {exc}", provider=provider, model=model)
        else:
            cause = from_sdk_error(exc, provider=provider, model=model, api_key=self.api_key)
        if cause is None:
            return exc
        if not isinstance(exc, InStreamError):  # internal signal, not worth chaining
            cause.__cause__ = exc
        interrupted = self._interrupted(cause)
        interrupted.__cause__ = cause
        return interrupted


# --------------------------------------------------------------------------- SSE reading


def _decode(sse: Any, *, named_only: bool) -> dict[str, Any] | _Done | None:
    data: str = sse.data
    if data.startswith("[DONE]"):
        return DONE
    event = sse.event
    if named_only and event is None:
        return None  # the anthropic SDK drops unnamed events; so do we
    if event == "ping" or not data:
        return None
    try:
        decoded = json_loads(data)
    except json.JSONDecodeError:
        if event == "error":
            return {"type": "error", "error": {"type": "api_error", "message": data}}
        raise
    return decoded if isinstance(decoded, dict) else None


def _typed_events(stream: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for event in stream:
        yield as_dict(event)


def as_dict(event: Any) -> dict[str, Any]:
    """An SDK event object (or a dict) as the JSON dict it was decoded from."""
    if isinstance(event, dict):
        return event
    to_dict = getattr(event, "to_dict", None)
    if to_dict is not None:
        return to_dict()  # type: ignore[no-any-return]
    return event.model_dump(by_alias=True, exclude_unset=True)  # type: ignore[no-any-return]


def iter_sse(stream: Any, *, named_only: bool) -> Iterator[dict[str, Any] | _Done]:
    """Decoded event dicts straight from the SDK's SSE decoder.

    Skipping the SDK's per-event pydantic models is the single largest saving
    on the per-chunk path; the HTTP and SSE decoding remain the SDK's.
    """
    iter_events = sdk_sse_events(stream)
    if iter_events is None:  # an SDK without the hook: use its typed events
        yield from _typed_events(stream)
        return
    for sse in iter_events():
        item = _decode(sse, named_only=named_only)
        if item is DONE:
            yield item
            return
        if item is not None:
            yield item


async def aiter_sse(stream: Any, *, named_only: bool) -> AsyncIterator[dict[str, Any] | _Done]:
    iter_events = sdk_sse_events(stream)
    if iter_events is None:
        async for event in stream:
            yield as_dict(event)
        return
    async for sse in iter_events():
        item = _decode(sse, named_only=named_only)
        if item is DONE:
            yield item
            return
        if item is not None:
            yield item


def has_raw_events(stream: Any) -> bool:
    """Whether :func:`iter_sse` will see ``[DONE]`` (strict termination checks)."""
    return sdk_sse_events(stream) is not None
