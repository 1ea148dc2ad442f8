"""Workers on the Postgres run queue (``streamtap.server._pg_workers``), several "processes"
(worker pools with their own ids) on one real database: every run executed once, one at a
time per thread; cancels and lost leases stop the run where it runs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from streamtap.server._pg_queue import NewRun, Outcome, QueuedRun, RunQueue
from streamtap.server._pg_workers import RunWorkers


def _run(thread_id: str | None, retries: int = 0) -> NewRun:
    return NewRun(str(uuid.uuid4()), thread_id, "a", "agent", retries=retries)


def _blocking() -> tuple[asyncio.Event, asyncio.Event, Any]:
    """An execute that runs until cancelled: (started, stopped, execute)."""
    started, stopped = asyncio.Event(), asyncio.Event()

    async def execute(run: QueuedRun) -> Outcome:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return Outcome("success")

    return started, stopped, execute


async def _until(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_workers_in_three_processes_run_every_run_once_one_per_thread(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=2.0)
    executed: list[tuple[str, str]] = []  # (worker, run)
    going: dict[str, str] = {}  # thread -> run
    clashes: list[str] = []

    def execute_as(name: str) -> Any:
        async def execute(run: QueuedRun) -> Outcome:
            assert run.thread_id is not None
            if run.thread_id in going:
                clashes.append(run.thread_id)
            going[run.thread_id] = run.run_id
            executed.append((name, run.run_id))
            await asyncio.sleep(0.01)
            del going[run.thread_id]
            return Outcome("success")

        return execute

    processes = [
        RunWorkers(queue, execute_as(f"p{i}"), jobs=2, heartbeat=0.5, poll=0.05) for i in range(3)
    ]
    runs = [_run(f"t{i % 4}") for i in range(24)]
    for run in runs:
        await queue.admit(run)
    for p in processes:
        await p.start()
    try:

        async def all_done() -> bool:
            statuses = [(await queue.get(r.run_id)).status for r in runs]  # type: ignore[union-attr]
            return set(statuses) == {"success"}

        await _until(all_done)
    finally:
        for p in processes:
            await p.close()
    assert sorted(run for _, run in executed) == sorted(r.run_id for r in runs)
    assert clashes == []
    assert len({name for name, _ in executed}) > 1  # the work was shared


async def test_a_client_cancel_stops_the_run_where_it_runs(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=1.0)
    started, stopped, execute = _blocking()
    workers = RunWorkers(queue, execute, heartbeat=0.1, poll=0.05)
    run = _run("t")
    await queue.admit(run)
    await workers.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        await queue.cancel(run.run_id)
        await asyncio.wait_for(stopped.wait(), 10)

        async def interrupted() -> bool:
            return (await queue.get(run.run_id)).status == "interrupted"  # type: ignore[union-attr]

        await _until(interrupted)
    finally:
        await workers.close()


async def test_a_run_whose_process_died_is_retried_by_another(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=0.5)
    run = _run("t", retries=1)
    await queue.admit(run)
    claimed = await queue.claim("dead-process")  # claims, then is killed: no heartbeat
    assert claimed is not None
    attempts: list[int] = []

    async def execute(queued: QueuedRun) -> Outcome:
        attempts.append(queued.attempts)
        return Outcome("success")

    workers = RunWorkers(queue, execute, heartbeat=0.1, poll=0.05)
    await workers.start()
    try:

        async def done() -> bool:
            return (await queue.get(run.run_id)).status == "success"  # type: ignore[union-attr]

        await _until(done)
    finally:
        await workers.close()
    assert attempts == [2]


async def test_a_worker_that_lost_its_lease_stops_and_writes_nothing(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=1.0)
    started, stopped, execute = _blocking()
    workers = RunWorkers(queue, execute, heartbeat=0.1, poll=0.05, worker_id="slow")
    run = _run("t")
    await queue.admit(run)
    await workers.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        async with pg_pool.connection() as conn:  # the lease went to another process meanwhile
            await conn.execute(
                "UPDATE streamtap_runs SET worker = 'other' WHERE run_id = %s", (run.run_id,)
            )
        await asyncio.wait_for(stopped.wait(), 10)
        await _until(lambda: _idle(workers))
    finally:
        await workers.close()
    row = await queue.get(run.run_id)
    assert row is not None and (row.status, row.worker) == ("running", "other")


async def _idle(workers: RunWorkers) -> bool:
    return not workers.running


async def test_close_interrupts_this_processs_runs_and_bad_settings_are_refused(
    pg_pool: Any,
) -> None:
    queue = RunQueue(pg_pool, lease=1.0)
    started = asyncio.Event()

    async def execute(run: QueuedRun) -> Outcome:
        started.set()
        await asyncio.sleep(60)
        return Outcome("success")

    workers = RunWorkers(queue, execute, heartbeat=0.2, poll=0.05)
    run = _run(None)
    await queue.admit(run)
    await workers.start()
    await asyncio.wait_for(started.wait(), 10)
    await workers.close()
    assert (await queue.get(run.run_id)).status == "interrupted"  # type: ignore[union-attr]
    assert workers.running == {}
    with pytest.raises(ValueError, match="shorter than the lease"):
        RunWorkers(queue, execute, heartbeat=1.0)
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        RunWorkers(queue, execute, jobs=0, heartbeat=0.5)
