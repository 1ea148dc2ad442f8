"""streamtap.graph: a small, LangGraph-compatible graph runtime built for streaming.

``from streamtap.graph import StateGraph, START, END, ...`` is a drop-in for the
matching ``langgraph`` imports on the streaming surface: same stream modes,
shapes, metadata, interrupts and checkpoint events.
"""

from streamtap.graph._constants import END, START
from streamtap.graph._runtime import get_config, get_stream_writer, interrupt
from streamtap.graph.checkpoint import (
    AsyncSqliteSaver,
    BaseCheckpointSaver,
    InMemorySaver,
    MemorySaver,
    SqliteSaver,
    UnsafeCheckpointError,
)
from streamtap.graph.compiled import CompiledStateGraph
from streamtap.graph.errors import (
    EmptyInputError,
    GraphBubbleUp,
    GraphDrained,
    GraphInterrupt,
    GraphRecursionError,
    InvalidUpdateError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    StreamThreadError,
)
from streamtap.graph.managed import IsLastStep, RemainingSteps
from streamtap.graph.message import (
    REMOVE_ALL_MESSAGES,
    MessageGraph,
    MessagesState,
    add_messages,
    push_message,
)
from streamtap.graph.runtime import (
    DEFAULT_RUNTIME,
    ExecutionInfo,
    RunControl,
    Runtime,
    ServerInfo,
    get_runtime,
    get_store,
)
from streamtap.graph.state import StateGraph
from streamtap.graph.types import (
    CachePolicy,
    Command,
    GraphOutput,
    Interrupt,
    Overwrite,
    PregelTask,
    RetryPolicy,
    Send,
    StateSnapshot,
    StreamWriter,
    TimeoutPolicy,
)

__all__ = [
    "DEFAULT_RUNTIME",
    "END",
    "REMOVE_ALL_MESSAGES",
    "START",
    "AsyncSqliteSaver",
    "BaseCheckpointSaver",
    "CachePolicy",
    "Command",
    "CompiledStateGraph",
    "EmptyInputError",
    "ExecutionInfo",
    "GraphBubbleUp",
    "GraphDrained",
    "GraphInterrupt",
    "GraphOutput",
    "GraphRecursionError",
    "InMemorySaver",
    "Interrupt",
    "InvalidUpdateError",
    "IsLastStep",
    "MemorySaver",
    "MessageGraph",
    "MessagesState",
    "NodeCancelledError",
    "NodeError",
    "NodeTimeoutError",
    "Overwrite",
    "PregelTask",
    "RemainingSteps",
    "RetryPolicy",
    "RunControl",
    "Runtime",
    "Send",
    "ServerInfo",
    "SqliteSaver",
    "StateGraph",
    "StateSnapshot",
    "StreamThreadError",
    "StreamWriter",
    "TimeoutPolicy",
    "UnsafeCheckpointError",
    "add_messages",
    "get_config",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "interrupt",
    "push_message",
]
