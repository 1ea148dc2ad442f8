"""One blocking ``XREAD`` per process for every reader of every run: the Redis tail.

A reader that blocked on its own ``XREAD`` would hold a Redis connection for as long as it
reads; 500 SSE clients would be 500 connections (redis-py's pool stops at 100 by default,
and Redis itself at 10,000). Here every reader in the process subscribes to one loop that
asks Redis for all the streams it follows at once (``XREAD BLOCK ... STREAMS k1 k2 ...``,
each from the oldest position a reader of that run still needs) and hands each reader the
entries after its own position. The loop also follows a small stream of its own: a new
reader writes to it, so a blocked ``XREAD`` returns at once and includes the new run.

A reader's queue receives lists of raw entries ``(id, fields)``; it stops reading after
the run's end event (the backend's ``read`` decides that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["RedisTail", "Subscription"]

log = logging.getLogger("streamtap.server")

Entry = tuple[bytes, dict[bytes, bytes]]


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """One reader of one run: the entries after ``cursor``, in batches."""

    __slots__ = ("cursor", "key", "queue")

    def __init__(self, key: str, cursor: str) -> None:
        self.key = key
        self.cursor = cursor
        self.queue: asyncio.Queue[list[Entry]] = asyncio.Queue()

    def offer(self, entries: list[Entry]) -> None:
        here = _key(self.cursor)
        fresh = [e for e in entries if _key(e[0].decode()) > here]
        if fresh:
            self.cursor = fresh[-1][0].decode()
            self.queue.put_nowait(fresh)


class RedisTail:
    """The process's tail loop over ``redis`` (a started ``redis.asyncio.Redis``)."""

    def __init__(
        self, redis: Callable[[], Any], prefix: str, *, block_ms: int = 2_000, count: int = 1000
    ) -> None:
        self._redis = redis
        self.block_ms = block_ms
        self.count = count
        #: the loop's own stream: a write to it ends a blocked XREAD (a reader arrived)
        self.wake_key = f"{prefix}tail:{uuid.uuid4().hex}"
        self._wake_id = "$"
        self._subs: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self, key: str, cursor: str) -> Subscription:
        sub = Subscription(key, cursor)
        self._subs.setdefault(key, set()).add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="streamtap-redis-tail")
        else:
            await self._redis().xadd(self.wake_key, {"w": b""}, maxlen=1, approximate=False)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._redis().delete(self.wake_key)

    async def _loop(self) -> None:
        while self._subs:
            streams = {self.wake_key: self._wake_id}
            for key, subs in self._subs.items():
                streams[key] = min((s.cursor for s in subs), key=_key)
            try:
                reply = await self._redis().xread(streams, count=self.count, block=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away (redis-py retried already): try again
                log.warning("redis tail: %s; reading again", type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for raw_key, entries in reply or ():
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                if key == self.wake_key:
                    self._wake_id = entries[-1][0].decode()
                    continue
                fetched_after = _key(streams[key])
                for sub in list(self._subs.get(key, ())):
                    # a reader that came while this XREAD was out may be further back
                    # than where it read from: it gets its entries from the next one
                    if _key(sub.cursor) >= fetched_after:
                        sub.offer(entries)
