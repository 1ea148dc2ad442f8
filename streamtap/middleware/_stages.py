"""The per-stream stages behind transforms: coalesce, redact, stop_at, on_chunk.

A stage is a small state machine fed one message at a time (``push``), asked
to let go of what it holds (``flush``) and, for time bounds, told the time
(``tick``). Stages only ever rewrite plain deltas (text, one reasoning/text
block, one tool call's argument fragments); anything else passes through as
it came, so ids, tool-call chunks, usage and ``chunk_position`` survive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from langchain_core.messages import AIMessageChunk, BaseMessage

from streamtap._delta import BLOCK_FIELDS, delta_kind, delta_text, with_delta_text
from streamtap._stop import StopScanner

#: (message, carrier): the carrier rebuilds the caller's item around a message.
Item = tuple[BaseMessage, Any]


class _Stage(Protocol):
    def push(self, message: BaseMessage, carrier: Any) -> list[Item]: ...

    def flush(self) -> list[Item]: ...

    def deadline(self) -> float | None: ...

    def tick(self, now: float) -> list[Item]: ...


# --------------------------------------------------------------------------- deltas


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
    block: dict[str, Any] = {"type": kind[1], BLOCK_FIELDS[kind[1]]: text}
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
        return [(with_delta_text(kind, template, "".join(pieces)), self._carrier)]

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
        kind = delta_kind(message) if isinstance(message, AIMessageChunk) else None
        if kind is None or message.id not in self._started:
            out = self._take()
            out.append((message, carrier))
            if isinstance(message, AIMessageChunk):
                if message.chunk_position == "last":
                    self._started.discard(message.id)
                elif kind is None or kind[0] == "tool" or delta_text(kind, message):
                    self._started.add(message.id)  # the first token went out at once
            return out
        assert isinstance(message, AIMessageChunk)
        piece = delta_text(kind, message)
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
        field = BLOCK_FIELDS.get(block.get("type", "")) if isinstance(block, dict) else None
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
        kind = delta_kind(message)
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
        text = delta_text(kind, message)
        if held is not None:
            text = held.text + text
        ready, rest = self._matcher.split(text, final=False)
        if rest:
            self._held[key] = _Held(rest, carrier)
        else:
            self._held.pop(key, None)
        if ready != delta_text(kind, message):
            message = with_delta_text(kind, message, ready)
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


class _StopAt:
    """Cuts each message's text at the first stop sequence; later text of it is dropped."""

    __slots__ = ("_carriers", "_scanners", "_stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = stops
        self._scanners: dict[str | None, StopScanner] = {}
        self._carriers: dict[str | None, Any] = {}

    def push(self, message: BaseMessage, carrier: Any) -> list[Item]:
        if not isinstance(message, AIMessageChunk) or not isinstance(message.content, str):
            return [(message, carrier)]
        scanner = self._scanners.get(message.id)
        if scanner is None:
            scanner = self._scanners[message.id] = StopScanner(self._stops)
        shown = scanner.feed(message.content)
        if message.chunk_position == "last":
            shown += scanner.flush()
            self._scanners.pop(message.id, None)
            self._carriers.pop(message.id, None)
        else:
            self._carriers[message.id] = carrier
        if shown == message.content:
            return [(message, carrier)]
        if not shown and delta_kind(message) == ("text",):
            return []  # held back, or after the stop: nothing to show yet
        return [(message.model_copy(update={"content": shown}), carrier)]

    def flush(self) -> list[Item]:
        out: list[Item] = []
        for message_id, scanner in self._scanners.items():
            if held := scanner.flush():
                out.append((_delta_chunk(("text",), message_id, held), self._carriers[message_id]))
        self._scanners.clear()
        self._carriers.clear()
        return out

    def deadline(self) -> float | None:
        return None

    def tick(self, now: float) -> list[Item]:
        return []


# --------------------------------------------------------------------------- pipeline
