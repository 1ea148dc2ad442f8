"""A run's events written to Redis behind the run, in pipelines: the Redis writer.

An ``XADD`` awaited per event costs a round trip per token, and most of its CPU is the
round trip itself (about 70 µs here against 20 µs per command in a pipeline of ten). So
the run appends its events to a buffer and goes on; one task per run writes whatever has
gathered since its last round trip, in order, in one pipeline. While Redis answers fast
the batches are single events; when tokens come faster than the round trip, or many runs
write at once, they grow, and the cost per event falls.

Nothing is lost or reordered: a run's events leave in the order they came, a batch that
meets a dropped connection is written again (for about six seconds: a Redis restart), a backlog past
``high_water`` makes the run wait for it (back-pressure, bounded memory), a failed write
is raised to the run at its next append or at ``flush`` (which every run calls before its
end is recorded), and ``publish`` of the same run (its ``end``) waits for the backlog
first.

The same writer carries the threads' protocol logs (``_proto_redis``): entries with ids of
their own (the seq), and a batch that met a dropped connection after Redis took part of it
is not written twice (Redis refuses an id it has, which is then the proof it has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

Entry = tuple[dict[str, Any], str]
"""An entry's fields, and its id (``"*"``: Redis's)."""

__all__ = ["RedisWriter"]


class _Backlog:
    __slots__ = ("error", "events", "task")

    def __init__(self) -> None:
        self.events: list[Entry] = []
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None


class RedisWriter:
    """The process's writers: one backlog and one writing task per run with events
    not yet in Redis."""

    def __init__(
        self,
        redis: Callable[[], Any],
        key: Callable[[str], str],
        *,
        maxlen: int,
        high_water: int = 512,
        retry_on: tuple[type[BaseException], ...] = (),
        retry_for: float = 6.0,
        after_batch: Callable[[Any, str, list[Entry]], None] | None = None,
    ) -> None:
        self._redis = redis
        self._key = key
        self.maxlen = maxlen
        self.high_water = high_water
        #: errors after which a batch is written again (Redis restarting), for up to
        #: ``retry_for`` seconds: redis-py retries a pipeline on a dropped connection only
        #: in its newer releases
        self.retry_on = retry_on
        self.retry_for = retry_for
        #: more commands for a batch's pipeline (``(pipeline, name, batch)``)
        self.after_batch = after_batch
        self._runs: dict[str, _Backlog] = {}

    async def append(self, run_id: str, event: str, data: bytes) -> None:
        self.add(run_id, {"e": event, "d": data})
        if len(self._runs[run_id].events) >= self.high_water:
            await self.flush(run_id)

    def add(self, name: str, fields: dict[str, Any], entry_id: str = "*") -> None:
        """An entry for ``name``'s stream, written behind the caller (who calls ``flush``
        or ``append`` to learn of a failure and to wait when the backlog is long)."""
        backlog = self._runs.get(name)
        if backlog is None:
            backlog = self._runs[name] = _Backlog()
        if backlog.error is not None:
            raise backlog.error
        backlog.events.append((fields, entry_id))
        if backlog.task is None or backlog.task.done():
            backlog.task = asyncio.create_task(self._write(name, backlog))

    async def flush(self, run_id: str) -> None:
        """Until every event appended for the run is in Redis; raises a failed write."""
        backlog = self._runs.get(run_id)
        if backlog is None:
            return
        if backlog.task is not None:
            await asyncio.shield(backlog.task)
        if backlog.error is not None:
            self._runs.pop(run_id, None)
            raise backlog.error

    async def close(self) -> None:
        """Write what is left (a stopping process's last events), forgetting failures."""
        for run_id in list(self._runs):
            with contextlib.suppress(Exception):
                await self.flush(run_id)

    async def _write(self, run_id: str, backlog: _Backlog) -> None:
        try:
            while backlog.events:
                batch, backlog.events = backlog.events, []
                await self._write_batch(run_id, batch)
        except Exception as exc:  # Redis away past its retries: the run learns it
            backlog.error = exc
            backlog.events.clear()
            return
        if self._runs.get(run_id) is backlog:
            del self._runs[run_id]

    async def _write_batch(self, name: str, batch: list[Entry]) -> None:
        key = self._key(name)
        deadline = time.monotonic() + self.retry_for
        pause = 0.05
        again = False
        while True:
            try:
                async with self._redis().pipeline(transaction=False) as pipe:
                    for fields, entry_id in batch:
                        pipe.xadd(key, fields, id=entry_id, maxlen=self.maxlen, approximate=True)
                    if self.after_batch is not None:
                        self.after_batch(pipe, name, batch)
                    replies = await pipe.execute(raise_on_error=False)
                for reply in replies:
                    if isinstance(reply, Exception) and not (again and _had_it(reply)):
                        raise reply
                return
            except self.retry_on:
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                again = True


def _had_it(error: Exception) -> bool:
    """Redis refusing an entry id it already has: an earlier try wrote it."""
    return "equal or smaller than the target stream top item" in str(error)
