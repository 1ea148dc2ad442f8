"""Graph persistence is LangGraph's own: its saver interface, savers and checkpoint format.

Threads therefore move between LangGraph and ``streamtap.graph`` on one saver,
and users keep the stores they already run (``langgraph-checkpoint-sqlite``,
``-postgres``). Only the SQLite saver gets a thin wrapper, so that
``SqliteSaver("graph.sqlite")`` keeps meaning a file.
"""

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from streamtap.graph.checkpoint.serde import StrictSerializer, UnsafeCheckpointError, harden
from streamtap.graph.checkpoint.sqlite import AsyncSqliteSaver, SqliteSaver

#: LangGraph's older name for ``InMemorySaver``, still exported by ``langgraph.checkpoint.memory``
MemorySaver = InMemorySaver

__all__ = [
    "AsyncSqliteSaver",
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointTuple",
    "InMemorySaver",
    "MemorySaver",
    "SqliteSaver",
    "StrictSerializer",
    "UnsafeCheckpointError",
    "harden",
]
