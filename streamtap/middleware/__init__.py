"""streamtap.middleware: tokens from anything into a graph's stream modes, and chunk transforms.

The ``messages`` handler, ``stream_tokens`` / ``TokenEvents`` (any token source
as a chat-model run) and transforms. Retries, fallbacks and recovery moved to
``streamtap.resilience``.
"""

from streamtap.middleware._events import TokenEvents
from streamtap.middleware._messages import StreamMessagesHandler
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
    stop_at,
    with_transforms,
)

__all__ = [
    "AsyncTokenStream",
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
    "stop_at",
    "stream_tokens",
    "with_transforms",
]
