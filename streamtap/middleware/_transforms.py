"""Composable chunk-stream transforms: ``coalesce``, ``redact``, ``on_chunk``.

A transform is a recipe for per-stream *stages*; each stage is a small state
machine fed one message at a time (``push``), asked to let go of what it holds
(``flush``) and, for time bounds, told the time (``tick``). The same stages
run over a model's chunk stream (``model.with_transforms(...)``,
:meth:`Transform.stream`) and over a graph's ``messages`` output
(:meth:`Transform.messages`), where each message travels with its metadata
and namespace untouched.

Stages only ever rewrite plain deltas (text, one reasoning/text block, one
tool call's argument fragments). Anything else — the last chunk, usage,
``additional_kwargs``, whole messages — passes through as it came, so ids,
tool-call chunks, usage and ``chunk_position`` survive every transform.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import closing
from typing import Any, Final, Protocol

import regex  # type: ignore[import-untyped]
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict

__all__ = [
    "Transform",
    "TransformedChatModel",
    "coalesce",
    "compose",
    "on_chunk",
    "redact",
    "with_transforms",
]

#: (message, carrier): the carrier rebuilds the caller's item around a message.
Item = tuple[BaseMessage, Any]

_BLOCK_FIELDS: Final = {"text": "text", "reasoning": "reasoning", "thinking": "thinking"}


class _Stage(Protocol):
    def push(self, message: BaseMessage, carrier: Any) -> list[Item]: ...

    def flush(self) -> list[Item]: ...

    def deadline(self) -> float | None: ...

    def tick(self, now: float) -> list[Item]: ...


# --------------------------------------------------------------------------- deltas


def _delta_kind(chunk: AIMessageChunk) -> tuple[Any, ...] | None:
    """What plain delta ``chunk`` is (``("text",)``, ``("tool", i)``, ``("block", type, i)``).

    None means "not a plain delta": it must pass through untouched.
    """
    if chunk.usage_metadata or chunk.chunk_position or chunk.additional_kwargs:
        return None
    content = chunk.content
    tool_chunks = chunk.tool_call_chunks
    if isinstance(content, str):
        if not tool_chunks:
            return None if chunk.tool_calls or chunk.invalid_tool_calls else ("text",)
        if content == "" and len(tool_chunks) == 1:
            return ("tool", tool_chunks[0].get("index"))
        return None
    if tool_chunks or len(content) != 1:
        return None
    block = content[0]
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    field = _BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
    if field is None or not set(block) <= {"type", "index", field}:
        return None
    return ("block", kind, block.get("index"))


def _delta_text(kind: tuple[Any, ...], chunk: AIMessageChunk) -> str:
    if kind[0] == "text":
        return chunk.content  # type: ignore[return-value]
    if kind[0] == "tool":
        return chunk.tool_call_chunks[0].get("args") or ""
    block = chunk.content[0]
    assert isinstance(block, dict)
    return str(block.get(_BLOCK_FIELDS[kind[1]]) or "")


def _with_tool_chunks(chunk: AIMessageChunk, tool_chunks: list[Any]) -> AIMessageChunk:
    # Built through validation so tool_calls / invalid_tool_calls are re-derived.
    return AIMessageChunk(
        content=chunk.content,
        id=chunk.id,
        name=chunk.name,
        additional_kwargs=chunk.additional_kwargs,
        response_metadata=chunk.response_metadata,
        usage_metadata=chunk.usage_metadata,
        chunk_position=chunk.chunk_position,
        tool_call_chunks=tool_chunks,
    )


def _with_delta_text(kind: tuple[Any, ...], chunk: AIMessageChunk, text: str) -> AIMessageChunk:
    """``chunk`` (a plain delta of ``kind``) carrying ``text`` instead."""
    if kind[0] == "text":
        return chunk.model_copy(update={"content": text})
    if kind[0] == "tool":
        tool_chunk = dict(chunk.tool_call_chunks[0])
        tool_chunk["args"] = text
        return _with_tool_chunks(chunk, [tool_chunk])
    block = dict(chunk.content[0])  # type: ignore[arg-type]
    block[_BLOCK_FIELDS[kind[1]]] = text
    return chunk.model_copy(update={"content": [block]})


def _delta_chunk(kind: tuple[Any, ...], message_id: str | None, text: str) -> AIMessageChunk:
    """A fresh plain delta of ``kind`` (for text a transform emits on its own)."""
    if kind[0] == "text":
        return AIMessageChunk(content=text, id=message_id)
    if kind[0] == "tool":
        return AIMessageChunk(
            content="",
            id=message_id,
            tool_call_chunks=[{"name": None, "args": text, "id": None, "index": kind[1]}],
        )
    block: dict[str, Any] = {"type": kind[1], _BLOCK_FIELDS[kind[1]]: text}
    if kind[2] is not None:
        block["index"] = kind[2]
    return AIMessageChunk(content=[block], id=message_id)


# --------------------------------------------------------------------------- coalesce


class _Coalesce:
    """Merges runs of plain deltas of one message into fewer, larger chunks."""

    __slots__ = (
        "_carrier",
        "_chars",
        "_clock",
        "_kind",
        "_max_chars",
        "_max_delay",
        "_pieces",
        "_since",
        "_started",
        "_template",
    )

    def __init__(
        self, max_chars: int | None, max_delay: float | None, clock: Callable[[], float]
    ) -> None:
        self._max_chars = max_chars
        self._max_delay = max_delay
        self._clock = clock
        self._template: AIMessageChunk | None = None
        self._kind: tuple[Any, ...] | None = None
        self._carrier: Any = None
        self._pieces: list[str] = []
        self._chars = 0
        self._since = 0.0
        self._started: set[str | None] = set()  # ids whose first token went out

    def _take(self) -> list[Item]:
        template, kind = self._template, self._kind
        if template is None or kind is None:
            return []
        self._template = self._kind = None
        pieces, self._pieces = self._pieces, []
        if len(pieces) == 1:
            return [(template, self._carrier)]
        return [(_with_delta_text(kind, template, "".join(pieces)), self._carrier)]

    def _mergeable(self, chunk: AIMessageChunk, kind: tuple[Any, ...]) -> bool:
        template = self._template
        if template is None or kind != self._kind or chunk.id != template.id:
            return False
        if chunk.response_metadata != template.response_metadata:
            return False
        if kind[0] == "tool":
            tool_chunk = chunk.tool_call_chunks[0]
            return tool_chunk.get("id") is None and tool_chunk.get("name") is None
        return True

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        kind = _delta_kind(message) if isinstance(message, AIMessageChunk) else None
        if kind is None or message.id not in self._started:
            out = self._take()
            out.append((message, carrier))
            if isinstance(message, AIMessageChunk):
                if message.chunk_position == "last":
                    self._started.discard(message.id)
                elif kind is None or kind[0] == "tool" or _delta_text(kind, message):
                    self._started.add(message.id)  # the first token went out at once
            return out
        assert isinstance(message, AIMessageChunk)
        piece = _delta_text(kind, message)
        now = self._clock()
        out = []
        if not self._mergeable(message, kind) or (
            self._max_chars is not None and self._chars + len(piece) > self._max_chars
        ):
            out = self._take()
        if self._template is None:
            self._template, self._kind, self._carrier = message, kind, carrier
            self._pieces, self._chars, self._since = [piece], len(piece), now
        else:
            self._pieces.append(piece)
            self._chars += len(piece)
        if (self._max_chars is not None and self._chars >= self._max_chars) or (
            self._max_delay is not None and now >= self._since + self._max_delay  # as deadline()
        ):
            out.extend(self._take())
        return out

    def flush(self) -> list[Item]:
        return self._take()

    def deadline(self) -> float | None:
        if self._template is None or self._max_delay is None:
            return None
        return self._since + self._max_delay

    def tick(self, now: float) -> list[Item]:
        deadline = self.deadline()
        return self._take() if deadline is not None and now >= deadline else []


# --------------------------------------------------------------------------- redact


class _Matcher:
    """Splits a growing text into a settled part (masked) and a tail to hold back."""

    __slots__ = ("_pattern", "_replacement")

    def __init__(self, pattern: Any, replacement: str | Callable[[Any], str]) -> None:
        self._pattern = pattern
        self._replacement = replacement

    def _mask(self, match: Any) -> str:
        replacement = self._replacement
        return replacement(match) if callable(replacement) else replacement

    def split(self, text: str, *, final: bool) -> tuple[str, str]:
        out: list[str] = []
        pos, end = 0, len(text)
        search = self._pattern.search
        while pos < end:
            match = search(text, pos, partial=not final)
            if match is None:
                break
            start, stop = match.span()
            # A match touching the end may still grow (greedy) or be partial: hold it.
            if not final and (match.partial or stop == end):
                out.append(text[pos:start])
                return "".join(out), text[start:]
            if stop == start:  # zero-width matches are not masked
                out.append(text[pos : start + 1])
                pos = start + 1
                continue
            out.append(text[pos:start])
            out.append(self._mask(match))
            pos = stop
        out.append(text[pos:])
        return "".join(out), ""


class _SpanMatcher:
    """Like :class:`_Matcher` for a span-finding function: holds back ``window - 1`` chars."""

    __slots__ = ("_find", "_replacement", "_window")

    def __init__(
        self, find: Callable[[str], Iterable[tuple[int, int]]], replacement: str, window: int
    ) -> None:
        self._find = find
        self._replacement = replacement
        self._window = window

    def split(self, text: str, *, final: bool) -> tuple[str, str]:
        end = len(text)
        spans = sorted((int(a), int(b)) for a, b in self._find(text) if 0 <= a < b <= end)
        cut = end if final else max(0, end - (self._window - 1))
        if not final:
            for start, stop in spans:
                if stop > cut or stop == end:
                    cut = min(cut, start)
        out: list[str] = []
        pos = 0
        for start, stop in spans:
            if stop > cut or start < pos:
                continue  # held back, or overlapping a span already masked
            out.append(text[pos:start])
            out.append(self._replacement)
            pos = stop
        out.append(text[pos:cut])
        return "".join(out), text[cut:]


class _Held:
    __slots__ = ("carrier", "text")

    def __init__(self, text: str, carrier: Any) -> None:
        self.text = text
        self.carrier = carrier


_AnyMatcher = _Matcher | _SpanMatcher


def _redact_whole(message: BaseMessage, matcher: _AnyMatcher) -> BaseMessage:
    """``message`` with every match in its text masked (the same object if nothing matched)."""
    content = message.content
    if isinstance(content, str):
        masked = matcher.split(content, final=True)[0]
        return message if masked == content else message.model_copy(update={"content": masked})
    blocks: list[Any] = []
    changed = False
    for block in content:
        field = _BLOCK_FIELDS.get(block.get("type", "")) if isinstance(block, dict) else None
        if isinstance(block, dict) and field is not None and isinstance(block.get(field), str):
            masked = matcher.split(block[field], final=True)[0]
            if masked != block[field]:
                block, changed = {**block, field: masked}, True
        blocks.append(block)
    return message.model_copy(update={"content": blocks}) if changed else message


class _Redact:
    """Masks pattern matches in each delta run, holding back only a possible match's start."""

    __slots__ = ("_active", "_held", "_matcher")

    def __init__(self, matcher: _AnyMatcher) -> None:
        self._matcher = matcher
        self._held: dict[tuple[str | None, tuple[Any, ...]], _Held] = {}
        self._active: dict[str | None, tuple[Any, ...]] = {}  # the run each message is in

    def _release(self, message_id: str | None, keep: tuple[Any, ...] | None) -> list[Item]:
        out: list[Item] = []
        for key in [k for k in self._held if k[0] == message_id and k[1] != keep]:
            held = self._held.pop(key)
            if held.text:
                text = self._matcher.split(held.text, final=True)[0]
                out.append((_delta_chunk(key[1], message_id, text), held.carrier))
        return out

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        if not isinstance(message, AIMessageChunk):
            return [(_redact_whole(message, self._matcher), carrier)]
        message_id = message.id
        kind = _delta_kind(message)
        if kind is None:
            # The run (if any) is over: release what was held, then this chunk, masked whole.
            out = self._release(message_id, None)
            self._active.pop(message_id, None)
            out.append((self._mask_chunk(message), carrier))
            return out
        out = []
        if self._active.get(message_id) != kind:
            out = self._release(message_id, kind)
            self._active[message_id] = kind
        key = (message_id, kind)
        held = self._held.get(key)
        text = _delta_text(kind, message)
        if held is not None:
            text = held.text + text
        ready, rest = self._matcher.split(text, final=False)
        if rest:
            self._held[key] = _Held(rest, carrier)
        else:
            self._held.pop(key, None)
        if ready != _delta_text(kind, message):
            message = _with_delta_text(kind, message, ready)
        out.append((message, carrier))
        return out

    def _mask_chunk(self, chunk: AIMessageChunk) -> AIMessageChunk:
        """A chunk that is not a plain delta, masked on its own (it ends any run)."""
        masked = _redact_whole(chunk, self._matcher)
        assert isinstance(masked, AIMessageChunk)
        if not chunk.tool_call_chunks:
            return masked
        tool_chunks: list[Any] = []
        changed = False
        for tc in chunk.tool_call_chunks:
            args = tc.get("args")
            if isinstance(args, str) and (new := self._matcher.split(args, final=True)[0]) != args:
                tc, changed = {**tc, "args": new}, True
            tool_chunks.append(tc)
        return _with_tool_chunks(masked, tool_chunks) if changed else masked

    def flush(self) -> list[Item]:
        out: list[Item] = []
        for message_id in list(dict.fromkeys(k[0] for k in self._held)):
            out.extend(self._release(message_id, None))
        self._active.clear()
        return out

    def deadline(self) -> float | None:
        return None

    def tick(self, now: float) -> list[Item]:
        return []


