"""Checkpointers: where paused and finished runs keep their state."""

from streamtap.graph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple
from streamtap.graph.checkpoint.memory import InMemorySaver
from streamtap.graph.checkpoint.sqlite import SqliteSaver

__all__ = ["BaseCheckpointSaver", "Checkpoint", "CheckpointTuple", "InMemorySaver", "SqliteSaver"]
