"""streamtap.resilience: retries, fallbacks, timeouts and recovery after the first token.

A layer over the chat models of ``streamtap.providers`` (and any model that
implements the chunk-source seam): it decides what to do when a stream fails and
leaves the streaming itself to the model. ``streamtap.resilient`` and
``streamtap.RetryPolicy`` are the same objects, at the top level.
"""

from streamtap.providers import ChunkSource, ChunkStream, ContinuableSource
from streamtap.resilience._resilient import ResilientChatModel, resilient
from streamtap.resilience._retry import RetryPolicy

__all__ = [
    "ChunkSource",
    "ChunkStream",
    "ContinuableSource",
    "ResilientChatModel",
    "RetryPolicy",
    "resilient",
]
