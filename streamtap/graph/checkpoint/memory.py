"""``InMemorySaver``: checkpoints kept in a dict, serialised so later mutation can't leak in."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from streamtap.graph.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointTuple,
    checkpoint_config,
    checkpoint_row,
    dumps,
    first_matching,
    saved_tuple,
    thread_ns_id,
    write_slot,
    writes_target,
)

__all__ = ["InMemorySaver"]


class InMemorySaver(BaseCheckpointSaver):
    """Checkpoints for the life of the process: tests, notebooks, single-process servers."""

    def __init__(self) -> None:
        # thread -> ns -> [(checkpoint_id, parent_id, checkpoint blob, metadata blob)]
        self._storage: defaultdict[
            str, defaultdict[str, list[tuple[str, str | None, bytes, bytes]]]
        ]
        self._storage = defaultdict(lambda: defaultdict(list))
        self._writes: defaultdict[
            tuple[str, str, str], dict[tuple[str, int], tuple[str, str, bytes]]
        ]
        self._writes = defaultdict(dict)
        self._lock = threading.Lock()

    def _tuple(
        self, thread: str, ns: str, entry: tuple[str, str | None, bytes, bytes]
    ) -> CheckpointTuple:
        writes = self._writes.get((thread, ns, entry[0]), {})
        return saved_tuple(thread, ns, *entry, writes.values())

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread, ns, cid = thread_ns_id(config)
        with self._lock:
            entries = self._storage[thread][ns] if thread in self._storage else None
            if not entries:
                return None
            if cid is None:
                return self._tuple(thread, ns, entries[-1])
            for entry in entries:
                if entry[0] == cid:
                    return self._tuple(thread, ns, entry)
            return None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        if config is None:
            raise ValueError("InMemorySaver.list needs a config with a thread_id")
        thread, ns, cid = thread_ns_id(config)
        before_id = (before or {}).get("configurable", {}).get("checkpoint_id")
        with self._lock:
            stored = self._storage[thread][ns] if thread in self._storage else []
            entries = list(reversed(stored))
            skipping = before_id is not None

            def selected() -> Iterator[CheckpointTuple]:
                nonlocal skipping
                for entry in entries:
                    if cid is not None and entry[0] != cid:
                        continue
                    if skipping:
                        skipping = entry[0] != before_id
                        continue
                    yield self._tuple(thread, ns, entry)

            out = list(first_matching(selected(), filter, limit))
        yield from out

    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: dict[str, Any]
    ) -> RunnableConfig:
        thread, ns, cid, parent, blob, meta = checkpoint_row(config, checkpoint, metadata)
        with self._lock:
            self._storage[thread][ns].append((cid, parent, blob, meta))
        return checkpoint_config(thread, ns, cid)

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str
    ) -> None:
        thread, ns, cid = writes_target(config)
        with self._lock:
            log = self._writes[(thread, ns, cid)]
            for idx, (channel, value) in enumerate(writes):
                slot = (task_id, write_slot(channel, idx))
                if slot[1] >= 0 and slot in log:
                    continue
                log[slot] = (task_id, channel, dumps(value))

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._storage.pop(str(thread_id), None)
            for key in [k for k in self._writes if k[0] == str(thread_id)]:
                del self._writes[key]