# --------------------------------------------------------------------------- on_chunk


class _OnChunk:
    __slots__ = ("_callback",)

    def __init__(self, callback: Callable[[BaseMessage], object]) -> None:
        self._callback = callback

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        self._callback(message)
        return [(message, carrier)]

    def flush(self) -> list[Item]:
        return []

    def deadline(self) -> float | None:
        return None

    def tick(self, now: float) -> list[Item]:
        return []


# --------------------------------------------------------------------------- pipeline


class _Pipeline:
    """Stages in order: each stage's output is the next one's input."""

    __slots__ = ("_clock", "_stages", "timed")

    def __init__(self, stages: Sequence[_Stage], clock: Callable[[], float], timed: bool) -> None:
        self._stages = stages
        self._clock = clock
        self.timed = timed

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        items: list[Item] = [(message, carrier)]
        for stage in self._stages:
            if len(items) == 1:
                items = stage.push(*items[0])
            else:
                items = [out for item in items for out in stage.push(*item)]
            if not items:
                break
        return items

    def _cascade(self, release: Callable[[_Stage], list[Item]]) -> list[Item]:
        items: list[Item] = []
        for stage in self._stages:
            items = [out for item in items for out in stage.push(*item)]
            items.extend(release(stage))
        return items

    def close(self) -> list[Item]:
        return self._cascade(lambda stage: stage.flush())

    def tick(self) -> list[Item]:
        now = self._clock()
        return self._cascade(lambda stage: stage.tick(now))

    def deadline(self) -> float | None:
        deadlines = [d for s in self._stages if (d := s.deadline()) is not None]
        return min(deadlines) if deadlines else None

    def remaining(self) -> float | None:
        deadline = self.deadline()
        return None if deadline is None else max(0.0, deadline - self._clock())


