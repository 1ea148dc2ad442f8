"""The wires streamtap speaks, by name, and telling which one a raw stream or event is.

``WIRES`` maps each wire's name to its :class:`~streamtap.providers._wire.Wire`;
presets resolve to the wire they speak. Detection asks each wire's own
predicates in turn, so a new wire is recognised by adding it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamtap._compat import sdk_sse_events
from streamtap.providers._presets import PRESETS
from streamtap.providers._wire import Wire
from streamtap.providers.anthropic._events import WIRE as MESSAGES
from streamtap.providers.bedrock._events import WIRE as CONVERSE
from streamtap.providers.gemini._events import WIRE as GEMINI
from streamtap.providers.openai_chat._events import WIRE as CHAT_COMPLETIONS
from streamtap.providers.openai_responses._events import WIRE as RESPONSES

__all__ = [
    "WIRES",
    "is_sdk_stream",
    "native_stream",
    "resolve",
    "wire_of_event",
    "wire_of_sdk_stream",
]

#: Every wire by name. Detection order matters: Chat Completions is the fallback.
WIRES: dict[str, Wire] = {
    w.name: w for w in (CHAT_COMPLETIONS, RESPONSES, MESSAGES, GEMINI, CONVERSE)
}
_DETECT_STREAMS = (RESPONSES, MESSAGES, CHAT_COMPLETIONS)
#: Raw streams of SDKs that do not speak SSE (google-genai's generators, botocore's
#: EventStream or the whole ``converse_stream`` response): read through ``Wire.sdk_events``.
_NATIVE_STREAMS = (GEMINI, CONVERSE)
#: The ``model_provider`` a wire's events report when named by the wire (what the chat
#: models report, so ``content_blocks`` finds langchain-core's translator).
_REPORTED = {"openai-responses": "openai", "gemini": "google_genai"}


#: Vendors that speak another vendor's wire through that vendor's SDK (Azure's OpenAI
#: clients, the anthropic SDK's Bedrock and Vertex clients): the wire, and the name kept.
_HOSTED: dict[str, str] = {
    "azure": "openai",
    "azure-responses": "openai-responses",
    "anthropic-bedrock": "anthropic",
    "anthropic-vertex": "anthropic",
}


def resolve(provider: str, *, what: str) -> tuple[Wire, str]:
    """The wire ``provider`` (a wire or a preset name) speaks, and the provider to report."""
    wire = WIRES.get(provider)
    if wire is not None:
        return wire, _REPORTED.get(provider, provider)
    if provider in _HOSTED:
        return WIRES[_HOSTED[provider]], "azure" if provider == "azure-responses" else provider
    preset = PRESETS.get(provider)
    if preset is not None:
        return WIRES[preset.wire], preset.provider or provider
    raise ValueError(
        f"unknown provider {provider!r} for {what}; use {', '.join(map(repr, [*WIRES, *_HOSTED]))} "
        f"(or an OpenAI-compatible preset: {', '.join(PRESETS)})"
    )


def is_sdk_stream(obj: Any) -> bool:
    """A raw ``Stream`` / ``AsyncStream`` from ``create(stream=True)``: its SSE is read directly."""
    return sdk_sse_events(obj) is not None and hasattr(obj, "response")


def native_stream(stream: Any) -> tuple[Wire, Any] | None:
    """A raw stream of an SDK that does not speak SSE: its wire and its events, or None."""
    for wire in _NATIVE_STREAMS:
        if wire.owns_sdk_stream(stream):
            return wire, wire.sdk_events(stream) if wire.sdk_events is not None else stream
    return None


def wire_of_sdk_stream(stream: Any) -> Wire:
    """The wire a raw SDK stream speaks."""
    return next(w for w in _DETECT_STREAMS if w.owns_sdk_stream(stream))


def wire_of_event(event: Any) -> Wire | None:
    """The wire one SDK event (object or decoded dict) belongs to, or None."""
    if isinstance(event, Mapping):
        return next((w for w in WIRES.values() if w.owns_event(event)), None)
    module = type(event).__module__
    return next((w for w in WIRES.values() if w.owns_event_module(module)), None)
