"""``SqliteSaver``: durable checkpoints in one stdlib ``sqlite3`` file (or ``:memory:``).

The embedded default for anything that must survive a restart: one file, no
server, safe to share between the threads a graph run uses.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
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

__all__ = ["SqliteSaver"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    checkpoint BLOB NOT NULL,
    metadata BLOB NOT NULL,
    UNIQUE (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE TABLE IF NOT EXISTS writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    value BLOB,
    seq INTEGER NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
"""


class SqliteSaver(BaseCheckpointSaver):
    """Checkpoints in SQLite. Pass a file path, ``":memory:"`` or an open connection."""

    def __init__(self, conn: sqlite3.Connection | str | PathLike[str]) -> None:
        if isinstance(conn, sqlite3.Connection):
            self.conn = conn
            self._owns = False
        else:
            self.conn = sqlite3.connect(str(conn), check_same_thread=False, isolation_level=None)
            self._owns = True
            if str(conn) != ":memory:":
                self.conn.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()
        with self._lock:
            self.conn.executescript(_SCHEMA)

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[SqliteSaver]:
        """LangGraph-style constructor: ``with SqliteSaver.from_conn_string(path) as saver``."""
        saver = cls(conn_string)
        try:
            yield saver
        finally:
            saver.close()

    def close(self) -> None:
        if self._owns:
            with self._lock:
                self.conn.close()

    def _row_tuple(self, row: tuple[Any, ...]) -> CheckpointTuple:
        thread, ns, cid, parent, blob, meta = row
        with self._lock:
            writes = self.conn.execute(
                "SELECT task_id, channel, value FROM writes WHERE thread_id=? AND "
                "checkpoint_ns=? AND checkpoint_id=? ORDER BY seq, idx",
                (thread, ns, cid),
            ).fetchall()
        return saved_tuple(thread, ns, cid, parent, blob, meta, writes)

    _COLS = "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata"

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread, ns, cid = thread_ns_id(config)
        with self._lock:
            if cid is None:
                row = self.conn.execute(
                    f"SELECT {self._COLS} FROM checkpoints WHERE thread_id=? AND checkpoint_ns=? "
                    "ORDER BY seq DESC LIMIT 1",
                    (thread, ns),
                ).fetchone()
            else:
                row = self.conn.execute(
                    f"SELECT {self._COLS} FROM checkpoints WHERE thread_id=? AND checkpoint_ns=? "
                    "AND checkpoint_id=?",
                    (thread, ns, cid),
                ).fetchone()
        return self._row_tuple(row) if row else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        if config is None:
            raise ValueError("SqliteSaver.list needs a config with a thread_id")
        thread, ns, cid = thread_ns_id(config)
        query = f"SELECT {self._COLS} FROM checkpoints WHERE thread_id=? AND checkpoint_ns=?"
        params: list[Any] = [thread, ns]
        if cid is not None:
            query += " AND checkpoint_id=?"
            params.append(cid)
        before_id = (before or {}).get("configurable", {}).get("checkpoint_id")
        if before_id is not None:
            query += (
                " AND seq < (SELECT seq FROM checkpoints WHERE thread_id=? AND "
                "checkpoint_ns=? AND checkpoint_id=?)"
            )
            params += [thread, ns, before_id]
        query += " ORDER BY seq DESC"
        with self._lock:
            rows = self.conn.execute(query, params).fetchall()
        yield from first_matching((self._row_tuple(row) for row in rows), filter, limit)

    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: dict[str, Any]
    ) -> RunnableConfig:
        row = checkpoint_row(config, checkpoint, metadata)
        with self._lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        return checkpoint_config(*row[:3])

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str
    ) -> None:
        thread, ns, cid = writes_target(config)
        rows = []
        replace = False
        for idx, (channel, value) in enumerate(writes):
            slot = write_slot(channel, idx)
            replace = replace or slot < 0
            rows.append((thread, ns, cid, task_id, slot, channel, dumps(value)))
        with self._lock:
            seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM writes").fetchone()[0]
            self.conn.executemany(
                # control writes replace their slot; regular writes keep the first
                "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, "
                "channel, value, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO "
                + (
                    "UPDATE SET channel=excluded.channel, value=excluded.value WHERE idx < 0"
                    if replace
                    else "NOTHING"
                ),
                [(*r, seq) for r in rows],
            )

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM checkpoints WHERE thread_id=?", (str(thread_id),))
            self.conn.execute("DELETE FROM writes WHERE thread_id=?", (str(thread_id),))
