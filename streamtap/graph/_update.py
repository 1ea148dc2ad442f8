"""``update_state``: a superstep written by hand, saved as LangGraph's ``bulk_update_state``
saves it, so the checkpoint it makes reads the same to both engines.

Each update runs the writers of the node it is written ``as_node`` (its state
keys, edges and routers, the routers reading the state with the update
applied), then the writes are folded into the channels like a step's. Three
``as_node`` values are special, as in LangGraph: ``END`` with no values ends the
pending step (its finished tasks' writes applied, the rest dropped);
``"__input__"`` writes a new input checkpoint; ``"__copy__"`` forks the
checkpoint (a copy whose parent is the original's parent). The planning is
pure; the compiled graph loads, runs routers (sync or awaited) and saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointTuple, PendingWrite

from streamtap.graph._algo import (
    NextVersion,
    Task,
    apply_writes,
    create_checkpoint,
    empty_checkpoint,
    node_writes,
    prepare_tasks,
    restore_channels,
    router_input,
    writes_by_task,
)
from streamtap.graph._channels import Channel
from streamtap.graph._constants import CONF, END, INPUT, INTERRUPT, NULL_TASK_ID, PUSH, START
from streamtap.graph._node import BranchSpec
from streamtap.graph._spec import GraphSpec
from streamtap.graph._stored_types import from_stored, to_stored
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.types import StateUpdate

COPY = "__copy__"

#: a router to call: (the update's task, its router, the state the router reads)
RouterCall = tuple[Task, BranchSpec, Any]


class Superstep:
    """One superstep of ``bulk_update_state``: planned, routed by the caller, then saved."""

    def __init__(
        self,
        graph: GraphSpec,
        saved: CheckpointTuple | None,
        updates: Sequence[StateUpdate | tuple[Any, ...]],
        config: RunnableConfig,
        next_version: NextVersion,
        *,
        superseded: bool = False,
    ) -> None:
        if not updates:
            raise ValueError("No updates provided")
        self.graph = graph
        self.saved = saved
        self.updates = [StateUpdate(*u) for u in updates]
        self.next_version = next_version
        conf = config[CONF]
        self.thread_id = conf["thread_id"]
        self.ns = conf.get("checkpoint_ns", "")
        self.checkpoint: Checkpoint = _copy(saved.checkpoint) if saved else empty_checkpoint()
        self.previous_versions = dict(saved.checkpoint["channel_versions"]) if saved else {}
        self.step: int = saved.metadata.get("step", -1) if saved else -1
        self.pending: list[PendingWrite] = (
            [(t, c, from_stored(c, v)) for t, c, v in saved.pending_writes or ()] if saved else []
        )
        self.channels: dict[str, Channel] = restore_channels(graph, self.checkpoint)
        self.tasks: list[Task] = []
        self.source = "update"
        self.copy_of: CheckpointTuple | None = None
        self.then: list[StateUpdate] = []  # a fork's own updates (as_node="__copy__")
        # the update's writes, also saved on the checkpoint it builds on (as LangGraph
        # does): that checkpoint's history then shows what its next tasks produced; not
        # when the thread has moved past it (its other children would see them)
        self.superseded = superseded
        self.task_ids: list[str] = []
        self.input_writes: list[tuple[str, Any]] = []

    # ------------------------------------------------------------------ plan

    def plan(self) -> list[RouterCall]:
        """Build the update's tasks and their writes; return the routers still to call."""
        values, as_node = self.updates[0][:2]
        if values is None and as_node == END:
            self._single("clearing state")
            self._end_pending_step()
            return []
        if as_node == INPUT:
            self._single("updating as input")
            self._as_input(values)
            return []
        if as_node == COPY:
            self._single("copying a checkpoint")
            if self.saved is None:
                raise InvalidUpdateError("Cannot copy a non-existent checkpoint")
            if isinstance(
                values, list
            ):  # updates to write on the copy, in a superstep of their own
                for item in values:
                    if not isinstance(item, Sequence) or isinstance(item, str):
                        raise InvalidUpdateError(
                            f"Invalid update item: {item} when copying checkpoint"
                        )
                self.then = [StateUpdate(item[0], item[1]) for item in values]
            self.copy_of = self.saved
            self.source = "fork"
            return []
        calls: list[RouterCall] = []
        prepared: dict[str, list[str]] = {}
        if self.saved is not None:
            next_tasks = prepare_tasks(
                self.graph, self.checkpoint, self.channels, None, ns_str=self.ns, step=self.step + 1
            )
            for t in next_tasks:
                prepared.setdefault(t.name, []).append(t.id)
        for i, (values, as_node, task_id) in enumerate(self._valid_updates()):
            assert as_node is not None  # _valid_updates resolved it
            ids = prepared.get(as_node)
            self.task_ids.append(task_id or (ids.pop(0) if ids else self._update_task_id(i)))
            task = Task(NULL_TASK_ID, as_node, (INTERRUPT, i), (INTERRUPT,), values, self.ns)
            writes, branches = node_writes(self.graph, task, values)
            task.writes.extend(writes)
            calls.extend(
                (task, b, router_input(self.graph, self.channels, task.writes, b, values))
                for b in branches
            )
            self.tasks.append(task)
        return calls

    def _single(self, what: str) -> None:
        if len(self.updates) > 1:
            raise InvalidUpdateError(f"Cannot apply multiple updates when {what}")

    def _valid_updates(self) -> list[StateUpdate]:
        nodes = self.graph.nodes
        valid = []
        for values, as_node, task_id in self.updates:
            if as_node is None:
                if len(self.updates) > 1:
                    raise InvalidUpdateError("as_node is required when applying multiple updates")
                as_node = self._infer_as_node()
            if as_node is None:
                raise InvalidUpdateError("Ambiguous update, specify as_node")
            if as_node not in nodes and as_node != START:
                raise InvalidUpdateError(f"Node {as_node} does not exist")
            valid.append(StateUpdate(values, as_node, task_id))
        return valid

    def _infer_as_node(self) -> str | None:
        """The node that wrote last, as LangGraph infers it (``START`` on a fresh thread)."""
        if self.graph.return_writes is not None:  # an entrypoint: its only node (LangGraph's)
            return next(iter(self.graph.nodes))
        seen = self.checkpoint["versions_seen"]
        if not any(v for vv in seen.values() for v in vv.values()):
            return START
        nodes = self.graph.order  # START is a node to LangGraph here
        last = sorted((v, n) for n, s in seen.items() if n in nodes for v in s.values())
        if len(last) == 1 or (last and last[-1][0] != last[-2][0]):
            return str(last[-1][1])
        return None

    def _end_pending_step(self) -> None:
        """``update_state(None, as_node=END)``: the pending step ends where it stands."""
        if self.saved is None:
            return
        tasks = prepare_tasks(
            self.graph, self.checkpoint, self.channels, None, ns_str=self.ns, step=self.step + 1
        )
        null = [(c, v) for t, c, v in self.pending if t == NULL_TASK_ID]
        if null:
            null_task = Task(NULL_TASK_ID, INPUT, (), (), None, "")
            null_task.writes = null
            self._apply([null_task])
        outputs = writes_by_task(self.pending)[0]
        for task in tasks:
            task.writes.extend(outputs.get(task.id, ()))
        self._apply(tasks)

    def _as_input(self, values: Any) -> None:
        if values is None:
            raise InvalidUpdateError(f"Received no input writes for {START}")
        task = Task(NULL_TASK_ID, INPUT, (), (), None, "")
        task.writes = [(START, values)]
        self.input_writes = list(task.writes)
        self._apply([task])
        self.source = "input"
        self.step = self.step if self.saved and self.saved.metadata.get("step") is not None else -2

    def _update_task_id(self, i: int) -> str:
        """LangGraph's id for the ``i``-th update of a superstep with no prepared task to reuse."""
        suffix = INTERRUPT if i == 0 else f"{INTERRUPT}:{i}"
        return str(uuid5(UUID(self.checkpoint["id"]), suffix))

    def stored_writes(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        """``(task id, writes)`` to save on the checkpoint the update builds on."""
        if self.saved is None or self.superseded:
            return []
        if self.input_writes:
            return [(str(uuid5(UUID(self.checkpoint["id"]), INPUT)), self.input_writes)]
        return [
            (tid, [(c, to_stored(c, v)) for c, v in task.writes if c != PUSH])
            for tid, task in zip(self.task_ids, self.tasks, strict=True)
            if any(c != PUSH for c, _ in task.writes)
        ]

    def _apply(self, tasks: Sequence[Task]) -> None:
        apply_writes(self.graph, self.checkpoint, self.channels, tasks, self.next_version)

    # ------------------------------------------------------------------ save

    def result(self) -> tuple[RunnableConfig, Checkpoint, dict[str, Any], dict[str, Any]]:
        """What to ``put``: the parent config, the checkpoint, its metadata and new versions."""
        parents = dict(self.saved.metadata.get("parents", {})) if self.saved else {}
        if self.copy_of is not None:
            return self._fork(self.copy_of, parents)
        if self.tasks:
            self._apply(self.tasks)
        checkpoint = create_checkpoint(self.checkpoint, self.channels, self.step + 1, None)
        new_versions = {
            k: v
            for k, v in checkpoint["channel_versions"].items()
            if v != self.previous_versions.get(k)
        }
        put_under: RunnableConfig = (
            self.saved.config
            if self.saved
            else {CONF: {"thread_id": self.thread_id, "checkpoint_ns": self.ns}}
        )
        meta = {"source": self.source, "step": self.step + 1, "parents": parents}
        return put_under, checkpoint, meta, new_versions

    def _fork(
        self, saved: CheckpointTuple, parents: dict[str, Any]
    ) -> tuple[RunnableConfig, Checkpoint, dict[str, Any], dict[str, Any]]:
        """``as_node="__copy__"``: the checkpoint again, as a sibling (same parent), new id."""
        fork = create_checkpoint(saved.checkpoint, {}, self.step, None)
        fork["channel_values"] = saved.checkpoint["channel_values"]
        fork["updated_channels"] = saved.checkpoint.get("updated_channels")
        parent = saved.parent_config or {CONF: {**saved.config[CONF], "checkpoint_id": None}}
        return parent, fork, {"source": "fork", "step": self.step + 1, "parents": parents}, {}


def _copy(checkpoint: Checkpoint) -> Checkpoint:
    copied = dict(checkpoint)
    copied["channel_values"] = dict(checkpoint["channel_values"])
    copied["channel_versions"] = dict(checkpoint["channel_versions"])
    copied["versions_seen"] = {k: dict(v) for k, v in checkpoint["versions_seen"].items()}
    return copied  # type: ignore[return-value]