# --------------------------------------------------------------------------- item shapes


def _unwrap_output(item: Any) -> Item | None:
    """The message inside one ``stream(..., stream_mode=...)`` item, or None if it has none."""
    if type(item) is tuple:
        if len(item) == 2:
            first, second = item
            if isinstance(first, BaseMessage):
                return first, (0, None, second)
            if (
                type(second) is tuple
                and len(second) == 2
                and isinstance(second[0], BaseMessage)
                and (first == "messages" or type(first) is tuple)
            ):
                return second[0], (1, first, second[1])
        elif len(item) == 3 and item[1] == "messages":
            data = item[2]
            if type(data) is tuple and len(data) == 2 and isinstance(data[0], BaseMessage):
                return data[0], (2, item[0], data[1])
    elif isinstance(item, dict) and item.get("type") == "messages":
        data = item.get("data")
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], BaseMessage):
            return data[0], (3, item, data[1])
    elif isinstance(item, BaseMessage):
        return item, (4, None, None)
    return None


def _rewrap_output(message: BaseMessage, carrier: Any) -> Any:
    shape, outer, metadata = carrier
    if shape == 0:
        return (message, metadata)
    if shape == 1:
        return (outer, (message, metadata))
    if shape == 2:
        return (outer, "messages", (message, metadata))
    if shape == 3:
        return {**outer, "data": (message, metadata)}
    return message


