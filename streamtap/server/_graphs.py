"""One face for the two kinds of graph the server runs: ``streamtap.graph`` and LangGraph.

Both stream with the same ``astream(input, config, stream_mode=[...], subgraphs=...)``
call; they differ only in their ``Command``/``Send`` classes, how a checkpointer is
attached to an already compiled graph, and which saver an in-memory default is.
LangGraph is imported only when a LangGraph graph is served.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from streamtap.graph.checkpoint.serde import harden, types_in_schemas
from streamtap.server._schema import CommandSpec

__all__ = ["GraphEntry", "assistant_uuid"]

_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_uuid(graph_id: str) -> str:
    """A stable assistant id per graph name, as the Platform derives its default assistants."""
    return str(uuid.uuid5(_ASSISTANT_NAMESPACE, graph_id))


def _schema_types(graph: Any) -> set[type]:
    """The classes a served graph's schemas name (LangGraph's graphs keep them on the builder)."""
    own = getattr(graph, "checkpoint_types", None)
    if own is not None:
        return set(own)
    builder = getattr(graph, "builder", None)
    names = ("state_schema", "input_schema", "output_schema", "context_schema")
    return types_in_schemas(*(getattr(builder, n, None) for n in names))


def _is_langgraph(graph: Any) -> bool:
    return type(graph).__module__.startswith("langgraph.")


class GraphEntry:
    """A served graph: a name, its stateful and stateless variants, and its value types."""

    def __init__(self, graph_id: str, graph: Any, checkpointer: Any | None) -> None:
        if not callable(getattr(graph, "astream", None)):
            raise TypeError(
                f"graph {graph_id!r} is a {type(graph).__name__}, not a compiled graph: "
                "pass builder.compile() (streamtap.graph or LangGraph)"
            )
        self.graph_id = graph_id
        self.assistant_id = assistant_uuid(graph_id)
        self.langgraph = _is_langgraph(graph)
        saver = checkpointer if checkpointer is not None else self._own_saver(graph)
        if not getattr(graph, "trust_checkpoints", False):
            # GET /threads/{id}/state must not run what a tampered store names
            harden(saver, allow=_schema_types(graph))
        self.stateful = self._with_saver(graph, saver)
        self.stateless = self._with_saver(graph, None)

    def _own_saver(self, graph: Any) -> Any:
        own = getattr(graph, "checkpointer", None)
        if own not in (None, False, True):
            return own
        if self.langgraph:
            from langgraph.checkpoint.memory import InMemorySaver as LangGraphSaver

            return LangGraphSaver()
        from streamtap.graph import InMemorySaver

        return InMemorySaver()

    def _with_saver(self, graph: Any, saver: Any | None) -> Any:
        if self.langgraph:
            return graph.copy(update={"checkpointer": saver})
        bound = copy.copy(graph)
        bound.checkpointer = saver
        return bound

    @property
    def saver(self) -> Any:
        return self.stateful.checkpointer

    def command(self, spec: CommandSpec) -> Any:
        """The graph library's ``Command`` for a request's ``command`` object."""
        if self.langgraph:
            from langgraph.types import Command, Send
        else:
            from streamtap.graph import Command, Send  # type: ignore[assignment]
        goto_items = spec.goto if isinstance(spec.goto, list) else [spec.goto] if spec.goto else []
        goto = [g if isinstance(g, str) else Send(g.node, g.input) for g in goto_items]
        update = spec.update
        if isinstance(update, list) and all(
            isinstance(t, list) and len(t) == 2 and isinstance(t[0], str) for t in update
        ):
            update = [tuple(t) for t in update]
        return Command(update=update, resume=spec.resume, goto=goto)

    async def state(self, thread_id: str, *, subgraphs: bool = False) -> dict[str, Any]:
        """The thread's latest state in the Platform's ``ThreadState`` shape."""
        snap = await self.stateful.aget_state(
            {"configurable": {"thread_id": thread_id}}, subgraphs=subgraphs
        )
        return _snapshot_json(snap)

    def delete_thread(self, thread_id: str) -> None:
        delete = getattr(self.saver, "delete_thread", None)
        if callable(delete):
            delete(thread_id)


def _checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable") or {}
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def _snapshot_json(snap: Any) -> dict[str, Any]:
    tasks = []
    for task in snap.tasks:
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "error": repr(task.error) if task.error is not None else None,
                "interrupts": list(task.interrupts),
                "checkpoint": _checkpoint(state) if isinstance(state, Mapping) else None,
                "state": _snapshot_json(state) if hasattr(state, "tasks") else None,
                "result": getattr(task, "result", None),
            }
        )
    return {
        "values": snap.values,
        "next": list(snap.next),
        "checkpoint": _checkpoint(snap.config),
        "metadata": snap.metadata,
        "created_at": snap.created_at,
        "parent_checkpoint": _checkpoint(snap.parent_config),
        "tasks": tasks,
        "interrupts": list(getattr(snap, "interrupts", ())),
    }
