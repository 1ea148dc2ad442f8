"""The run queue in Postgres: admission, claims with leases, and what a lost worker leaves.

Every rule that must hold across server processes is a statement Postgres runs atomically,
so no process has to trust another's view:

* **Admission** (``admit``) takes a transaction-level advisory lock on the thread, then
  applies the multitask strategy to the runs it finds there: with ``reject`` exactly one
  of any number of simultaneous requests is admitted; ``enqueue`` (the default, as on
  LangGraph's server) admits every one, in order.
* **Claiming** (``claim``) takes the oldest pending run whose thread has nothing running
  and no older pending run (``FOR UPDATE SKIP LOCKED``: two processes never take the same
  run), and a partial unique index makes a second running run on a thread impossible
  whatever happens. The claim carries a lease; the worker renews it (``heartbeat``).
* **A lost worker** (``expire``): a run whose lease ran out goes back to the queue, at its
  old place, while it has retries left (its graph has a checkpointer to resume from);
  otherwise it ends as ``error`` with ``worker lost``. A worker that lost its lease can no
  longer renew or finish the run: it learns so and stops, so nothing runs twice.

Rows are plain dicts (``QueuedRun``); the records the HTTP API shows are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamtap.server._records import ThreadBusy

__all__ = ["LeaseLost", "NewRun", "QueuedRun", "RunQueue"]

_COLUMNS = (
    "run_id, seq, thread_id, assistant_id, graph_id, status, kwargs, metadata, "
    "multitask_strategy, attempts, retries, worker, cancel, error"
)
_TERMINAL = ("success", "error", "timeout", "interrupted")
# the lock key of a thread: its id hashed (64 bits), in a key space of its own
_THREAD_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 20))"


class LeaseLost(Exception):
    """The worker's lease on a run expired and the run was requeued or failed: stop it."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id}: this process no longer holds its lease (worker lost)")
        self.run_id = run_id


@dataclass(frozen=True, slots=True)
class NewRun:
    """What admission needs to queue a run (``thread_id`` ``None``: a stateless run)."""

    run_id: str
    thread_id: str | None
    assistant_id: str
    graph_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    retries: int = 0


@dataclass(frozen=True, slots=True)
class QueuedRun:
    run_id: str
    seq: int
    thread_id: str | None
    assistant_id: str
    graph_id: str
    status: str
    kwargs: dict[str, Any]
    metadata: dict[str, Any]
    multitask_strategy: str
    attempts: int
    retries: int
    worker: str | None
    cancel: str | None
    error: str | None

    @property
    def done(self) -> bool:
        return self.status in _TERMINAL


def _run(row: Any) -> QueuedRun:
    return QueuedRun(*row)


