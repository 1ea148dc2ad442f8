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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RedisWriter"]


class _Backlog:
    __slots__ = ("error", "events", "task")

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
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
        self._runs: dict[str, _Backlog] = {}

    async def append(self, run_id: str, event: str, data: bytes) -> None:
        backlog = self._runs.get(run_id)
        if backlog is None:
            backlog = self._runs[run_id] = _Backlog()
        if backlog.error is not None:
            raise backlog.error
        backlog.events.append((event, data))
        if backlog.task is None or backlog.task.done():
            backlog.task = asyncio.create_task(self._write(run_id, backlog))
        if len(backlog.events) >= self.high_water:
            await self.flush(run_id)

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
                await self._write_batch(self._key(run_id), batch)
        except Exception as exc:  # Redis away past its retries: the run learns it
            backlog.error = exc
            backlog.events.clear()
            return
        if self._runs.get(run_id) is backlog:
            del self._runs[run_id]

    async def _write_batch(self, key: str, batch: list[tuple[str, bytes]]) -> None:
        deadline = time.monotonic() + self.retry_for
        pause = 0.05
        while True:
            try:
                async with self._redis().pipeline(transaction=False) as pipe:
                    for event, data in batch:
                        pipe.xadd(
                            key, {"e": event, "d": data}, maxlen=self.maxlen, approximate=True
                        )
                    await pipe.execute()
                return
            except self.retry_on:
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
