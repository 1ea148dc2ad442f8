"""Gemini / Vertex AI: the event fold (``_events``), requests (``_request``), the models."""

from streamtap.providers.gemini import _errors  # registers the google exception translator
from streamtap.providers.gemini._events import WIRE, GeminiMapper
from streamtap.providers.gemini._model import GeminiChatModel, VertexChatModel
from streamtap.providers.gemini._request import to_gemini_contents

del _errors

__all__ = ["WIRE", "GeminiChatModel", "GeminiMapper", "VertexChatModel", "to_gemini_contents"]
