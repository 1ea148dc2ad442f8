"""streamtap.middleware: callback handlers that feed graph stream modes."""

from streamtap.middleware._events import TokenEvents
from streamtap.middleware._messages import StreamMessagesHandler
from streamtap.middleware._resilient import ResilientChatModel, resilient
from streamtap.middleware._retry import RetryPolicy
from streamtap.middleware._tokens import (
    AsyncTokenStream,
    TokenStream,
    astream_tokens,
    stream_tokens,
)
from streamtap.middleware._transforms import (
    Transform,
    TransformedChatModel,
    coalesce,
    compose,
    on_chunk,
    redact,
    with_transforms,
)

__all__ = [
    "AsyncTokenStream",
    "ResilientChatModel",
    "RetryPolicy",
    "StreamMessagesHandler",
    "TokenEvents",
    "TokenStream",
    "Transform",
    "TransformedChatModel",
    "astream_tokens",
    "coalesce",
    "compose",
    "on_chunk",
    "redact",
    "resilient",
    "stream_tokens",
    "with_transforms",
]