def _unwrap_chunk(item: Any) -> Item:
    if not isinstance(item, BaseMessage):
        raise TypeError(
            f"Transform.stream() takes message chunks, got {type(item).__name__}; "
            "use Transform.messages() for a graph's stream output"
        )
    return item, None


def _rewrap_chunk(message: BaseMessage, carrier: Any) -> Any:
    return message


# --------------------------------------------------------------------------- drivers


def _drive(
    pipeline: _Pipeline,
    source: Iterable[Any],
    unwrap: Callable[[Any], Item | None],
    rewrap: Callable[[BaseMessage, Any], Any],
) -> Iterator[Any]:
    iterator = iter(source)
    try:
        try:
            for item in iterator:
                unwrapped = unwrap(item)
                if unwrapped is None:
                    if pipeline.timed:
                        for out in pipeline.tick():
                            yield rewrap(*out)
                    yield item
                    continue
                for out in pipeline.push(*unwrapped):
                    yield rewrap(*out)
        except Exception:
            for out in pipeline.close():
                yield rewrap(*out)
            raise
        for out in pipeline.close():
            yield rewrap(*out)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


_DONE: Final = object()


async def _pump(source: AsyncIterator[Any], queue: asyncio.Queue[tuple[bool, Any]]) -> None:
    try:
        async for item in source:
            await queue.put((True, item))
    except Exception as exc:
        await queue.put((False, exc))
        return
    await queue.put((True, _DONE))


