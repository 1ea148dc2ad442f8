"""What a token source is: detecting its wire, its model and request, and its chunks.

``stream_tokens`` accepts a raw SDK stream, its events (objects or dicts), a
chat-completions helper's chunk events, or plain ``str`` / ``AIMessageChunk``
items. Which wire an SDK stream or event speaks is the wires' own knowledge
(``streamtap.providers.WIRES``); this module peeks at the source, reports what
the run should say (``ls_*`` keys, invocation params) and yields normalized
chunks.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Final

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig

from streamtap.middleware._chat_run import ChatRunSpec
from streamtap.providers import PRESETS, WIRES, anormalize, normalize
from streamtap.providers._chunks import text_chunk
from streamtap.providers._wire_stream import as_dict
from streamtap.providers._wires import (
    is_sdk_stream,
    native_stream,
    wire_of_event,
    wire_of_sdk_stream,
)

_DEFAULT_NAME: Final = "stream_tokens"
_END: Final = object()


def _label(provider: str | None) -> str | None:
    """``ls_provider`` for a wire: the Responses API is still OpenAI."""
    return "openai" if provider == "openai-responses" else provider


def _sdk_wire(stream: Any) -> str:
    return wire_of_sdk_stream(stream).name


def _request_body(stream: Any) -> dict[str, Any]:
    """The JSON body the SDK sent: the requested model and sampling parameters."""
    try:
        body = json.loads(stream.response.request.content)
    except (AttributeError, TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _ls_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    max_tokens = next(
        (
            body[k]
            for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
            if isinstance(body.get(k), int)
        ),
        None,
    )
    stop = body.get("stop", body.get("stop_sequences"))
    return {
        "ls_temperature": body.get("temperature"),
        "ls_max_tokens": max_tokens,
        "ls_stop": [stop] if isinstance(stop, str) else stop or None,
    }


def _event_wire(event: Any) -> str | None:
    """The wire format one SDK event (object or dict) belongs to, or None."""
    wire = wire_of_event(event)
    return wire.name if wire is not None else None


def _event_model(data: Mapping[str, Any]) -> str | None:
    for holder in (data, data.get("message"), data.get("response"), data.get("chunk")):
        if isinstance(holder, Mapping):
            model = holder.get("model")
            if isinstance(model, str):
                return model
    return None


def _unwrap_helper_events(events: Iterable[Any]) -> Iterator[Any]:
    """``client.chat.completions.stream()`` wraps each chunk in a ``ChunkEvent``."""
    for event in events:
        if getattr(event, "type", None) == "chunk" and hasattr(event, "chunk"):
            yield event.chunk


async def _aunwrap_helper_events(events: AsyncIterable[Any]) -> AsyncIterator[Any]:
    async for event in events:
        if getattr(event, "type", None) == "chunk" and hasattr(event, "chunk"):
            yield event.chunk


def _is_helper_chunk_event(event: Any) -> bool:
    return type(event).__name__ == "ChunkEvent" and hasattr(event, "chunk")


class Source:
    """A detected token source: its wire (None for text/chunks) and what to report."""

    __slots__ = ("label", "model", "params", "wire")

    def __init__(
        self, wire: str | None, label: str | None, model: str | None, params: dict[str, Any]
    ) -> None:
        self.wire = wire
        self.label = label
        self.model = model
        self.params = params

    def spec(self, config: RunnableConfig) -> ChatRunSpec:
        ls = {
            "ls_provider": self.label,
            "ls_model_name": self.model,
            "ls_model_type": "chat",
            **_ls_from_body(self.params),
            "ls_integration": "langchain_chat_model",
        }
        params = {k: v for k, v in self.params.items() if k not in ("messages", "input", "system")}
        params.setdefault("model", self.model)
        params["_type"] = f"streamtap-{self.label or 'tokens'}"
        return ChatRunSpec(_DEFAULT_NAME, ls, params)


def check_provider(provider: str | None) -> None:
    if provider is not None and not isinstance(provider, str):
        raise TypeError(f"provider must be a str such as 'openai' or 'anthropic', got {provider!r}")


def _wire_for(provider: str | None, detected: str | None, what: str) -> str:
    if provider is not None and (provider in WIRES or provider in PRESETS):
        return provider
    if detected is not None:
        return detected
    raise TypeError(
        f"cannot tell which provider produced {what}: pass provider='openai', "
        "'openai-responses' or 'anthropic' (or an OpenAI-compatible preset name)"
    )


def _as_chunk(item: Any, i: int, kind: type[str] | type[AIMessageChunk]) -> AIMessageChunk:
    """One item of a text or chunk source (their ids are filled in by the run)."""
    if not isinstance(item, kind):
        raise TypeError(
            f"token source item {i} is {type(item).__name__}, but the source started "
            f"with {kind.__name__}: a stream must hold one kind of item"
        )
    return text_chunk(None, item) if isinstance(item, str) else item  # type: ignore[no-any-return]


def _plain(first: Any, rest: Iterator[Any]) -> Iterator[AIMessageChunk]:
    kind: type[str] | type[AIMessageChunk] = str if isinstance(first, str) else AIMessageChunk
    for i, item in enumerate(itertools.chain((first,), rest)):
        yield _as_chunk(item, i, kind)


def open_source(
    raw: Iterable[Any], provider: str | None, model: str | None
) -> tuple[Source, Iterator[AIMessageChunk]]:
    """Detect what ``raw`` is (peeking at its first item) and its normalized chunks."""
    if is_sdk_stream(raw):
        source = _sdk_source(raw, provider, model)
        assert source.wire is not None
        return source, normalize(source.wire, raw, model=source.model)
    if (native := native_stream(raw)) is not None:
        raw = native[1]  # google-genai's generator, boto3's EventStream: events as they come
    it = iter(raw)
    first = next(it, _END)
    if first is _END:
        return Source(None, _label(provider), model, {}), iter(())
    source = _classify(first, provider, model)
    if source.wire is None:
        return source, _plain(first, it)
    events: Iterator[Any] = itertools.chain((first,), it)
    if _is_helper_chunk_event(first):
        events = _unwrap_helper_events(events)
    return source, normalize(source.wire, events, model=source.model)


def _classify(first: Any, provider: str | None, model: str | None) -> Source:
    if isinstance(first, str | AIMessageChunk):
        return Source(None, _label(provider), model, {})
    if _is_helper_chunk_event(first):
        first = first.chunk
    detected = _event_wire(first)
    if detected is None and not isinstance(first, Mapping) and not hasattr(first, "model_dump"):
        raise TypeError(
            f"stream_tokens() cannot read items of type {type(first).__name__}: pass an SDK "
            "stream, its events (objects or dicts), str tokens or AIMessageChunks"
        )
    wire = _wire_for(provider, detected, f"events of type {type(first).__name__}")
    data = as_dict(first)
    return Source(wire, _label(provider or wire), model or _event_model(data), {})


def _sdk_source(stream: Any, provider: str | None, model: str | None) -> Source:
    wire = _wire_for(provider, _sdk_wire(stream), type(stream).__name__)
    body = _request_body(stream)
    return Source(wire, _label(provider or wire), model or body.get("model"), body)


def reject_text(raw: Any) -> None:
    if isinstance(raw, str | bytes):
        raise TypeError(
            "stream_tokens() got a single string; pass an iterable of tokens "
            "(e.g. a generator of str) or an SDK stream"
        )


def close_quietly(raw: Any) -> None:
    close = getattr(raw, "close", None)
    if callable(close):
        close()


async def aclose_quietly(raw: Any) -> None:
    close = getattr(raw, "aclose", None) or getattr(raw, "close", None)
    if callable(close):
        out = close()
        if hasattr(out, "__await__"):
            await out


def tail(last: AIMessageChunk | None, message_id: str) -> AIMessageChunk:
    """The closing chunk langchain-core adds when a source's last chunk is not marked."""
    content: str | list[str | dict[str, Any]] = (
        "" if last is None or isinstance(last.content, str) else []
    )
    return AIMessageChunk(
        content=content,
        chunk_position="last",
        id=last.id if last is not None and last.id is not None else message_id,
    )


