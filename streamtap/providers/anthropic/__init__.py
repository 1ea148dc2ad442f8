"""Anthropic Messages: the event fold (``_events``), requests (``_request``), the model."""

from streamtap.providers.anthropic._events import WIRE, MessagesMapper
from streamtap.providers.anthropic._model import AnthropicChatModel
from streamtap.providers.anthropic._request import to_anthropic_messages

__all__ = ["WIRE", "AnthropicChatModel", "MessagesMapper", "to_anthropic_messages"]
