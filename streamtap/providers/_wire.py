"""What distinguishes one wire format from another, in one record per wire.

Every per-wire fact that code outside the wire's own event mapping needs lives
in its :class:`Wire`: how a complete stream ends, whether SSE events without an
``event:`` line count, how to recognise its raw SDK streams and its events,
how it continues a partial answer, whether the API applies stop sequences. A
new wire is a new package with a mapper and one of these; nothing else asks
``if wire == "anthropic"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamtap.providers._chunks import ChunkMapper
    from streamtap.providers._profiles import Continuation

__all__ = ["Wire"]


@dataclass(frozen=True, slots=True, eq=False)
class Wire:
    """One wire format's facts (``streamtap.providers.WIRES[name]``)."""

    #: The spec prefix and ``normalize()`` name: "openai", "openai-responses", "anthropic".
    name: str
    #: ``mapper(model_provider=...)``: a fresh per-stream event fold.
    mapper: Callable[..., ChunkMapper]
    #: What a complete stream ends with; its absence means the connection was cut.
    terminal: str
    #: The SDK drops SSE events without an ``event:`` line, so streamtap must too (a
    #: body of only such events ends in ``ProtocolViolation`` saying so).
    named_events_only: bool
    #: Whether an event (a decoded dict) belongs to this wire.
    owns_event: Callable[[Mapping[str, Any]], bool]
    #: Whether an SDK event object's module (e.g. ``openai.types.responses...``) is this wire's.
    owns_event_module: Callable[[str], bool]
    #: Whether a raw SDK stream (``create(stream=True)``) speaks this wire.
    owns_sdk_stream: Callable[[Any], bool]
    #: How a partial answer is handed back when the model's data says nothing.
    continuation: Continuation
    #: False: the API has no stop sequences and the mapper applies them client-side.
    server_stop_sequences: bool = True
    #: A trailing assistant turn may end in whitespace (Anthropic's may not).
    prefill_trailing_whitespace: bool = True
    #: A trailing assistant turn may follow reasoning blocks (Anthropic's may not).
    prefill_after_reasoning: bool = True
    #: For an SDK that does not speak SSE, the events of a raw stream it hands out
    #: (Bedrock: the ``converse_stream`` response's ``EventStream``); None: the stream itself.
    sdk_events: Callable[[Any], Any] | None = None