async def _achain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item


async def aiter_sync(it: Iterator[Any]) -> AsyncIterator[Any]:
    for item in it:
        yield item


async def _aplain(items: AsyncIterator[Any], first: Any) -> AsyncIterator[AIMessageChunk]:
    kind: type[str] | type[AIMessageChunk] = str if isinstance(first, str) else AIMessageChunk
    i = 0
    async for item in items:
        yield _as_chunk(item, i, kind)
        i += 1


async def aopen(
    raw: Any, provider: str | None, model: str | None
) -> tuple[Source, AsyncIterator[AIMessageChunk]]:
    """Async twin of :func:`open_source` (async iterables, or sync ones)."""
    if is_sdk_stream(raw):
        source = _sdk_source(raw, provider, model)
        assert source.wire is not None
        if isinstance(raw, AsyncIterable):
            return source, anormalize(source.wire, raw, model=source.model)
        return source, aiter_sync(normalize(source.wire, raw, model=source.model))
    if (native := native_stream(raw)) is not None:
        raw = native[1]
    if not isinstance(raw, AsyncIterable):
        source, chunks = open_source(raw, provider, model)
        return source, aiter_sync(chunks)
    ait = aiter(raw)
    try:
        first = await anext(ait)
    except StopAsyncIteration:
        return Source(None, _label(provider), model, {}), aiter_sync(iter(()))
    source = _classify(first, provider, model)
    items = _achain(first, ait)
    if source.wire is None:
        return source, _aplain(items, first)
    if _is_helper_chunk_event(first):
        items = _aunwrap_helper_events(items)
    return source, anormalize(source.wire, items, model=source.model)
