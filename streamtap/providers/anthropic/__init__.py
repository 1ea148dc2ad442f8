"""Anthropic Messages: the event fold (``_events``), requests (``_request``), the model,
and Claude on AWS Bedrock / Google Vertex AI over the same wire (``_clouds``)."""

from streamtap.providers.anthropic._clouds import AnthropicBedrockModel, AnthropicVertexModel
from streamtap.providers.anthropic._events import WIRE, MessagesMapper
from streamtap.providers.anthropic._model import AnthropicChatModel
from streamtap.providers.anthropic._request import to_anthropic_messages

__all__ = [
    "WIRE",
    "AnthropicBedrockModel",
    "AnthropicChatModel",
    "AnthropicVertexModel",
    "MessagesMapper",
    "to_anthropic_messages",
]
