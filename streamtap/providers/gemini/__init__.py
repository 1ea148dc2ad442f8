"""Gemini / Vertex AI: the event fold (``_events``), requests (``_request``), the models.

``_events`` (the pure fold and ``WIRE``) and the exception translator load with the
package, so ``streamtap.providers._wires`` can import ``WIRE`` eagerly at little cost;
the chat models load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamtap.providers.gemini import _errors  # registers the google exception translator
from streamtap.providers.gemini._events import WIRE, GeminiMapper

if TYPE_CHECKING:
    from streamtap.providers.gemini._model import GeminiChatModel, VertexChatModel
    from streamtap.providers.gemini._request import to_gemini_contents

del _errors

__all__ = ["WIRE", "GeminiChatModel", "GeminiMapper", "VertexChatModel", "to_gemini_contents"]

_LAZY = {
    "GeminiChatModel": "streamtap.providers.gemini._model",
    "VertexChatModel": "streamtap.providers.gemini._model",
    "to_gemini_contents": "streamtap.providers.gemini._request",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
