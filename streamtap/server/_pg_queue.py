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

__all__ = ["LeaseLost", "NewRun", "Outcome", "QueuedRun", "RunQueue"]

_COLUMNS = (
    "run_id, seq, thread_id, assistant_id, graph_id, status, kwargs, metadata, "
    "multitask_strategy, attempts, retries, worker, cancel, error"
)
_TERMINAL = ("success", "error", "timeout", "interrupted")
# the lock key of a thread: its id hashed (64 bits), in a key space of its own
_THREAD_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 20))"
# a thread's status once one of its runs ended: busy while another is pending or running
# (written in the transaction that ends the run, so a run claimed meanwhile keeps it busy)
_SETTLE = (
    "UPDATE streamtap_threads SET status = CASE WHEN EXISTS (SELECT 1 FROM streamtap_runs"
    " WHERE thread_id = %(thread)s AND status IN ('pending', 'running')) THEN 'busy'"
    " ELSE %(status)s END, updated_at = now() WHERE thread_id = %(thread)s"
)
#: the thread's status after a run ended so, unless the graph's state says otherwise
THREAD_STATUS = {"success": "idle", "error": "error", "timeout": "error", "interrupted": "idle"}


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
    #: merged into the thread's metadata as it turns ``busy`` (``None``: a stateless
    #: run, whose thread is not a stored one)
    thread_metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an execution ended: the run's status and error, and the thread's status
    (``None``: :data:`THREAD_STATUS` of the run's)."""

    status: str
    error: str | None = None
    thread_status: str | None = None


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

    async def admit(self, run: NewRun, strategy: str = "enqueue") -> list[tuple[str, str]]:
        """Queue ``run`` under ``strategy``; returns the runs of its thread it comes after,
        with the status each had (``pending`` / ``running``).

        ``reject``: :class:`ThreadBusy` when the thread has a run pending or running.
        ``interrupt`` / ``rollback``: those runs are asked to stop (pending ones end at
        once, as ``interrupted``); the new run is claimed once they have ended, and with
        ``rollback`` its kwargs name them (``rollback_of``) so its executor undoes them
        first. The thread turns ``busy`` in the same transaction."""
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
            kwargs = run.kwargs
            if ahead and strategy in ("interrupt", "rollback"):
                ids = [run_id for run_id, _ in ahead]
                if strategy == "rollback":
                    kwargs = {**kwargs, "rollback_of": ids}
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
                    _json(kwargs),
                    _json(run.metadata),
                    strategy,
                    run.retries,
                ),
            )
            if run.thread_id is not None and run.thread_metadata is not None:
                await conn.execute(
                    "UPDATE streamtap_threads SET status = 'busy', metadata = metadata || %s,"
                    " updated_at = now() WHERE thread_id = %s",
                    (_json(run.thread_metadata), run.thread_id),
                )
        return ahead

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

    async def finish(self, run_id: str, worker: str, outcome: Outcome | str) -> None:
        """Record the outcome, and the thread's status with it; :class:`LeaseLost`
        (nothing written) when the run is no longer this worker's: another attempt, or the
        ``worker lost`` outcome, stands."""
        if isinstance(outcome, str):
            outcome = Outcome(outcome)
        if outcome.status not in _TERMINAL:
            raise ValueError(f"status {outcome.status!r}: one of {', '.join(_TERMINAL)}")
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE streamtap_runs SET status = %s, error = %s, worker = NULL,"
                " lease_until = NULL, updated_at = now()"
                " WHERE run_id = %s AND worker = %s AND status = 'running' RETURNING thread_id",
                (outcome.status, outcome.error, run_id, worker),
            )
            row = await cur.fetchone()
            if row is None:
                raise LeaseLost(run_id)
            thread_status = outcome.thread_status or THREAD_STATUS[outcome.status]
            await conn.execute(_SETTLE, {"thread": row[0], "status": thread_status})

    async def release(self, run_id: str, worker: str) -> QueuedRun:
        """Give a running run back because this process is stopping (not because it
        failed): queued again at its old place when it can resume from a checkpoint and no
        client asked it to stop (the hand-over costs none of its retries), else
        ``interrupted``. :class:`LeaseLost` when the run is no longer this worker's."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE streamtap_runs SET"
                " status = CASE WHEN cancel IS NULL AND retries > 0"
                "   THEN 'pending' ELSE 'interrupted' END,"
                " retries = CASE WHEN cancel IS NULL AND retries > 0"
                "   THEN retries + 1 ELSE retries END,"
                " worker = NULL, lease_until = NULL, updated_at = now()"
                " WHERE run_id = %s AND worker = %s AND status = 'running'"
                f" RETURNING {_COLUMNS}",
                (run_id, worker),
            )
            row = await cur.fetchone()
            if row is None:
                raise LeaseLost(run_id)
            run = _run(row)
            if run.done and run.thread_id is not None:
                await conn.execute(_SETTLE, {"thread": run.thread_id, "status": "idle"})
        return run

    async def cancel(self, run_id: str, action: str = "interrupt") -> tuple[QueuedRun, str] | None:
        """Ask a run to stop: a pending one ends at once (``interrupted``), a running one
        is told at its worker's next heartbeat (and at once by whoever relays it). Returns
        the run now and the status it had; ``None``: no such run."""
        if action not in ("interrupt", "rollback"):
            raise ValueError(f"action {action!r}: interrupt or rollback")
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT status FROM streamtap_runs WHERE run_id = %s FOR UPDATE", (run_id,)
            )
            before = await cur.fetchone()
            if before is None:
                return None
            cur = await conn.execute(
                "UPDATE streamtap_runs SET cancel = CASE WHEN status IN ('pending', 'running')"
                " THEN %s ELSE cancel END, status = CASE WHEN status = 'pending'"
                " THEN 'interrupted' ELSE status END, updated_at = now()"
                f" WHERE run_id = %s RETURNING {_COLUMNS}",
                (action, run_id),
            )
            run = _run(await cur.fetchone())
            if before[0] == "pending" and run.thread_id is not None:
                await conn.execute(_SETTLE, {"thread": run.thread_id, "status": "idle"})
        return run, before[0]

    async def expire(self) -> list[QueuedRun]:
        """Runs whose lease ran out: back to the queue while retries are left, else
        ``error`` with ``worker lost`` (``interrupted`` when a client had asked it to
        stop). The threads of runs that ended so are settled with them. Any process may
        call it, as often as it likes."""
        async with self.pool.connection() as conn, conn.transaction():
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
            runs = [_run(row) for row in await cur.fetchall()]
            for run in runs:
                if run.done and run.thread_id is not None:
                    status = THREAD_STATUS[run.status]
                    await conn.execute(_SETTLE, {"thread": run.thread_id, "status": status})
            return runs

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
