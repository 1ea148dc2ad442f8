"""The threads' Agent Streaming Protocol logs in Redis: every process serves every thread.

On the many-process layout a run executes in whichever process claimed it, and its
thread's readers are in any process; so each thread's log is a Redis stream,
``<prefix>proto:<thread_id>``, whose entry ids are ``0-<seq>``: the seq is the entry id,
thread-wide and across runs, as in memory (``_proto_log``), and a reader after ``since``
reads from ``0-<since>``. An entry keeps the method and namespace for the filter and the
envelope's bytes, serialized once by the writer.

* **Writing.** One run of a thread at a time (the queue's rule), so the run's writer
  numbers on from the thread's last seq and appends behind the run, in pipelines
  (``_redis_writer``); the run's end waits until all of it is in Redis. The last seq is
  also kept beside the stream (``<key>:seq``), so numbering goes on even once the stream
  has expired, and a reader's old cursor never meets reused numbers.
* **Reading.** Through the process's one tail loop (``_redis_tail``): a reader costs no
  connection of its own.
* **Bounds.** About the last ``maxlen`` events per thread (Redis trims by count, not
  bytes), kept ``ttl`` seconds after the thread's last event. A reader asking for what
  was trimmed gets the :class:`~streamtap.server._proto_log.Gap`, as in memory.
* **Interrupts asked.** The ids sent as ``input.requested`` on the thread are a Redis set
  (``<key>:asked``), so a run resumed in another process does not ask them again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from streamtap.server._proto_log import (
    _UNREAD,
    Gap,
    LoggedEvent,
    envelope,
    gap_before,
)
from streamtap.server._redis_writer import Entry, RedisWriter
from streamtap.server._serde import dumps, loads

__all__ = ["RedisLogs"]


class RedisBackend(Protocol):
    """What the logs use of a started ``streamtap.server.redis.RedisBackend``."""

    prefix: str

    @property
    def redis(self) -> Any: ...

    @property
    def tail(self) -> Any: ...

    @property
    def unavailable_errors(self) -> tuple[type[BaseException], ...]: ...


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2] or 0)


def _event(entry: tuple[bytes, dict[bytes, bytes]]) -> LoggedEvent:
    entry_id, fields = entry
    seq = _seq(entry_id)
    namespace = tuple(loads(fields[b"n"]))
    return LoggedEvent(seq, str(seq), fields[b"m"].decode(), namespace, _UNREAD, fields[b"f"])


class RedisLogs:
    """The protocol logs of a started :class:`~streamtap.server.redis.RedisBackend`."""

    def __init__(self, backend: RedisBackend, *, maxlen: int = 10_000, ttl: int = 86_400) -> None:
        if maxlen < 1 or ttl < 1:
            raise ValueError("maxlen and ttl must be >= 1")
        self.backend = backend
        self.maxlen = maxlen
        self.ttl = ttl
        self.writer = RedisWriter(
            lambda: backend.redis,
            self.key,
            maxlen=maxlen,
            retry_on=backend.unavailable_errors,
            after_batch=self._after_batch,
        )

    def key(self, thread_id: str) -> str:
        return f"{self.backend.prefix}proto:{thread_id}"

    def _after_batch(self, pipe: Any, thread_id: str, batch: list[Entry]) -> None:
        key = self.key(thread_id)
        pipe.set(f"{key}:seq", _seq(batch[-1][1]), ex=self.ttl)
        pipe.expire(key, self.ttl)

    def log(self, thread_id: str) -> RedisThreadLog:
        return RedisThreadLog(self, thread_id)

    async def drop(self, thread_id: str) -> None:
        key = self.key(thread_id)
        await self.backend.redis.delete(key, f"{key}:seq", f"{key}:asked")

    async def close(self) -> None:
        await self.writer.close()


class RedisThreadLog:
    def __init__(self, logs: RedisLogs, thread_id: str) -> None:
        self.logs = logs
        self.thread_id = thread_id
        self.key = logs.key(thread_id)

    async def head(self) -> int:
        async with self.logs.backend.redis.pipeline(transaction=False) as pipe:
            pipe.get(f"{self.key}:seq")
            pipe.xrevrange(self.key, count=1)
            counter, newest = await pipe.execute()
        return max(int(counter or 0), _seq(newest[0][0]) if newest else 0)

    async def _gap(self, since: int) -> Gap | None:
        async with self.logs.backend.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(self.key, count=1)
            pipe.get(f"{self.key}:seq")
            pipe.xrevrange(self.key, count=1)
            oldest, counter, newest = await pipe.execute()
        last = max(int(counter or 0), _seq(newest[0][0]) if newest else 0)
        return gap_before(since, _seq(oldest[0][0]) if oldest else None, last)

    async def read(self, since: int) -> list[LoggedEvent] | Gap:
        gap = await self._gap(since)
        if gap is not None:
            return gap
        entries = await self.logs.backend.redis.xrange(self.key, min=f"0-{since + 1}")
        return [_event(e) for e in entries]

    async def batches(self, since: int) -> AsyncIterator[list[LoggedEvent] | Gap]:
        gap = await self._gap(since)
        if gap is not None:
            yield gap
            since = gap.min_available_seq - 1
        tail = self.logs.backend.tail
        sub = await tail.subscribe(self.key, f"0-{since}")
        try:
            while True:
                entries = await sub.queue.get()
                yield [_event(e) for e in entries]
        finally:
            tail.unsubscribe(sub)

    async def writer(self) -> RedisLogWriter:
        redis = self.logs.backend.redis
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(f"{self.key}:seq")
            pipe.xrevrange(self.key, count=1)
            pipe.smembers(f"{self.key}:asked")
            counter, newest, asked = await pipe.execute()
        last = max(int(counter or 0), _seq(newest[0][0]) if newest else 0)
        return RedisLogWriter(self, last, {a.decode() for a in asked})


class RedisLogWriter:
    """One run's writer of its thread's log."""

    def __init__(self, log: RedisThreadLog, last_seq: int, asked: set[str]) -> None:
        self.log = log
        self.last_seq = last_seq
        self.asked = asked
        self._known = set(asked)

    def append(self, method: str, namespace: Sequence[str], data: Any) -> LoggedEvent:
        event = envelope(self.last_seq + 1, method, namespace, data)
        self.last_seq = event.seq
        fields = {"m": method, "n": dumps(list(namespace)), "f": event.frame}
        self.log.logs.writer.add(self.log.thread_id, fields, f"0-{event.seq}")
        return event

    async def done(self) -> None:
        await self.log.logs.writer.flush(self.log.thread_id)
        fresh = self.asked - self._known
        if fresh:
            key = f"{self.log.key}:asked"
            async with self.log.logs.backend.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(key, *sorted(fresh))
                pipe.expire(key, self.log.logs.ttl)
                await pipe.execute()
            self._known |= fresh
