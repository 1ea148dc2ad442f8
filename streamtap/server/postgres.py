"""Threads and runs in Postgres, each run's events in Redis: the scale-out backend.

Any number of server processes share one database and one Redis: records live in
Postgres (``streamtap_threads``, ``streamtap_runs``, created and upgraded at start-up by
``_pg_schema.migrate``), events, reader counts and cancellation go through a
:class:`~streamtap.server.redis.RedisBackend` as with Redis alone. Postgres holds the
rules that must hold across processes: a partial unique index makes a second running run
on one thread impossible (the run that would have been it fails with ``ThreadBusy``
instead of writing competing checkpoints).

Runs go through the queue in Postgres (``_pg_queue``): admitted atomically under the
thread's multitask strategy, executed by whichever process's workers claim them
(``_pg_workers``; ``RunManager`` drives both), retried from their last checkpoint when
the process running them dies.

Thread *state* is the checkpointer's: ``create_app(database_url=...)`` gives every graph
without a checkpointer of its own LangGraph's ``AsyncPostgresSaver`` on the same database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from streamtap._secrets import redact_secrets
from streamtap.server._pg_queue import RunQueue
from streamtap.server._pg_schema import migrate
from streamtap.server._records import RunRecord, StreamEvent, ThreadBusy, ThreadRecord
from streamtap.server.backend import RunBackend
from streamtap.server.redis import RedisBackend

__all__ = ["PostgresBackend"]

_RUN_COLUMNS = (
    "run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, created_at,"
    " updated_at, error"
)
_THREAD_COLUMNS = "thread_id, metadata, status, created_at, updated_at"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _run(row: Any) -> RunRecord:
    run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, created, updated, error = (
        row
    )
    return RunRecord(
        run_id=run_id,
        thread_id=thread_id,
        assistant_id=assistant_id,
        graph_id=graph_id,
        stateless=bool(kwargs.get("stateless", False)),
        stream_resumable=bool(kwargs.get("stream_resumable", False)),
        on_disconnect=str(kwargs.get("on_disconnect", "cancel")),
        status=status,
        metadata=metadata,
        created_at=_iso(created),
        updated_at=_iso(updated),
        error=error,
    )


def _thread(row: Any) -> ThreadRecord:
    thread_id, metadata, status, created, updated = row
    return ThreadRecord(thread_id, metadata, status, _iso(created), _iso(updated))


class PostgresBackend(RunBackend):
    """Records and the run queue in Postgres (``database_url``, ``postgresql://...``),
    events in Redis (``redis_url``); ``pip install 'streamtap[postgres,redis]'``.

    ``pool_size``: the most database connections this process opens. ``lease``: seconds a
    process holds a run it claimed without renewing (every ``heartbeat`` seconds); once a
    lease runs out the run is retried up to ``retries`` times from its last checkpoint (when
    its graph has a checkpointer), else ends ``error`` with ``worker lost``.
    ``connect_timeout``: seconds a request waits for a database connection before it fails
    with 503."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        *,
        prefix: str = "streamtap:",
        pool_size: int = 10,
        check_timeout: float = 2.0,
        lease: float = 30.0,
        heartbeat: float = 10.0,
        retries: int = 1,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        if pool_size < 1 or not check_timeout > 0 or not connect_timeout > 0:
            raise ValueError("pool_size must be >= 1, check_timeout and connect_timeout positive")
        if not 0 < heartbeat < lease or retries < 0:
            raise ValueError(
                f"need 0 < heartbeat < lease and retries >= 0 (got heartbeat={heartbeat}, "
                f"lease={lease}, retries={retries}): a lease that runs out between two "
                "renewals would be taken from a live process"
            )
        self.database_url = database_url
        self.events = RedisBackend(redis_url, prefix=prefix)
        self.events.check_timeout = check_timeout
        self.events.records = self  # a quiet stream's run is over when Postgres says so
        self.pool_size = pool_size
        self.check_timeout = check_timeout
        self.lease = lease
        self.heartbeat = heartbeat
        self.retries = retries
        self.connect_timeout = connect_timeout
        self._pool: Any = None

    @property
    def unavailable_errors(self) -> tuple[type[BaseException], ...]:
        from psycopg import OperationalError
        from psycopg_pool import PoolTimeout

        return (OperationalError, PoolTimeout, *self.events.unavailable_errors)

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError(
                "PostgresBackend is not started: serve the app (its lifespan starts it)"
            )
        return self._pool

    async def start(self) -> None:
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            self.database_url,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self.connect_timeout))},
            # a connection the database dropped (a restart) is replaced, not handed out
            check=AsyncConnectionPool.check_connection,
            timeout=self.connect_timeout,
        )
        await pool.open(wait=True, timeout=30)
        try:
            async with pool.connection() as conn:
                await migrate(conn)
            self.events.set_cancel_handler(self._deliver_cancel)
            await self.events.start()
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self.queue = RunQueue(pool, lease=self.lease)

    async def close(self) -> None:
        self.queue = None
        await self.events.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # ------------------------------------------------------------------ the queue's helpers

    def set_wake_handler(self, handler: Callable[[], None]) -> None:
        self.events.set_wake_handler(handler)

    async def wake_workers(self) -> None:
        """Every process's workers look for runs now, not at their next poll."""
        await self.events.wake_workers()

    async def open_stream(self, run: RunRecord) -> None:
        """The run's event stream and reader count, before it is admitted: a worker of
        another process may claim it the moment it is."""
        await self.events.create_run(run)

    async def forget_stream(self, run: RunRecord) -> None:
        await self.events.forget_run(run.run_id, run.thread_id)

    async def mark_ended(self, run_id: str, status: str) -> None:
        """The queue recorded the run's end: its stream expires as a finished run's."""
        await self.events.set_run_status(run_id, status)

    async def check(self) -> dict[str, str | None]:
        postgres: str | None = None
        try:
            async with asyncio.timeout(self.check_timeout):
                async with self.pool.connection() as conn:
                    await conn.execute("SELECT 1")
        except Exception as exc:
            reason = redact_secrets(str(exc) or "no answer", self.database_url)
            postgres = f"{type(exc).__name__}: {reason}"
        return {"postgres": postgres, **await self.events.check()}

    # ------------------------------------------------------------------ runs

    async def create_run(self, run: RunRecord) -> None:
        from psycopg.types.json import Jsonb

        kwargs = {
            "stateless": run.stateless,
            "stream_resumable": run.stream_resumable,
            "on_disconnect": run.on_disconnect,
        }
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO streamtap_runs (run_id, thread_id, assistant_id, graph_id, status,"
                " kwargs, metadata, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz)",
                (
                    run.run_id,
                    run.thread_id,
                    run.assistant_id,
                    run.graph_id,
                    run.status,
                    Jsonb(kwargs),
                    Jsonb(run.metadata),
                    run.created_at,
                    run.updated_at,
                ),
            )
        await self.events.create_run(run)  # its event stream, reader count and expiry

    async def get_run(self, run_id: str) -> RunRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM streamtap_runs WHERE run_id = %s", (run_id,)
            )
            row = await cur.fetchone()
        return None if row is None else _run(row)

    async def set_run_status(self, run_id: str, status: str) -> None:
        from psycopg import errors

        async with self.pool.connection() as conn:
            try:
                cur = await conn.execute(
                    "UPDATE streamtap_runs SET status = %s, updated_at = now()"
                    " WHERE run_id = %s RETURNING thread_id",
                    (status, run_id),
                )
            except errors.UniqueViolation:  # another run of the thread is running
                cur = await conn.execute(
                    "SELECT thread_id FROM streamtap_runs WHERE run_id = %s", (run_id,)
                )
                row = await cur.fetchone()
                raise ThreadBusy(row[0] if row else "") from None
            if await cur.fetchone() is None:
                raise KeyError(f"run {run_id} is not known")
        await self.events.set_run_status(run_id, status)

    async def list_runs(self, thread_id: str) -> list[RunRecord]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM streamtap_runs WHERE thread_id = %s ORDER BY seq",
                (thread_id,),
            )
            return [_run(row) for row in await cur.fetchall()]

    # ------------------------------------------------------------------ events (Redis)

    async def publish(self, run_id: str, event: str, data: bytes) -> str:
        return await self.events.publish(run_id, event, data)

    async def append(self, run_id: str, event: str, data: bytes) -> None:
        await self.events.append(run_id, event, data)

    async def flush(self, run_id: str) -> None:
        await self.events.flush(run_id)

    async def last_event_id(self, run_id: str) -> str | None:
        return await self.events.last_event_id(run_id)

    async def check_cursor(self, run_id: str, after: str | None) -> None:
        await self.events.check_cursor(run_id, after)

    def read(self, run_id: str, after: str | None) -> AsyncIterator[list[StreamEvent]]:
        return self.events.read(run_id, after)

    def read_sse(self, run_id: str, after: str | None) -> AsyncIterator[bytes]:
        return self.events.read_sse(run_id, after)

    async def add_listener(self, run_id: str, delta: int) -> int:
        return await self.events.add_listener(run_id, delta)

    async def request_cancel(self, run_id: str) -> None:
        await self.events.request_cancel(run_id)

    # ------------------------------------------------------------------ threads

    async def put_thread(self, thread: ThreadRecord) -> None:
        from psycopg.types.json import Jsonb

        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO streamtap_threads ({_THREAD_COLUMNS})"
                " VALUES (%s, %s, %s, %s::timestamptz, %s::timestamptz)"
                " ON CONFLICT (thread_id) DO UPDATE SET metadata = excluded.metadata,"
                " status = excluded.status, created_at = excluded.created_at,"
                " updated_at = excluded.updated_at",
                (
                    thread.thread_id,
                    Jsonb(thread.metadata),
                    thread.status,
                    thread.created_at,
                    thread.updated_at,
                ),
            )

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM streamtap_threads WHERE thread_id = %s",
                (thread_id,),
            )
            row = await cur.fetchone()
        return None if row is None else _thread(row)

    async def delete_thread(self, thread_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM streamtap_threads WHERE thread_id = %s", (thread_id,))

    async def list_threads(self) -> list[ThreadRecord]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_THREAD_COLUMNS} FROM streamtap_threads ORDER BY updated_at DESC"
            )
            return [_thread(row) for row in await cur.fetchall()]
