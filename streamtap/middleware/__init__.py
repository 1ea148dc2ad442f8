"""streamtap.middleware: callback handlers that feed graph stream modes."""

from streamtap.middleware._events import TokenEvents
from streamtap.middleware._messages import StreamMessagesHandler
from streamtap.middleware._tokens import AsyncTokenStream, TokenStream, astream_tokens, stream_tokens

__all__ = [
    "AsyncTokenStream",
    "StreamMessagesHandler",
    "TokenEvents",
    "TokenStream",
    "astream_tokens",
    "stream_tokens",
]
