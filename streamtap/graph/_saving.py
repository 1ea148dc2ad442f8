"""A step loop's saver calls, queued in order and run by its runner, sync or awaited.

The step loop stays free of I/O (it decides what to save and when); the sync
runner calls the saver's methods, the async runner awaits their ``a``-twins.
LangGraph's own SQLite saver has no async methods: awaited, its sync ones run
in a worker thread instead of failing, so ``astream`` (and the server) work on
every saver.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from streamtap.graph._constants import CONF


async def _acall(saver: BaseCheckpointSaver[Any], name: str, args: tuple[Any, ...]) -> Any:
    try:
        return await getattr(saver, "a" + name)(*args)
    except NotImplementedError:
        return await asyncio.to_thread(getattr(saver, name), *args)


def _at(checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"checkpoint_id": checkpoint_id}}


class Saves:
    """The calls to make on one saver, oldest first (a checkpoint before its writes)."""

    __slots__ = ("_lock", "ops", "saver")

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self.saver = saver
        self.ops: list[tuple[str, tuple[Any, ...]]] = []
        # ``@task`` calls finish in worker threads and queue their writes from there
        self._lock = threading.Lock()

    def put(self, *args: Any) -> None:
        with self._lock:
            self.ops.append(("put", args))

    def put_writes(self, *args: Any) -> None:
        with self._lock:
            self.ops.append(("put_writes", args))

    def _take(self) -> list[tuple[str, tuple[Any, ...]]]:
        with self._lock:
            ops, self.ops = self.ops, []
        return ops

    def load(self, config: RunnableConfig, before: str | None = None) -> CheckpointTuple | None:
        """The checkpoint ``config`` names, or its namespace's last one before ``before``."""
        if before is not None:
            return next(iter(self.saver.list(config, before=_at(before), limit=1)), None)
        return self.saver.get_tuple(config)

    def load_start(
        self, config: RunnableConfig, before: str | None = None
    ) -> tuple[CheckpointTuple | None, bool]:
        """What a run starts from, and whether the thread has moved past it: a checkpoint
        addressed by id that is not its namespace's latest (LangGraph's "superseded")."""
        saved = self.load(config, before)
        if saved is None or not config[CONF].get("checkpoint_id"):
            return saved, False
        latest = self.saver.get_tuple(_without_id(config))
        return saved, latest is not None and latest.checkpoint["id"] != saved.checkpoint["id"]

    async def aload_start(
        self, config: RunnableConfig, before: str | None = None
    ) -> tuple[CheckpointTuple | None, bool]:
        saved = await self.aload(config, before)
        if saved is None or not config[CONF].get("checkpoint_id"):
            return saved, False
        latest = await self.aload(_without_id(config))
        return saved, latest is not None and latest.checkpoint["id"] != saved.checkpoint["id"]

    async def aload(
        self, config: RunnableConfig, before: str | None = None
    ) -> CheckpointTuple | None:
        if before is not None:
            async for saved in self.alist(config, before=_at(before), limit=1):
                return saved
            return None
        result: CheckpointTuple | None = await _acall(self.saver, "get_tuple", (config,))
        return result

    async def alist(self, config: RunnableConfig, **kwargs: Any) -> AsyncIterator[CheckpointTuple]:
        try:
            async for saved in self.saver.alist(config, **kwargs):
                yield saved
        except NotImplementedError:
            for saved in await asyncio.to_thread(lambda: list(self.saver.list(config, **kwargs))):
                yield saved

    def flush(self) -> None:
        for name, args in self._take():
            getattr(self.saver, name)(*args)

    async def aflush(self) -> None:
        for name, args in self._take():
            await _acall(self.saver, name, args)


def _without_id(config: RunnableConfig) -> RunnableConfig:
    conf = {k: v for k, v in config[CONF].items() if k != "checkpoint_id"}
    return {CONF: conf}
