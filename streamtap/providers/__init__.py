"""Provider adapters: one normalized chunk stream from every vendor's wire format.

One package per wire format (``openai_chat``, ``openai_responses``,
``anthropic``): a pure event fold with the wire's descriptor (``_events``),
request building (``_request``) and a thin chat model (``_model``).
"""

from __future__ import annotations

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._normalize import anormalize, normalize
from streamtap.providers._presets import PRESETS, Preset
from streamtap.providers._registry import (
    KNOWN_PREFIXES,
    AnthropicCompatibleModel,
    OpenAICompatibleModel,
    chat_model,
)
from streamtap.providers._source import ChunkSource, ChunkStream, ContinuableSource
from streamtap.providers._wire import Wire
from streamtap.providers._wires import WIRES
from streamtap.providers.anthropic import AnthropicChatModel
from streamtap.providers.openai_chat import OpenAIChatModel
from streamtap.providers.openai_responses import OpenAIResponsesModel

__all__ = [
    "KNOWN_PREFIXES",
    "PRESETS",
    "WIRES",
    "AnthropicChatModel",
    "AnthropicCompatibleModel",
    "ChunkSource",
    "ChunkStream",
    "ContinuableSource",
    "OpenAIChatModel",
    "OpenAICompatibleModel",
    "OpenAIResponsesModel",
    "Preset",
    "StreamtapChatModel",
    "Wire",
    "anormalize",
    "chat_model",
    "normalize",
]
