"""The typing names of ``langgraph.types``: v2 stream parts, their payloads, and the aliases.

Only types: annotations written against ``langgraph.types`` (``StreamPart[State, Output]``,
``Durability``, ``Checkpointer``) port by importing them from ``streamtap.graph`` (not
``streamtap.graph.types``: these name ``Interrupt`` and ``StateSnapshot``, so they sit
above that module). The shapes are the ones
``stream(..., version="v2")`` yields and the ``tasks`` / ``checkpoints`` / ``debug`` modes
carry; ``part["type"]`` narrows the union.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, NotRequired, TypeVar

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata
from typing_extensions import TypeAliasType, TypedDict

from streamtap.graph.types import Interrupt, StateSnapshot

__all__ = [
    "All",
    "CheckpointPayload",
    "CheckpointStreamPart",
    "CheckpointTask",
    "Checkpointer",
    "CustomStreamPart",
    "DebugPayload",
    "DebugStreamPart",
    "Durability",
    "MessagesStreamPart",
    "StreamMode",
    "StreamPart",
    "TaskPayload",
    "TaskResultPayload",
    "TasksStreamPart",
    "UpdatesStreamPart",
    "ValuesStreamPart",
    "ensure_valid_checkpointer",
]

# TypeVars of their own, without defaults (LangGraph's: defaults trouble type checkers in
# standalone aliases)
StateT = TypeVar("StateT")
OutputT = TypeVar("OutputT")

StreamMode = Literal["values", "updates", "checkpoints", "tasks", "debug", "messages", "custom"]
"""What ``stream(stream_mode=...)`` takes (one, or a list)."""

Durability = Literal["sync", "async", "exit"]
"""When checkpoints are saved: before the next step (``sync``), while it runs (``async``),
or only when the run ends (``exit``)."""

All = Literal["*"]
"""``interrupt_before="*"`` / ``interrupt_after="*"``: every node."""

Checkpointer = None | bool | BaseCheckpointSaver[Any]
"""A subgraph's checkpointer: ``None`` inherits the parent's, ``True`` keeps its own
history, ``False`` keeps none."""


def ensure_valid_checkpointer(checkpointer: Checkpointer) -> Checkpointer:
    """``checkpointer`` if it is a ``Checkpointer``, else LangGraph's ``TypeError``."""
    if checkpointer not in (None, True, False) and not isinstance(
        checkpointer, BaseCheckpointSaver
    ):
        raise TypeError(
            "Invalid checkpointer provided. Expected an instance of "
            "`BaseCheckpointSaver`, `True`, `False`, or `None`. "
            f"Received {type(checkpointer).__name__!s}. "
            "Pass a proper saver (e.g., InMemorySaver, AsyncPostgresSaver)."
        )
    return checkpointer


class TaskPayload(TypedDict):
    """A task starting (``tasks`` mode)."""

    id: str
    name: str
    input: Any
    triggers: list[str]
    metadata: NotRequired[dict[str, Any]]


class TaskResultPayload(TypedDict):
    """A task finished (``tasks`` mode): its error, interrupts and writes."""

    id: str
    name: str
    error: str | None
    interrupts: list[dict[str, Any]]
    result: dict[str, Any]


class CheckpointTask(TypedDict):
    """A task of a ``CheckpointPayload``; which keys are present depends on its state."""

    id: str
    name: str
    error: NotRequired[str]
    result: NotRequired[Any]
    interrupts: NotRequired[list[dict[str, Any]]]
    state: StateSnapshot | RunnableConfig | None


class CheckpointPayload(TypedDict, Generic[StateT]):
    """A checkpoint saved (``checkpoints`` mode)."""

    config: RunnableConfig | None
    metadata: CheckpointMetadata
    values: StateT
    next: list[str]
    parent_config: RunnableConfig | None
    tasks: list[CheckpointTask]


class _DebugCheckpointPayload(TypedDict, Generic[StateT]):
    step: int
    timestamp: str
    type: Literal["checkpoint"]
    payload: CheckpointPayload[StateT]


class _DebugTaskPayload(TypedDict):
    step: int
    timestamp: str
    type: Literal["task"]
    payload: TaskPayload


class _DebugTaskResultPayload(TypedDict):
    step: int
    timestamp: str
    type: Literal["task_result"]
    payload: TaskResultPayload


DebugPayload = TypeAliasType(
    "DebugPayload",
    _DebugCheckpointPayload[StateT] | _DebugTaskPayload | _DebugTaskResultPayload,
    type_params=(StateT,),
)
"""A ``debug`` event: a checkpoint or task event with its step and time; ``type`` tells which."""


class ValuesStreamPart(TypedDict, Generic[OutputT]):
    type: Literal["values"]
    ns: tuple[str, ...]
    data: OutputT
    interrupts: tuple[Interrupt, ...]


class UpdatesStreamPart(TypedDict):
    type: Literal["updates"]
    ns: tuple[str, ...]
    data: dict[str, Any]


class MessagesStreamPart(TypedDict):
    type: Literal["messages"]
    ns: tuple[str, ...]
    data: tuple[AnyMessage, dict[str, Any]]


class CustomStreamPart(TypedDict):
    type: Literal["custom"]
    ns: tuple[str, ...]
    data: Any


class CheckpointStreamPart(TypedDict, Generic[StateT]):
    type: Literal["checkpoints"]
    ns: tuple[str, ...]
    data: CheckpointPayload[StateT]


class TasksStreamPart(TypedDict):
    type: Literal["tasks"]
    ns: tuple[str, ...]
    data: TaskPayload | TaskResultPayload


class DebugStreamPart(TypedDict, Generic[StateT]):
    type: Literal["debug"]
    ns: tuple[str, ...]
    data: DebugPayload[StateT]


StreamPart = TypeAliasType(
    "StreamPart",
    ValuesStreamPart[OutputT]
    | UpdatesStreamPart
    | MessagesStreamPart
    | CustomStreamPart
    | CheckpointStreamPart[StateT]
    | TasksStreamPart
    | DebugStreamPart[StateT],
    type_params=(StateT, OutputT),
)
"""One part of ``stream(..., version="v2")``: a dict whose ``type`` is its stream mode."""
