"""The checkpoint chain of a step loop: loading a saved checkpoint, making the next one,
and saving checkpoints and pending writes as the run's durability says.

The step loop (``_loop``) does no I/O: saver calls are queued on its ``Saves`` and the
runner performs them, sync or awaited. Split from ``_loop`` so that each reads whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple, PendingWrite

from streamtap._secrets import is_secret_name
from streamtap.graph._algo import (
    Task,
    create_checkpoint,
    read_channels,
    record_writes,
    restore_channels,
)
from streamtap.graph._channels import Channel
from streamtap.graph._constants import CONF, ERROR, NS_END
from streamtap.graph._emit import Sinks, checkpoint_task, public_config, task_states
from streamtap.graph._saving import Saves
from streamtap.graph._spec import GraphSpec
from streamtap.graph._stored_types import from_stored, to_stored
from streamtap.graph._writes import Write


class CheckpointChain:
    """The checkpoint half of :class:`~streamtap.graph._loop.StepLoop` (its base class)."""

    graph: GraphSpec
    config: RunnableConfig
    out: Sinks
    checkpointer: BaseCheckpointSaver[Any] | None
    saves: Saves | None
    durability: str
    thread_id: str | None
    nested: bool
    ns: tuple[str, ...]
    ns_str: str
    checkpoint_map: dict[str, str]
    checkpoint: Checkpoint
    channels: dict[str, Channel]
    updated_channels: set[str] | None
    saved_versions: dict[str, Any]
    pending_writes: list[PendingWrite]
    exit_writes: list[tuple[str, Sequence[Write]]]
    checkpoint_config: RunnableConfig | None
    prev_checkpoint_config: RunnableConfig | None
    metadata: dict[str, Any]
    step: int
    tasks: list[Task]

    def _load(self, saved: CheckpointTuple) -> None:
        self.checkpoint = saved.checkpoint
        self.channels = restore_channels(self.graph, saved.checkpoint)
        self.saved_versions = dict(saved.checkpoint["channel_versions"])
        self.checkpoint_config = saved.config
        self.prev_checkpoint_config = saved.parent_config
        self.pending_writes = [(t, c, from_stored(c, v)) for t, c, v in saved.pending_writes or ()]
        self.metadata = {
            "source": saved.metadata.get("source"),
            "step": saved.metadata.get("step"),
            "parents": saved.metadata.get("parents", {}),
        }
        self.step = saved.metadata.get("step", -2) + 1
        # the first tick looks only at the nodes these trigger (all nodes when unknown)
        updated = saved.checkpoint.get("updated_channels")
        self.updated_channels = set(updated) if updated else None

    def _put_writes(self, task_id: str, writes: Sequence[Write]) -> None:
        if not writes:
            return
        writes = record_writes(self.pending_writes, task_id, writes)
        if self.saves is not None and self.durability != "exit":
            self._save_writes(self.saves, task_id, writes)
        elif self.saves is not None:  # saved at exit, after the checkpoint they belong to
            self.exit_writes.append((task_id, writes))

    def _save_writes(self, saves: Saves, task_id: str, writes: Sequence[Write]) -> None:
        if self.checkpoint_config is not None:
            # errors are saved as their repr: an exception class that can't be
            # rebuilt (or isn't allowed to be) must not make the checkpoint unreadable
            saved = [(c, to_stored(c, repr(v) if c == ERROR else v)) for c, v in writes]
            saves.put_writes(self.checkpoint_config, saved, task_id)

    def _put_checkpoint(self, source: str) -> None:
        self.metadata = {"source": source, "step": self.step, "parents": dict(self.checkpoint_map)}
        self.checkpoint = create_checkpoint(
            self.checkpoint, self.channels, self.step, self.updated_channels
        )
        if self.saves is not None and self.durability != "exit":
            self._save_checkpoint(self.saves)
        self.step += 1

    def _save_checkpoint(self, saves: Saves) -> None:
        versions = self.checkpoint["channel_versions"]
        new_versions = {k: v for k, v in versions.items() if v != self.saved_versions.get(k)}
        self.saved_versions = dict(versions)
        parent = self.checkpoint_config
        put_config: RunnableConfig = {
            "configurable": {
                # the savers copy the run's plain configurable values into the checkpoint's
                # metadata (LangGraph's get_checkpoint_metadata); credentials stay out
                **{
                    k: v
                    for k, v in self.config[CONF].items()
                    if isinstance(v, str | int | float | bool) and not is_secret_name(k)
                },
                "thread_id": self.thread_id,
                "checkpoint_ns": self.ns_str,
                "checkpoint_id": (parent or {}).get(CONF, {}).get("checkpoint_id"),
            },
            "metadata": self.config.get("metadata", {}),
        }
        saves.put(put_config, self.checkpoint, self.metadata, new_versions)
        self.prev_checkpoint_config = parent
        self.checkpoint_config = {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.ns_str,
                "checkpoint_id": self.checkpoint["id"],
            }
        }

    def save_on_exit(self, failure: BaseException | None) -> None:
        """``durability="exit"``: the run's last checkpoint and its pending writes, saved once.

        A subgraph run by a task saves only when it failed or was interrupted (the parent
        re-enters it from there); one with its own state (no task id in its namespace)
        always does, as LangGraph decides it.
        """
        if self.saves is None or self.durability != "exit":
            return
        if self.nested and failure is None and any(NS_END in part for part in self.ns):
            return
        saved_id = (self.checkpoint_config or {}).get(CONF, {}).get("checkpoint_id")
        if saved_id != self.checkpoint["id"]:  # else: the step it was loaded at did not end
            self._save_checkpoint(self.saves)
        if self.checkpoint["id"] != saved_id:
            # a checkpoint made during the run holds this step's writes only
            step_writes = {t for t, _, _ in self.pending_writes}
            self.exit_writes = [(t, w) for t, w in self.exit_writes if t in step_writes]
        for tid, writes in self.exit_writes:
            self._save_writes(self.saves, tid, writes)
        self.exit_writes = []

    def _emit_checkpoint(self) -> None:
        if self.checkpointer is None or not self.out.wants("checkpoints"):
            return
        parents = self.metadata.get("parents")
        states = task_states(
            self.graph, self.tasks, self.pending_writes, self.ns_str, self.thread_id
        )
        # the checkpoint as of now, saved or not (durability="exit" saves only the last)
        current: RunnableConfig = {
            CONF: {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.ns_str,
                "checkpoint_id": self.checkpoint["id"],
            }
        }
        payload = {
            "config": public_config(current, parents, self.ns_str),
            "parent_config": public_config(self.prev_checkpoint_config, parents, self.ns_str),
            "values": read_channels(self.channels, self.graph.stream_keys),
            "metadata": self.metadata,
            "next": [t.name for t in self.tasks],
            "tasks": [checkpoint_task(t) for t in states],
        }
        self.out.emit_debug("checkpoints", payload, self.step)
