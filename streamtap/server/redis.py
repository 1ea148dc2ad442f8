"""A Redis Streams backend: several server processes behind a load balancer share runs.

Each run's events are a Redis stream (``XADD``; the entry id is the SSE ``id:``),
so a client that reconnects to any process resumes with ``Last-Event-ID`` through
``XREAD``. Run records, reader counts and threads are plain keys; cancellation is
a pub/sub message that the process running the run acts on. Finished runs expire
after ``ttl`` seconds; a stream keeps about its last ``max_events_per_run`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from streamtap._secrets import redact_secrets
from streamtap.server._proto_redis import RedisLogs
from streamtap.server._records import (
    TERMINAL,
    EventsExpiredError,
    RunRecord,
    StreamEvent,
    ThreadRecord,
    UnknownEventIdError,
    now_iso,
)
from streamtap.server._redis_tail import RedisTail
from streamtap.server._redis_writer import RedisWriter
from streamtap.server._serde import dumps
from streamtap.server.backend import END_EVENT, RunBackend

__all__ = ["RedisBackend"]

log = logging.getLogger("streamtap.server")

_ID = re.compile(r"^(\d+)-(\d+)$")
_UNFINISHED_TTL = 24 * 3600  # a run whose process died still expires eventually
#: a command that meets a dropped connection is retried, backing off to 1 s, for about 6 s
#: in all: a restarting Redis costs a pause, not the run (a reply lost on the way back
#: is the only way one event could be written twice)
_RETRIES = 10


def _id_key(event_id: str) -> tuple[int, int]:
    m = _ID.match(event_id)
    if m is None:
        raise UnknownEventIdError(
            f"Last-Event-ID {event_id!r} is not an id this server sent (ids look like 1718-0)"
        )
    return int(m[1]), int(m[2])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBackend(RunBackend):
    """Runs and events in Redis (``pip install streamtap[redis]``); ``url`` like ``redis://host:6379/0``."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "streamtap:",
        max_events_per_run: int = 50_000,
        ttl: float = 600.0,
        block_ms: int = 2_000,
    ) -> None:
        super().__init__()
        if max_events_per_run < 1 or ttl <= 0 or block_ms < 1:
            raise ValueError("max_events_per_run, ttl and block_ms must be positive")
        self.url = url
        self.prefix = prefix
        self.max_events_per_run = max_events_per_run
        self.ttl = ttl
        self.block_ms = block_ms
        #: Redis connections this process opens at most (a request beyond waits)
        self.max_connections = 64
        self._redis: Any = None
        #: seconds ``check`` (``GET /ready``) waits for Redis's answer
        self.check_timeout = 2.0
        #: whose run records say whether a run is over when its stream has gone quiet:
        #: this backend's, or (``PostgresBackend``) the database's
        self.records: RunBackend = self
        self._listener: asyncio.Task[None] | None = None
        self._tail: RedisTail | None = None
        self._writer: RedisWriter | None = None
        #: the threads' Agent Streaming Protocol logs (``_proto_redis``), once started
        self.protocol: RedisLogs | None = None
        self._wake_handler: Callable[[], None] | None = None

    # ------------------------------------------------------------------ connection

    @property
    def redis(self) -> Any:
        if self._redis is None:
            raise RuntimeError(
                "RedisBackend is not started: serve the app (its lifespan starts it)"
            )
        return self._redis

    async def start(self) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import EqualJitterBackoff
        from redis.exceptions import ConnectionError, TimeoutError

        retry = Retry(EqualJitterBackoff(cap=1.0, base=0.05), _RETRIES)
        # a burst of requests waits for a connection (up to 10 s) instead of failing at
        # the pool's limit; readers hold none of their own (``_redis_tail``)
        pool = BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=10,
            retry=retry,
            retry_on_error=[ConnectionError, TimeoutError],
        )
        self._redis = Redis(connection_pool=pool)
        await self._redis.ping()
        self._tail = RedisTail(lambda: self.redis, self.prefix, block_ms=self.block_ms)
        self._writer = RedisWriter(
            lambda: self.redis,
            self._events_key,
            maxlen=self.max_events_per_run,
            retry_on=self.unavailable_errors,
        )
        self.protocol = RedisLogs(self)
        self._listener = asyncio.create_task(self._listen())

    @property
    def tail(self) -> RedisTail:
        """The process's one ``XREAD`` loop (``_redis_tail``)."""
        if self._tail is None:
            raise RuntimeError(
                "RedisBackend is not started: serve the app (its lifespan starts it)"
            )
        return self._tail

    async def close(self) -> None:
        if self.protocol is not None:
            await self.protocol.close()
            self.protocol = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._tail is not None:
            await self._tail.close()
            self._tail = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)
            self._redis = None

    async def check(self) -> dict[str, str | None]:
        try:
            async with asyncio.timeout(self.check_timeout):
                await self.redis.ping()
        except Exception as exc:  # a refused, reset or timed-out connection alike
            reason = str(exc) or "no answer"
            return {"redis": f"{type(exc).__name__}: {redact_secrets(reason, self.url)}"}
        return {"redis": None}

    async def _listen(self) -> None:
        """Cancels and wake-ups from every process, for as long as this backend is open:
        a subscription lost with its connection (Redis restarted) is made again."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._cancel_channel, self._wake_channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    if _text(message["channel"]) == self._wake_channel:
                        if self._wake_handler is not None:
                            self._wake_handler()
                    else:
                        self._deliver_cancel(_text(message["data"]))
            except Exception as exc:  # the connection dropped: subscribe again
                log.warning("redis subscription lost (%s); subscribing again", type(exc).__name__)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    @property
    def unavailable_errors(self) -> tuple[type[BaseException], ...]:
        from redis.exceptions import ConnectionError, TimeoutError

        return (ConnectionError, TimeoutError)

    def set_wake_handler(self, handler: Callable[[], None]) -> None:
        """Called when any process asks the run workers to look for work now."""
        self._wake_handler = handler

    async def wake_workers(self) -> None:
        await self.redis.publish(self._wake_channel, b"")

    @property
    def _cancel_channel(self) -> str:
        return f"{self.prefix}cancel"

    @property
    def _wake_channel(self) -> str:
        return f"{self.prefix}wake"

    def _run_key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def _events_key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:events"

    def _thread_key(self, thread_id: str) -> str:
        return f"{self.prefix}thread:{thread_id}"

    def _thread_runs_key(self, thread_id: str) -> str:
        return f"{self.prefix}thread:{thread_id}:runs"

    # ------------------------------------------------------------------ runs

    async def create_run(self, run: RunRecord) -> None:
        key = self._run_key(run.run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "record": json.dumps(run.to_store()),
                    "status": run.status,
                    "listeners": 0,
                },
            )
            pipe.expire(key, _UNFINISHED_TTL)
            pipe.sadd(self._thread_runs_key(run.thread_id), run.run_id)
            pipe.expire(self._thread_runs_key(run.thread_id), _UNFINISHED_TTL)
            await pipe.execute()

    async def forget_run(self, run_id: str, thread_id: str) -> None:
        """Remove a run that was never admitted (its stream, record and thread entry)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._run_key(run_id), self._events_key(run_id))
            pipe.srem(self._thread_runs_key(thread_id), run_id)
            await pipe.execute()

    async def get_run(self, run_id: str) -> RunRecord | None:
        record, status, updated = await self.redis.hmget(
            self._run_key(run_id), "record", "status", "updated_at"
        )
        if record is None:
            return None
        run = RunRecord.from_store(json.loads(record))
        run.status = _text(status)  # type: ignore[assignment]
        if updated is not None:
            run.updated_at = _text(updated)
        return run

    async def set_run_status(self, run_id: str, status: str) -> None:
        key = self._run_key(run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"status": status, "updated_at": now_iso()})
            if status in TERMINAL:
                pipe.expire(key, int(self.ttl))
                pipe.expire(self._events_key(run_id), int(self.ttl))
            await pipe.execute()

    async def list_runs(self, thread_id: str) -> list[RunRecord]:
        ids = await self.redis.smembers(self._thread_runs_key(thread_id))
        runs = [run for i in ids if (run := await self.get_run(_text(i))) is not None]
        return sorted(runs, key=lambda run: run.created_at)  # a set has no order: creation's

    # ------------------------------------------------------------------ events

    async def append(self, run_id: str, event: str, data: bytes) -> None:
        """Behind the run, in pipelines (``_redis_writer``)."""
        assert self._writer is not None, "RedisBackend is not started"
        await self._writer.append(run_id, event, data)

    async def flush(self, run_id: str) -> None:
        if self._writer is not None:
            await self._writer.flush(run_id)

    async def publish(self, run_id: str, event: str, data: bytes) -> str:
        await self.flush(run_id)  # after what the run appended
        event_id = await self.redis.xadd(
            self._events_key(run_id),
            {"e": event, "d": data},
            maxlen=self.max_events_per_run,
            approximate=True,
        )
        return _text(event_id)

    async def _last(self, run_id: str) -> tuple[str, str] | None:
        entries = await self.redis.xrevrange(self._events_key(run_id), count=1)
        if not entries:
            return None
        event_id, fields = entries[0]
        return _text(event_id), _text(fields[b"e"])

    async def last_event_id(self, run_id: str) -> str | None:
        last = await self._last(run_id)
        return last[0] if last else None

    def _cursor(self, after: str | None) -> str:
        if after is None or after in ("-1", "0"):
            return "0-0"
        _id_key(after)
        return after

    async def check_cursor(self, run_id: str, after: str | None) -> None:
        cursor = self._cursor(after)
        last = await self._last(run_id)
        if last is not None and _id_key(cursor) > _id_key(last[0]):
            raise UnknownEventIdError(f"Last-Event-ID {after!r} is ahead of the run's newest event")
        if cursor == "0-0" and after is None:
            return
        with contextlib.suppress(Exception):  # XINFO needs Redis >= 7 for this field
            info = await self.redis.xinfo_stream(self._events_key(run_id))
            deleted = info.get("max-deleted-entry-id")
            if deleted is not None and _id_key(cursor) < _id_key(_text(deleted)):
                raise EventsExpiredError(
                    f"events after {cursor} were trimmed from the run's stream "
                    f"(it keeps about {self.max_events_per_run})"
                )

    async def read(self, run_id: str, after: str | None) -> AsyncIterator[list[StreamEvent]]:
        """Through the process's one tail loop (``_redis_tail``): a reader costs no Redis
        connection of its own, however many there are."""
        cursor = self._cursor(after)
        last = await self._last(run_id)
        if last is not None and last[1] == END_EVENT and _id_key(cursor) >= _id_key(last[0]):
            return
        assert self._tail is not None
        sub = await self._tail.subscribe(self._events_key(run_id), cursor)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.block_ms / 1000):
                        entries = await sub.queue.get()
                except TimeoutError:  # quiet: over, or its events expired?
                    run = await self.records.get_run(run_id)
                    if run is None:
                        return
                    if run.done:
                        last = await self._last(run_id)
                        if last is None or last[0] == sub.cursor:  # everything read
                            yield self._lost_end(run, sub.cursor)
                            return
                    continue
                batch = [StreamEvent(_text(i), _text(f[b"e"]), bytes(f[b"d"])) for i, f in entries]
                end = next((n for n, e in enumerate(batch) if e.event == END_EVENT), None)
                if end is not None:
                    yield batch[: end + 1]
                    return
                yield batch
        finally:
            self._tail.unsubscribe(sub)

    @staticmethod
    def _lost_end(run: RunRecord, cursor: str) -> list[StreamEvent]:
        """The end of a run whose ``end`` event never reached its stream (Redis lost it,
        or was away when it was written): its readers still learn how it ended, under
        the id of the last event they have."""
        events = []
        if run.status == "error":
            why = run.error or "the run failed; its events were lost"
            events.append(
                StreamEvent(cursor, "error", dumps({"error": "RunError", "message": why}))
            )
        end = {"run_id": run.run_id, "status": run.status}
        return [*events, StreamEvent(cursor, END_EVENT, dumps(end))]

    # ------------------------------------------------------------------ readers, cancel

    async def add_listener(self, run_id: str, delta: int) -> int:
        key = self._run_key(run_id)
        if delta == 0:
            value = await self.redis.hget(key, "listeners")
            return max(0, int(value or 0))
        if not await self.redis.exists(key):
            return 0
        return max(0, int(await self.redis.hincrby(key, "listeners", delta)))

    async def request_cancel(self, run_id: str) -> None:
        await self.redis.publish(self._cancel_channel, run_id)

    # ------------------------------------------------------------------ threads

    async def put_thread(self, thread: ThreadRecord) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._thread_key(thread.thread_id), json.dumps(thread.to_store()))
            pipe.zadd(f"{self.prefix}threads", {thread.thread_id: time.time()})
            await pipe.execute()

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        raw = await self.redis.get(self._thread_key(thread_id))
        return ThreadRecord.from_store(json.loads(raw)) if raw is not None else None

    async def delete_thread(self, thread_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._thread_key(thread_id))
            pipe.zrem(f"{self.prefix}threads", thread_id)
            await pipe.execute()

    async def list_threads(self) -> list[ThreadRecord]:
        ids = await self.redis.zrevrange(f"{self.prefix}threads", 0, -1)
        if not ids:
            return []
        raws = await self.redis.mget([self._thread_key(_text(i)) for i in ids])
        return [ThreadRecord.from_store(json.loads(r)) for r in raws if r is not None]
