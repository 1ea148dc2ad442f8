"""Amazon Bedrock's Converse stream: the event fold (``_events``), requests (``_request``),
botocore's errors (``_errors``) and the model (``_model``).

``_events`` (the pure fold and ``WIRE``) and the exception translators load with the
package, so ``streamtap.providers._wires`` can import ``WIRE`` eagerly at little cost and
without an import cycle through the chat-model base; the model loads on first use. No SDK
is imported here: the translators import botocore only when handed its exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamtap.errors import register_sdk_errors
from streamtap.providers.bedrock._errors import translate_botocore, translate_transport
from streamtap.providers.bedrock._events import WIRE, ConverseMapper

if TYPE_CHECKING:
    from streamtap.providers.bedrock._model import BedrockChatModel
    from streamtap.providers.bedrock._request import to_converse_messages

register_sdk_errors("botocore", translate_botocore)
register_sdk_errors("aiobotocore", translate_botocore)  # AioReadTimeoutError lives there
register_sdk_errors("urllib3", translate_transport)  # a body cut mid-read, under boto3
register_sdk_errors("aiohttp", translate_transport)  # the same under aiobotocore

__all__ = ["WIRE", "BedrockChatModel", "ConverseMapper", "to_converse_messages"]

_LAZY = {
    "BedrockChatModel": "streamtap.providers.bedrock._model",
    "to_converse_messages": "streamtap.providers.bedrock._request",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
