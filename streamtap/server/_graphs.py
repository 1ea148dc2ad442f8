"""One face for the two kinds of graph the server runs: ``streamtap.graph`` and LangGraph.

Both stream with the same ``astream(input, config, stream_mode=[...], subgraphs=...)``
call; they differ only in their ``Command``/``Send`` classes, how a checkpointer is
attached to an already compiled graph, and which saver an in-memory default is.
LangGraph is imported only when a LangGraph graph is served.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streamtap._secrets import redact_secrets
from streamtap.graph.checkpoint.serde import harden, types_in_schemas
from streamtap.server._records import RunRecord
from streamtap.server._schema import CommandSpec, RunRequest

__all__ = ["GraphEntry", "assistant_uuid", "attach_transformers"]

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

    def __init__(
        self, graph_id: str, graph: Any, checkpointer: Any | None, store: Any | None = None
    ) -> None:
        if not callable(getattr(graph, "astream", None)):
            raise TypeError(
                f"graph {graph_id!r} is a {type(graph).__name__}, not a compiled graph: "
                "pass builder.compile() (streamtap.graph or LangGraph)"
            )
        self.graph_id = graph_id
        self.assistant_id = assistant_uuid(graph_id)
        self.langgraph = _is_langgraph(graph)
        self._graph = graph
        #: the graph's own protocol transformers (``create_app(stream_transformers=)``)
        self.stream_transformers: Callable[[], Sequence[Any]] | None = None
        self.bind(checkpointer, store)

    def bind(self, checkpointer: Any | None, store: Any | None) -> None:
        """Serve with the app's ``checkpointer`` and ``store`` (``None``: the graph's own, or
        one in memory). Called again at start-up with savers that need the running event
        loop to be made (LangGraph's Postgres ones); a graph compiled with its own store
        keeps it."""
        graph = self._graph
        saver = checkpointer if checkpointer is not None else self._own_saver(graph)
        if not getattr(graph, "trust_checkpoints", False):
            # GET /threads/{id}/state must not run what a tampered store names
            harden(saver, allow=_schema_types(graph))
        # the app's store, unless the graph was compiled with its own (the Platform's rule)
        self.store = getattr(graph, "store", None) or store
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
            return graph.copy(update={"checkpointer": saver, "store": self.store})
        bound = copy.copy(graph)
        bound.checkpointer = saver
        bound.store = self.store
        return bound

    def new_run(self, req: RunRequest, thread_id: str | None) -> RunRecord:
        """The record of a run of this graph that ``req`` asks for (``thread_id`` ``None``:
        stateless, on a thread of its own that is never stored)."""
        return RunRecord(
            run_id=str(uuid.uuid4()),
            thread_id=thread_id or str(uuid.uuid4()),
            assistant_id=self.assistant_id,
            graph_id=self.graph_id,
            stateless=thread_id is None,
            stream_resumable=req.stream_resumable,
            on_disconnect=req.on_disconnect,
            metadata=dict(req.metadata or {}),
        )

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

    async def state(
        self, thread_id: str, *, subgraphs: bool = False, secrets: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The thread's latest state in the Platform's ``ThreadState`` shape."""
        snap = await self.stateful.aget_state(
            {"configurable": {"thread_id": thread_id}}, subgraphs=subgraphs
        )
        return _snapshot_json(snap, secrets)

    async def state_at(
        self,
        thread_id: str,
        checkpoint: Mapping[str, Any],
        *,
        subgraphs: bool,
        secrets: Sequence[str],
    ) -> dict[str, Any]:
        """The thread's state at ``checkpoint`` (an id, maybe a namespace and map)."""
        conf = {k: v for k, v in checkpoint.items() if v is not None}
        conf["thread_id"] = thread_id
        snap = await self.stateful.aget_state({"configurable": conf}, subgraphs=subgraphs)
        return _snapshot_json(snap, secrets)

    async def update_state(
        self,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None,
        checkpoint: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """``update_state`` on the thread (at ``checkpoint``, if given): the new checkpoint."""
        conf = {k: v for k, v in (checkpoint or {}).items() if v is not None}
        conf["thread_id"] = thread_id
        new = await self.stateful.aupdate_state({"configurable": conf}, values, as_node=as_node)
        return _checkpoint(new)

    async def copy_thread(self, source: str, target: str) -> None:
        """Every checkpoint and pending write of ``source`` (all namespaces) under ``target``:
        the saver's own copy where it has one, else replayed oldest first."""
        saver = self.saver
        try:
            await saver.acopy_thread(source, target)
            return
        except NotImplementedError:
            pass
        saved = [t async for t in saver.alist({"configurable": {"thread_id": source}})]
        for item in reversed(saved):  # newest first from the saver: parents before children
            conf = item.config["configurable"]
            parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            at = {"thread_id": target, "checkpoint_ns": conf.get("checkpoint_ns", "")}
            if parent:
                at["checkpoint_id"] = parent
            stored = await saver.aput(
                {"configurable": at},
                item.checkpoint,
                item.metadata,
                dict(item.checkpoint["channel_versions"]),
            )
            by_task: dict[str, list[tuple[str, Any]]] = {}
            for task_id, channel, value in item.pending_writes or ():
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                await saver.aput_writes(stored, writes, task_id)

    async def roll_back(
        self, thread_id: str, run_ids: Sequence[str], *, fork: bool = False
    ) -> str | None:
        """Undo ``run_ids`` on the thread for the next run: the checkpoint they started from,
        to start it there (``fork``: copied as the thread's head at once, for a cancel with
        ``action=rollback``). A thread they began is emptied (all it holds is theirs)."""
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        found, start = False, None
        async for snap in self.stateful.aget_state_history(config):
            if snap.metadata.get("run_id") in run_ids:
                parent = snap.parent_config or {}
                found, start = True, (parent.get("configurable") or {}).get("checkpoint_id")
        if found and start is None:
            await self.saver.adelete_thread(thread_id)
        elif found and fork:
            at = {"configurable": {"thread_id": thread_id, "checkpoint_id": start}}
            await self.stateful.aupdate_state(at, None, as_node="__copy__")
        return start

    async def history(
        self,
        thread_id: str,
        *,
        limit: int,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint: Mapping[str, Any] | None = None,
        secrets: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The thread's states, newest first (the Platform's ``/history``): ``checkpoint``
        names a subgraph's namespace (or a checkpoint to start from), ``before`` a
        checkpoint id the states must precede, ``metadata`` what they must carry."""
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        conf.update({k: v for k, v in (checkpoint or {}).items() if v is not None})
        conf["thread_id"] = thread_id
        config = {"configurable": conf}
        before_config = {"configurable": {"checkpoint_id": before}} if before else None
        found = []
        async for snap in self.stateful.aget_state_history(
            config, limit=limit, before=before_config, filter=dict(metadata or {}) or None
        ):
            found.append(_snapshot_json(snap, secrets))
        return found

    async def delete_thread(self, thread_id: str) -> None:
        """Forget the thread's checkpoints, through the saver's async method when it has
        one: an async-only saver (LangGraph's ``AsyncPostgresSaver``) refuses its sync
        methods on the event loop's thread."""
        adelete = getattr(self.saver, "adelete_thread", None)
        if callable(adelete):
            await adelete(thread_id)
            return
        delete = getattr(self.saver, "delete_thread", None)
        if callable(delete):
            delete(thread_id)


def _checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Platform's ``Checkpoint`` of a snapshot's config (``None`` without an id)."""
    conf = (config or {}).get("configurable") or {}
    if not conf.get("thread_id") or not conf.get("checkpoint_id"):
        return None
    out = {"checkpoint_id": conf["checkpoint_id"], "thread_id": conf["thread_id"]}
    if "checkpoint_ns" in conf:
        out["checkpoint_ns"] = conf["checkpoint_ns"] or ""
    if "checkpoint_map" in conf:
        out["checkpoint_map"] = conf["checkpoint_map"]
    return out


def _error_text(error: Any, secrets: Sequence[str]) -> str | None:
    """A task's error as the client sees it: masked (a node's error can echo a key)."""
    if error is None:
        return None
    return redact_secrets(repr(error) if isinstance(error, BaseException) else str(error), *secrets)


def _snapshot_json(snap: Any, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """LangGraph Platform's ``ThreadState`` of a snapshot (langgraph-api's field for field,
    the deprecated ``checkpoint_id`` / ``parent_checkpoint_id`` included)."""
    tasks = []
    for task in snap.tasks:
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path) if getattr(task, "path", None) is not None else None,
                "error": _error_text(task.error, secrets),
                "interrupts": list(task.interrupts),
                "checkpoint": state.get("configurable") if isinstance(state, Mapping) else None,
                "state": _snapshot_json(state, secrets) if hasattr(state, "tasks") else None,
                "result": getattr(task, "result", None),
            }
        )
    config, parent = snap.config or {}, snap.parent_config or {}
    return {
        "values": snap.values,
        "next": list(snap.next),
        "tasks": tasks,
        "metadata": snap.metadata,
        "created_at": snap.created_at,
        "checkpoint": _checkpoint(config),
        "parent_checkpoint": _checkpoint(parent),
        "interrupts": list(getattr(snap, "interrupts", ())),
        "checkpoint_id": (config.get("configurable") or {}).get("checkpoint_id"),
        "parent_checkpoint_id": (parent.get("configurable") or {}).get("checkpoint_id"),
    }


def attach_transformers(
    entries: Mapping[str, GraphEntry], transformers: Mapping[str, Callable[[], Sequence[Any]]]
) -> None:
    """``create_app(stream_transformers=)``: each graph's own protocol transformers."""
    for name, factory in transformers.items():
        if name not in entries:
            raise ValueError(f"stream_transformers names {name!r}, which is not a served graph")
        if not callable(factory):
            raise ValueError(
                f"stream_transformers[{name!r}] must be a callable returning a list of "
                "StreamTransformer classes or instances (def stream_transformers(): return [...])"
            )
        entries[name].stream_transformers = factory
