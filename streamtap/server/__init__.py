"""streamtap.server: serve graphs over LangGraph Platform's run-stream API, with a chat page.

``create_app({"agent": graph})`` returns an ASGI app (Starlette) that the official
``langgraph-sdk`` client and existing LangGraph frontends talk to unchanged:
SSE and WebSocket run streams, resumable with ``Last-Event-ID``, threads with
checkpointed state and interrupts, and cancellation that closes the model stream.
Needs the ``server`` extra (``pip install streamtap[server]``); the Redis backend
needs the ``redis`` extra, the Postgres one ``postgres`` and ``redis``.
"""

from streamtap.server._records import RunRecord, StreamEvent, ThreadRecord
from streamtap.server.app import create_app
from streamtap.server.backend import MemoryBackend, RunBackend

__all__ = [
    "MemoryBackend",
    "PostgresBackend",
    "RedisBackend",
    "RunBackend",
    "RunRecord",
    "StreamEvent",
    "ThreadRecord",
    "create_app",
]


def __getattr__(name: str) -> object:
    if name == "RedisBackend":  # imported lazily: needs the redis extra
        from streamtap.server.redis import RedisBackend

        return RedisBackend
    if name == "PostgresBackend":  # likewise: needs the postgres and redis extras
        from streamtap.server.postgres import PostgresBackend

        return PostgresBackend
    raise AttributeError(f"module 'streamtap.server' has no attribute {name!r}")
