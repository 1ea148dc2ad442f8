"""The checkpointer contract the step loop relies on.

A checkpoint is the state at the start of a step (channel values plus what
triggers the next tasks); pending writes are what the tasks of that step have
recorded so far (outputs, interrupts, answers, errors). Together they are
enough to resume a paused or crashed run without re-running finished tasks.
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypedDict

from langchain_core.runnables import RunnableConfig

from streamtap.graph._constants import EXCLUDED_METADATA_KEYS, WRITES_IDX_MAP

__all__ = ["BaseCheckpointSaver", "Checkpoint", "CheckpointTuple", "PendingWrite"]

PendingWrite = tuple[str, str, Any]


class Checkpoint(TypedDict):
    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    branches: list[str]
    sends: list[Any]
    barriers: dict[str, list[str]]


class CheckpointTuple(NamedTuple):
    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: dict[str, Any]
    parent_config: RunnableConfig | None
    pending_writes: list[PendingWrite]


def dumps(value: Any) -> bytes:
    """Serialise with pickle: state may hold messages, dataclasses, Sends, exceptions.

    A checkpoint store is therefore code the application trusts, like its own
    database; never load one from an untrusted source.
    """
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def thread_ns_id(config: RunnableConfig) -> tuple[str, str, str | None]:
    conf = config.get("configurable") or {}
    if conf.get("thread_id") is None:
        raise ValueError(
            'A checkpointer needs a thread: pass config={"configurable": {"thread_id": "..."}}'
        )
    return str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")), conf.get("checkpoint_id")


def checkpoint_config(thread: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    """The config that addresses one saved checkpoint."""
    return {
        "configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    }


def writes_target(config: RunnableConfig) -> tuple[str, str, str]:
    """``(thread, ns, checkpoint_id)`` that pending writes attach to; the id is required."""
    thread, ns, cid = thread_ns_id(config)
    if cid is None:
        raise ValueError("put_writes needs the checkpoint_id the writes belong to")
    return thread, ns, cid


def checkpoint_row(
    config: RunnableConfig, checkpoint: Checkpoint, metadata: dict[str, Any]
) -> tuple[str, str, str, str | None, bytes, bytes]:
    """What ``put`` stores: ``(thread, ns, checkpoint_id, parent_id, checkpoint, metadata)``.

    The parent is the checkpoint ``config`` names; the metadata gains the run's
    scalar values (:func:`saved_metadata`). Both are serialised with :func:`dumps`.
    """
    thread, ns, parent = thread_ns_id(config)
    meta = dumps(saved_metadata(config, metadata))
    return thread, ns, checkpoint["id"], parent, dumps(checkpoint), meta


def saved_tuple(
    thread: str,
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    checkpoint: bytes,
    metadata: bytes,
    writes: Iterable[tuple[str, str, bytes]],
) -> CheckpointTuple:
    """A stored row (and its pending writes) read back."""
    return CheckpointTuple(
        config=checkpoint_config(thread, ns, checkpoint_id),
        checkpoint=loads(checkpoint),
        metadata=loads(metadata),
        parent_config=checkpoint_config(thread, ns, parent_id) if parent_id else None,
        pending_writes=[(t, c, loads(v)) for t, c, v in writes],
    )


def write_slot(channel: str, idx: int) -> int:
    """Where a write lives in a task's log: control writes have one fixed slot each."""
    return WRITES_IDX_MAP.get(channel, idx)


def saved_metadata(config: RunnableConfig, metadata: dict[str, Any]) -> dict[str, Any]:
    """Checkpoint metadata plus the run's scalar metadata/configurable values (as LangGraph)."""
    out = dict(metadata)
    for obj in (config.get("metadata"), config.get("configurable")):
        if not obj:
            continue
        for key, v in obj.items():
            if key in out or key in EXCLUDED_METADATA_KEYS or key.startswith("__"):
                continue
            if isinstance(v, (str, int, float, bool)):
                out[key] = v
    return out


class BaseCheckpointSaver(ABC):
    """Store checkpoints per (thread_id, checkpoint_ns), newest last."""

    @abstractmethod
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names (its ``checkpoint_id``), or the thread's latest."""

    @abstractmethod
    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints of a thread (and namespace), newest first."""

    @abstractmethod
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: dict[str, Any],
    ) -> RunnableConfig:
        """Save ``checkpoint`` as the child of ``config``'s checkpoint; return its config."""

    @abstractmethod
    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str
    ) -> None:
        """Record a task's writes against the checkpoint ``config`` names."""

    @abstractmethod
    def delete_thread(self, thread_id: str) -> None:
        """Forget every checkpoint and write of a thread."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: dict[str, Any]
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str
    ) -> None:
        self.put_writes(config, writes, task_id)


def matches(metadata: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    return not filter or all(metadata.get(k) == v for k, v in filter.items())


def first_matching(
    items: Iterable[CheckpointTuple], filter: dict[str, Any] | None, limit: int | None
) -> Iterator[CheckpointTuple]:
    """The first ``limit`` (or all) of ``items`` whose metadata matches ``filter``."""
    count = 0
    for item in items:
        if not matches(item.metadata, filter):
            continue
        yield item
        count += 1
        if limit is not None and count >= limit:
            return
