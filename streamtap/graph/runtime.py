"""What a node may ask for besides its state: LangGraph's ``Runtime`` and ``get_runtime``.

A node that declares ``runtime: Runtime[Ctx]`` gets the run's ``context`` (the value
passed as ``invoke(..., context=...)``, coerced to ``context_schema``), the graph's
``store``, the task's ``stream_writer`` and ``execution_info``. The classes and their
fields are LangGraph 1.x's, so code that builds or patches a runtime ports unchanged.

The runtime of a running task sits in its config under LangGraph's key
(``__pregel_runtime``): LangGraph's own helpers (``langgraph.prebuilt``'s ``ToolNode``)
read it there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from streamtap.graph._constants import CONF
from streamtap.graph._runtime import get_config
from streamtap.graph.types import StreamWriter

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

__all__ = ["ExecutionInfo", "RunControl", "Runtime", "ServerInfo", "get_runtime", "get_store"]

#: where a task's runtime sits in its config (LangGraph's ``CONFIG_KEY_RUNTIME``)
KEY_RUNTIME = "__pregel_runtime"

ContextT = TypeVar("ContextT")


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Read-only facts about the task running now (LangGraph's)."""

    checkpoint_id: str
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None

    def patch(self, **overrides: Any) -> ExecutionInfo:
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who runs the graph on a server: from ``assistant_id`` / ``graph_id`` /
    ``langgraph_auth_user`` in the config, as LangGraph's server puts them there."""

    assistant_id: str
    graph_id: str
    user: Any = None


class RunControl:
    """Asks a run to stop at the next step boundary (a graceful shutdown).

    The run saves its checkpoint and raises ``GraphDrained``; invoking the thread again
    continues where it stopped. One attribute write, so it is safe from any thread.
    """

    __slots__ = ("_drain_reason",)

    def __init__(self) -> None:
        self._drain_reason: str | None = None

    def request_drain(self, reason: str = "shutdown") -> None:
        self._drain_reason = reason

    @property
    def drain_requested(self) -> bool:
        return self._drain_reason is not None

    @property
    def drain_reason(self) -> str | None:
        return self._drain_reason


def _no_op_stream_writer(_: Any) -> None:
    return None


def _no_op_heartbeat() -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime(Generic[ContextT]):
    """The run-scoped things a node can use (LangGraph's ``langgraph.runtime.Runtime``)."""

    context: ContextT = field(default=None)  # type: ignore[assignment]
    store: BaseStore | None = field(default=None)
    stream_writer: StreamWriter = field(default=_no_op_stream_writer)
    #: progress for idle timeouts; a no-op here (streamtap has no idle timeout)
    heartbeat: Callable[[], None] = field(default=_no_op_heartbeat)
    #: the previous return value of an ``@entrypoint`` on this thread
    previous: Any = field(default=None)
    execution_info: ExecutionInfo | None = field(default=None)
    server_info: ServerInfo | None = field(default=None)
    control: RunControl | None = field(default=None)

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """``other``'s values where it has them, else this runtime's (LangGraph's rule)."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not _no_op_stream_writer
            else self.stream_writer,
            heartbeat=other.heartbeat
            if other.heartbeat is not _no_op_heartbeat
            else self.heartbeat,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
            control=other.control or self.control,
        )

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        return replace(self, **overrides)

    def patch_execution_info(self, **overrides: Any) -> Runtime[ContextT]:
        if self.execution_info is None:
            raise RuntimeError("Cannot patch execution_info before it has been set")
        return replace(self, execution_info=self.execution_info.patch(**overrides))

    @property
    def drain_requested(self) -> bool:
        return self.control.drain_requested if self.control is not None else False

    @property
    def drain_reason(self) -> str | None:
        return self.control.drain_reason if self.control is not None else None


DEFAULT_RUNTIME: Runtime[Any] = Runtime()


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """The runtime of the task running now (``context_schema`` only types the result)."""
    return cast(Runtime[ContextT], get_config()[CONF].get(KEY_RUNTIME))


def get_store() -> BaseStore | None:
    """The graph's store, from inside a node (LangGraph's ``langgraph.config.get_store``)."""
    runtime = get_config()[CONF].get(KEY_RUNTIME)
    return runtime.store if runtime is not None else None


def run_runtime(
    config: RunnableConfig,
    *,
    context_schema: type[Any] | None,
    context: Any,
    store: BaseStore | None,
    control: RunControl | None,
) -> Runtime[Any]:
    """The runtime a graph run starts with: the caller's (a parent graph's) merged with this
    run's context, store and control, as LangGraph builds it."""
    conf = config.get(CONF) or {}
    if KEY_RUNTIME in conf:
        # a graph run inside another (a subgraph) uses the caller's store, as LangGraph does
        store = getattr(conf[KEY_RUNTIME], "store", None)
    parent = conf.get(KEY_RUNTIME, DEFAULT_RUNTIME)
    if not isinstance(parent, Runtime):
        # something outside a run (a server's graph factory) seeded it: adopt its context
        parent = Runtime(context=getattr(parent, "context", None))
    own: Runtime[Any] = Runtime(
        context=coerce_context(context_schema, context),
        store=store,
        server_info=_server_info(conf),
        control=control or parent.control or RunControl(),
    )
    return parent.merge(own)


def coerce_context(context_schema: type[Any] | None, context: Any) -> Any:
    """A dict becomes the dataclass / pydantic ``context_schema`` (validated); else as given."""
    if context is None or context_schema is None:
        return context
    is_class = isinstance(context_schema, type) and (
        issubclass(context_schema, BaseModel) or dataclasses.is_dataclass(context_schema)
    )
    if isinstance(context, dict) and is_class:
        return context_schema(**context)
    return context


def _server_info(conf: dict[str, Any]) -> ServerInfo | None:
    assistant_id, graph_id = conf.get("assistant_id"), conf.get("graph_id")
    user = conf.get("langgraph_auth_user")
    if user is not None and not hasattr(user, "identity"):
        user = None
    if assistant_id is None and graph_id is None and user is None:
        return None
    return ServerInfo(
        assistant_id=str(assistant_id) if assistant_id else "",
        graph_id=str(graph_id) if graph_id else "",
        user=user,
    )