class RunQueue:
    """The queue over a psycopg ``AsyncConnectionPool`` whose schema is migrated
    (``_pg_schema.migrate``). ``lease``: seconds a claim holds without a heartbeat."""

    def __init__(self, pool: Any, *, lease: float = 30.0) -> None:
        if not lease > 0:
            raise ValueError("lease must be a positive number of seconds")
        self.pool = pool
        self.lease = lease

    async def admit(self, run: NewRun, strategy: str = "enqueue") -> list[str]:
        """Queue ``run`` under ``strategy``; returns the runs of its thread it comes after.

        ``reject``: :class:`ThreadBusy` when the thread has a run pending or running.
        ``interrupt`` / ``rollback``: those runs are asked to stop (pending ones end at
        once, as ``interrupted``); the new run is claimed once they have ended."""
        if strategy not in ("reject", "enqueue", "interrupt", "rollback"):
            raise ValueError(
                f"multitask_strategy {strategy!r}: one of reject, enqueue, interrupt, rollback"
            )
        async with self.pool.connection() as conn, conn.transaction():
            ahead: list[tuple[str, str]] = []
            if run.thread_id is not None:
                await conn.execute(_THREAD_LOCK, (run.thread_id,))
                cur = await conn.execute(
                    "SELECT run_id, status FROM streamtap_runs WHERE thread_id = %s"
                    " AND status IN ('pending', 'running') ORDER BY seq",
                    (run.thread_id,),
                )
                ahead = [(r[0], r[1]) for r in await cur.fetchall()]
            if ahead and strategy == "reject":
                raise ThreadBusy(run.thread_id or "")
            if ahead and strategy in ("interrupt", "rollback"):
                ids = [run_id for run_id, _ in ahead]
                await conn.execute(
                    "UPDATE streamtap_runs SET status = CASE WHEN status = 'pending'"
                    " THEN 'interrupted' ELSE status END, cancel = %s, updated_at = now()"
                    " WHERE run_id = ANY(%s)",
                    (strategy, ids),
                )
            await conn.execute(
                "INSERT INTO streamtap_runs (run_id, thread_id, assistant_id, graph_id,"
                " kwargs, metadata, multitask_strategy, retries)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    run.run_id,
                    run.thread_id,
                    run.assistant_id,
                    run.graph_id,
                    _json(run.kwargs),
                    _json(run.metadata),
                    strategy,
                    run.retries,
                ),
            )
        return [run_id for run_id, _ in ahead]

    async def claim(self, worker: str) -> QueuedRun | None:
        """The next run this worker may execute, now ``running`` under its lease."""
        from psycopg import errors

        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "UPDATE streamtap_runs AS r SET status = 'running', worker = %s,"
                    " lease_until = now() + make_interval(secs => %s),"
                    " attempts = r.attempts + 1, updated_at = now()"
                    " FROM (SELECT p.run_id FROM streamtap_runs p WHERE p.status = 'pending'"
                    "   AND (p.thread_id IS NULL OR NOT EXISTS (SELECT 1 FROM streamtap_runs o"
                    "     WHERE o.thread_id = p.thread_id AND (o.status = 'running'"
                    "       OR (o.status = 'pending' AND o.seq < p.seq))))"
                    "   ORDER BY p.seq LIMIT 1 FOR UPDATE SKIP LOCKED) AS next"
                    f" WHERE r.run_id = next.run_id RETURNING {_prefixed('r')}",
                    (worker, self.lease),
                )
                row = await cur.fetchone()
        except errors.UniqueViolation:
            return None  # a run of that thread was claimed in between: the index held
        return None if row is None else _run(row)

    async def heartbeat(self, run_id: str, worker: str) -> str | None:
        """Renew the lease; returns the stop action a client asked for (or ``None``).
        :class:`LeaseLost` when the run is no longer this worker's."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE streamtap_runs SET lease_until = now() + make_interval(secs => %s)"
                " WHERE run_id = %s AND worker = %s AND status = 'running' RETURNING cancel",
                (self.lease, run_id, worker),
            )
            row = await cur.fetchone()
        if row is None:
            raise LeaseLost(run_id)
        return row[0]  # type: ignore[no-any-return]

    async def finish(self, run_id: str, worker: str, status: str, error: str | None = None) -> None:
        """Record the outcome; :class:`LeaseLost` (nothing written) when the run is no
        longer this worker's: another attempt, or the ``worker lost`` outcome, stands."""
        if status not in _TERMINAL:
            raise ValueError(f"status {status!r}: one of {', '.join(_TERMINAL)}")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE streamtap_runs SET status = %s, error = %s, worker = NULL,"
                " lease_until = NULL, updated_at = now()"
                " WHERE run_id = %s AND worker = %s AND status = 'running' RETURNING run_id",
                (status, error, run_id, worker),
            )
            if await cur.fetchone() is None:
                raise LeaseLost(run_id)

    async def cancel(self, run_id: str, action: str = "interrupt") -> QueuedRun | None:
        """Ask a run to stop: a pending one ends at once (``interrupted``), a running one
        is told at its worker's next heartbeat. ``None``: no such run."""
        if action not in ("interrupt", "rollback"):
            raise ValueError(f"action {action!r}: interrupt or rollback")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE streamtap_runs SET cancel = CASE WHEN status IN ('pending', 'running')"
                " THEN %s ELSE cancel END, status = CASE WHEN status = 'pending'"
                " THEN 'interrupted' ELSE status END, updated_at = now()"
                f" WHERE run_id = %s RETURNING {_COLUMNS}",
                (action, run_id),
            )
            row = await cur.fetchone()
        return None if row is None else _run(row)

    async def expire(self) -> list[QueuedRun]:
        """Runs whose lease ran out: back to the queue while retries are left, else
        ``error`` with ``worker lost`` (``interrupted`` when a client had asked it to
        stop). Any process may call it, as often as it likes."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE streamtap_runs SET"
                " status = CASE WHEN cancel IS NOT NULL THEN 'interrupted'"
                "   WHEN attempts <= retries THEN 'pending' ELSE 'error' END,"
                " error = CASE WHEN cancel IS NULL AND attempts <= retries"
                "   THEN NULL ELSE 'worker lost' END,"
                " worker = NULL, lease_until = NULL, updated_at = now()"
                " WHERE run_id IN (SELECT run_id FROM streamtap_runs WHERE status = 'running'"
                "   AND lease_until < now() FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_COLUMNS}"
            )
            return [_run(row) for row in await cur.fetchall()]

    async def get(self, run_id: str) -> QueuedRun | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM streamtap_runs WHERE run_id = %s", (run_id,)
            )
            row = await cur.fetchone()
        return None if row is None else _run(row)

    async def on_thread(self, thread_id: str) -> list[QueuedRun]:
        """A thread's runs in admission order."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM streamtap_runs WHERE thread_id = %s ORDER BY seq",
                (thread_id,),
            )
            return [_run(row) for row in await cur.fetchall()]


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _COLUMNS.split(","))


def _json(value: dict[str, Any]) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)
