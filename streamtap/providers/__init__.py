"""Provider adapters: one normalized chunk stream from every vendor's wire format.

One module per wire format (``openai_chat``, ``openai_responses``,
``anthropic``), each a pure event-to-chunk mapping plus a thin chat model.
"""

from __future__ import annotations

from streamtap.providers import _blocks
from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._registry import (
    KNOWN_PREFIXES,
    PRESETS,
    AnthropicCompatibleModel,
    OpenAICompatibleModel,
    Preset,
    anormalize,
    chat_model,
    normalize,
)
from streamtap.providers.anthropic import AnthropicChatModel
from streamtap.providers.openai_chat import OpenAIChatModel
from streamtap.providers.openai_responses import OpenAIResponsesModel

_blocks.install(["openai", "anthropic", *PRESETS])

__all__ = [
    "KNOWN_PREFIXES",
    "PRESETS",
    "AnthropicChatModel",
    "AnthropicCompatibleModel",
    "OpenAIChatModel",
    "OpenAICompatibleModel",
    "OpenAIResponsesModel",
    "Preset",
    "StreamtapChatModel",
    "anormalize",
    "chat_model",
    "normalize",
]
