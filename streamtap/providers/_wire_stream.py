"""Driving a mapping over one stream: accumulation, termination and failure.

The vendor mappings are pure folds; this module is the thin loop around them
that both the chat models and :func:`normalize` share. It reads the SDK's
decoded server-sent events (HTTP and SSE stay the SDK's job) and turns every
way a started stream can end badly into one :class:`StreamInterrupted`
carrying the partial message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from typing import Any, Final

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import UsageMetadata

from streamtap._compat import json_loads, sdk_sse_events
from streamtap.accumulate import Accumulator
from streamtap.errors import (
    ProtocolViolation,
    ProviderConnectionError,
    StreamInterrupted,
    StreamtapError,
    from_sdk_error,
    from_stream_error,
)
from streamtap.providers._blocks import ensure_translator
from streamtap.providers._chunks import ChunkMapper, InStreamError, ProtocolError, WireViolation

__all__ = ["DONE", "SdkChunkStream", "WireStream", "abort_read", "aiter_sse", "iter_sse"]


class _Done:
    __slots__ = ("name",)

    def __init__(self, name: str = "DONE") -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Yielded by :func:`iter_sse` for Chat Completions' ``data: [DONE]``.
DONE: Final = _Done()
#: Yielded by :func:`iter_sse`, on a wire that needs ``event:`` names
#: (``Wire.named_events_only``), for an event without one: it is dropped as the
#: SDK drops it, and counted, so a body of such events is named for what it is.
UNNAMED: Final = _Done("UNNAMED")


_YIELD_EVERY = 4

#: Response headers that name a request, as the hosts spell them: OpenAI and compatible
#: servers, Anthropic, AWS (Bedrock, Claude on Bedrock), Azure's API gateway. The first
#: one present is the stream's request id, what a vendor's support asks for.
_REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-amzn-requestid", "apim-request-id")


def stream_request_id(stream: Any) -> str | None:
    """The request id of an open SDK stream: its own ``request_id``, boto3's
    ``ResponseMetadata``, else the first request-id header of its HTTP response."""
    if isinstance(stream, dict):  # boto3's converse_stream response
        own = (stream.get("ResponseMetadata") or {}).get("RequestId")
        return own if isinstance(own, str) and own else None
    own = getattr(stream, "request_id", None)
    if isinstance(own, str) and own:
        return own
    headers = getattr(getattr(stream, "response", None), "headers", None)
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name in _REQUEST_ID_HEADERS:
        value = get(name)
        if isinstance(value, str) and value:
            return value
    return None


class WireStream:
    """One stream's mapping, its accumulated message and its error translation."""

    __slots__ = (
        "acc",
        "api_key",
        "mapper",
        "model",
        "on_open",
        "provider",
        "request_id",
        "terminal",
        "unnamed",
    )

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
        #: Events dropped for want of an ``event:`` name (``UNNAMED``).
        self.unnamed = 0
        #: Called with the SDK stream once the response headers are in, before any
        #: event is read: a watchdog on another thread can then abort a blocked read.
        self.on_open: Callable[[Any], None] | None = None
        #: The response's request id, carried by every error raised once the stream is open
        #: (a reset mid-body has no response of its own to name it).
        self.request_id: str | None = None

    def opened(self, stream: Any) -> None:
        """The chat models call this as soon as the SDK stream exists."""
        self.request_id = stream_request_id(stream)
        if self.on_open is not None:
            self.on_open(stream)

    def feed(self, data: dict[str, Any] | _Done) -> list[AIMessageChunk]:
        if data is DONE:
            chunks = self.mapper.done()
        elif data is UNNAMED:
            self.unnamed += 1
            return []
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
            if self.unnamed:
                raise ProtocolViolation(
                    f"stream interrupted: {self.unnamed} event(s) had no `event:` name, which "
                    "this wire needs (its SDK drops such events), and the stream ended without "
                    f"its terminal event ({terminal}): a proxy or server sending bare `data:` "
                    "lines?",
                    event=None,
                    partial=self.partial(),
                    provider=self.provider,
                    model=self._model_name(),
                    request_id=self.request_id,
                )
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

    def fold(
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

    async def afold(
        self, source: AsyncIterable[dict[str, Any] | _Done], *, strict: bool
    ) -> AsyncGenerator[AIMessageChunk, None]:
        """Async twin of :meth:`fold`.

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
            request_id=cause.request_id or self.request_id,
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
        if isinstance(exc, WireViolation):
            return ProtocolViolation(
                f"stream interrupted: protocol violation in {exc.event or 'an event'}: "
                f"{exc.detail}",
                event=exc.event,
                partial=self.partial(),
                provider=provider,
                model=model,
                request_id=self.request_id,
            )
        decode = _decode_error(exc)
        if decode is not None:
            interrupted = StreamInterrupted(
                f"stream interrupted: the body is not valid UTF-8 ({decode.reason}, "
                f"byte {decode.object[decode.start : decode.start + 1]!r})",
                partial=self.partial(),
                provider=provider,
                model=model,
                request_id=self.request_id,
            )
            interrupted.__cause__ = decode
            return interrupted
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


def _decode_error(exc: BaseException) -> UnicodeDecodeError | None:
    """The UTF-8 decode error behind ``exc`` (raised bare, or wrapped by an SDK), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, UnicodeDecodeError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


# --------------------------------------------------------------------------- SSE reading


def _decode(sse: Any, *, named_only: bool) -> dict[str, Any] | _Done | None:
    data: str = sse.data
    if data.startswith("[DONE]"):
        return DONE
    event = sse.event
    if named_only and event is None:
        return UNNAMED if data else None  # the anthropic SDK drops unnamed events; so do we
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


# --------------------------------------------------------------------------- the seam's stream


class SdkChunkStream:
    """A streamtap chat model's :class:`~streamtap.providers.ChunkStream`: one SDK request.

    The request goes out on the first ``next`` / ``anext`` (the model's
    ``stream_chunks`` / ``astream_chunks`` generator, read through ``run``).
    ``abort()`` may come from another thread at any time: before the response
    headers are in it is remembered and applied the moment they are.
    """

    __slots__ = (
        "_aborted",
        "_agen",
        "_astart",
        "_gen",
        "_lock",
        "_read_to",
        "_sdk",
        "_start",
        "run",
    )

    def __init__(
        self,
        run: WireStream,
        start: Callable[[WireStream], Generator[AIMessageChunk, None, None]],
        astart: Callable[[WireStream], AsyncGenerator[AIMessageChunk, None]],
        *,
        read_timeout: tuple[float | None] | None = None,
    ) -> None:
        self.run = run
        self._start = start
        self._astart = astart
        #: (seconds,) the body's read timeout goes back to once the headers are in.
        self._read_to = read_timeout
        self._gen: Generator[AIMessageChunk, None, None] | None = None
        self._agen: AsyncGenerator[AIMessageChunk, None] | None = None
        self._lock = threading.Lock()
        self._sdk: Any = None
        self._aborted = False
        run.on_open = self._opened

    def __iter__(self) -> Generator[AIMessageChunk, None, None]:
        if self._gen is None:
            self._gen = self._start(self.run)
        return self._gen

    def __aiter__(self) -> AsyncGenerator[AIMessageChunk, None]:
        if self._agen is None:
            self._agen = self._astart(self.run)
        return self._agen

    def _opened(self, sdk_stream: Any) -> None:
        """The headers are in (runs in the reading thread, before any event is read)."""
        if self._read_to is not None:
            set_read_timeout(sdk_stream, self._read_to[0])
        with self._lock:
            self._sdk = sdk_stream
            aborted = self._aborted
        if aborted:
            abort_read(sdk_stream)

    def abort(self) -> None:
        with self._lock:
            if self._aborted:
                return
            self._aborted = True
            sdk_stream = self._sdk
        if sdk_stream is not None:
            abort_read(sdk_stream)

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()

    async def aclose(self) -> None:
        if self._agen is not None:
            await self._agen.aclose()
        self.close()

    @property
    def partial(self) -> AIMessageChunk | None:
        return self.run.partial()

    @property
    def usage(self) -> UsageMetadata | None:
        return self.run.mapper.usage


def abort_read(stream: Any) -> bool:
    """Wake a thread blocked reading ``stream``'s response: shut its socket down.

    Closing a socket from another thread does not wake a ``recv()`` on Linux;
    shutting it down does. Returns False when the transport has no socket (a
    mock transport); the reader then notices the abort at its next chunk.
    """
    response = getattr(stream, "response", None)
    extensions = getattr(response, "extensions", None)
    network = extensions.get("network_stream") if isinstance(extensions, dict) else None
    get_info = getattr(network, "get_extra_info", None)
    sock = get_info("socket") if get_info is not None else None
    if not isinstance(sock, socket.socket):
        return False
    # The base-class method: SSLSocket.shutdown would also drop its SSL state
    # under the feet of the reading thread. OSError: already closed, nothing to wake.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return True


def request_timeout(budget: float) -> Any:
    """A per-request SDK timeout covering connect, write, pool and the wait for headers."""
    import httpx2

    return httpx2.Timeout(max(budget, 0.001))


def set_read_timeout(stream: Any, value: float | None) -> None:
    """Give the body reads of ``stream`` the read timeout ``value``.

    httpx2 reads the body's read timeout from the request's ``timeout``
    extension when the body is first read, which is after this runs.
    """
    request = getattr(getattr(stream, "response", None), "request", None)
    extensions = getattr(request, "extensions", None)
    timeouts = extensions.get("timeout") if isinstance(extensions, dict) else None
    if isinstance(timeouts, dict):
        timeouts["read"] = value