async def _adrive(
    pipeline: _Pipeline,
    source: AsyncIterable[Any] | Iterable[Any],
    unwrap: Callable[[Any], Item | None],
    rewrap: Callable[[BaseMessage, Any], Any],
) -> AsyncIterator[Any]:
    if not isinstance(source, AsyncIterable):
        for item in _drive(pipeline, source, unwrap, rewrap):
            yield item
        return
    iterator = aiter(source)
    if not pipeline.timed:
        try:
            try:
                async for item in iterator:
                    unwrapped = unwrap(item)
                    if unwrapped is None:
                        yield item
                        continue
                    for out in pipeline.push(*unwrapped):
                        yield rewrap(*out)
            except Exception:
                for out in pipeline.close():
                    yield rewrap(*out)
                raise
            for out in pipeline.close():
                yield rewrap(*out)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        return
    # A time bound needs a timer while the source is silent: read the source in
    # a task (the same context) and wait on its hand-off queue with a timeout;
    # cancelling a queue read, unlike cancelling the source, loses nothing.
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=1)
    pump = asyncio.get_running_loop().create_task(_pump(iterator, queue))
    try:
        while True:
            remaining = pipeline.remaining()
            if remaining is None:
                ok, item = await queue.get()
            else:
                try:
                    async with asyncio.timeout(remaining):
                        ok, item = await queue.get()
                except TimeoutError:
                    for out in pipeline.tick():
                        yield rewrap(*out)
                    continue
            if not ok:
                for out in pipeline.close():
                    yield rewrap(*out)
                raise item
            if item is _DONE:
                break
            unwrapped = unwrap(item)
            if unwrapped is None:
                for out in pipeline.tick():
                    yield rewrap(*out)
                yield item
                continue
            for out in pipeline.push(*unwrapped):
                yield rewrap(*out)
        for out in pipeline.close():
            yield rewrap(*out)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


# --------------------------------------------------------------------------- public


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

    def _pipeline(self) -> _Pipeline:
        return _Pipeline([make() for make in self._factories], time.monotonic, self._timed)

    def stream(self, chunks: Iterable[BaseMessage]) -> Iterator[BaseMessage]:
        """Transform a chunk stream (e.g. ``model.stream(...)``).

        Sync streams have no timer: a held chunk goes out when the next chunk
        arrives (or the stream ends), so ``max_delay_ms`` is checked at arrivals.
        """
        return _drive(self._pipeline(), chunks, _unwrap_chunk, _rewrap_chunk)

    def astream(
        self, chunks: AsyncIterable[BaseMessage] | Iterable[BaseMessage]
    ) -> AsyncIterator[BaseMessage]:
        """Transform an async chunk stream; a timer enforces ``max_delay_ms``."""
        return _adrive(self._pipeline(), chunks, _unwrap_chunk, _rewrap_chunk)

    def messages(self, output: Iterable[Any]) -> Iterator[Any]:
        """Transform a graph's stream output; items without a message pass through.

        Takes every ``messages``-mode shape: ``(msg, meta)``, ``(ns, (msg, meta))``,
        ``("messages", (msg, meta))``, ``(ns, "messages", (msg, meta))`` and v2 dicts.
        """
        return _drive(self._pipeline(), output, _unwrap_output, _rewrap_output)

    def amessages(self, output: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
        """Async twin of :meth:`messages`."""
        return _adrive(self._pipeline(), output, _unwrap_output, _rewrap_output)

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


def on_chunk(callback: Callable[[BaseMessage], object]) -> Transform:
    """Call ``callback(message)`` for every message passing (metrics, logging); changes nothing."""
    if not callable(callback):
        raise TypeError(f"on_chunk() takes a callable, got {callback!r}")
    return Transform([lambda: _OnChunk(callback)])


# --------------------------------------------------------------------------- models


class TransformedChatModel(BaseChatModel):
    """A chat model whose chunks pass through a :class:`Transform`.

    Callbacks (so ``messages`` mode, ``astream_events`` and tracers) see the
    transformed chunks: the wrapped model streams without its own callbacks.
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
