"""Raw SDK streams to normalized chunks: :func:`normalize` and :func:`anormalize`.

For a user who calls the vendor's SDK directly: the stream (or its event
objects, or their dicts) goes through the same per-wire fold as streamtap's
chat models, with the same errors when it is cut short.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import aclosing
from typing import Any

from langchain_core.messages import AIMessageChunk

from streamtap.providers._wire_stream import (
    WireStream,
    aiter_sse,
    as_dict,
    iter_sse,
    stream_request_id,
)
from streamtap.providers._wires import is_sdk_stream, native_stream, resolve

__all__ = ["anormalize", "normalize"]


def _open(provider: str, model: str | None) -> tuple[WireStream, bool]:
    wire, model_provider = resolve(provider, what="normalize()")
    mapper = wire.mapper(model_provider=model_provider)
    # the model asked for, until the stream names one (Bedrock Converse's never does)
    mapper.model_name = model
    run = WireStream(mapper, model=model, terminal=wire.terminal)
    return run, wire.named_events_only


def normalize(
    provider: str, events: Iterable[Any], *, model: str | None = None
) -> Iterator[AIMessageChunk]:
    """Normalized chunks from a raw SDK stream (or its event objects, or their dicts).

    ``provider`` is a wire (``"openai"``, ``"openai-responses"``, ``"anthropic"``,
    ``"gemini"``, ``"bedrock"``), a hosted name (``"azure"``, ``"anthropic-bedrock"``...)
    or a preset. google-genai's ``generate_content_stream`` generator and boto3's
    ``converse_stream`` response (or its ``"stream"``) are read as they are.
    A stream that fails or ends without its terminal event raises
    :class:`~streamtap.errors.StreamInterrupted` carrying the partial message.
    """
    run, named_only = _open(provider, model)
    run.request_id = stream_request_id(events)
    raw = is_sdk_stream(events)
    if (native := native_stream(events)) is not None:
        events = native[1]
    source: Iterable[Any] = iter_sse(events, named_only=named_only) if raw else map(as_dict, events)
    try:
        yield from run.fold(source, strict=raw)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def anormalize(
    provider: str, events: AsyncIterable[Any], *, model: str | None = None
) -> AsyncGenerator[AIMessageChunk, None]:
    """Async twin of :func:`normalize` (``AsyncStream`` or any async iterable of events)."""
    run, named_only = _open(provider, model)
    run.request_id = stream_request_id(events)
    raw = is_sdk_stream(events)
    if (native := native_stream(events)) is not None:
        events = native[1]
    source = aiter_sse(events, named_only=named_only) if raw else _adicts(events)
    try:
        async with aclosing(run.afold(source, strict=raw)) as chunks:
            async for chunk in chunks:
                yield chunk
    finally:
        close = getattr(events, "close", None) or getattr(events, "aclose", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result


async def _adicts(events: AsyncIterable[Any]) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        yield as_dict(event)
