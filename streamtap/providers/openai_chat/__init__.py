"""OpenAI Chat Completions: the event fold (``_events``), requests (``_request``), the model."""

from streamtap.providers.openai_chat._events import WIRE, ChatCompletionsMapper
from streamtap.providers.openai_chat._model import OpenAIChatModel
from streamtap.providers.openai_chat._request import to_chat_messages

__all__ = ["WIRE", "ChatCompletionsMapper", "OpenAIChatModel", "to_chat_messages"]
