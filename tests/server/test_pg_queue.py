"""The Postgres run queue (``streamtap.server._pg_queue``) against a real server: admission
under each multitask strategy with simultaneous requests, claims by competing workers,
leases that run out, and the outcome a lost worker leaves."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from streamtap.server._pg_queue import LeaseLost, NewRun, QueuedRun, RunQueue
from streamtap.server._pg_schema import MIGRATIONS, migrate, schema_version
from streamtap.server._records import ThreadBusy


def _run(thread_id: str | None, retries: int = 0) -> NewRun:
    return NewRun(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        assistant_id="a",
        graph_id="agent",
        kwargs={"input": {"n": 1}},
        retries=retries,
    )


async def _admit_all(queue: RunQueue, thread_id: str, n: int, strategy: str) -> list[Any]:
    """``n`` simultaneous admissions on one thread, each on its own connection."""
    return await asyncio.gather(
        *(queue.admit(_run(thread_id), strategy) for _ in range(n)), return_exceptions=True
    )


async def test_migrations_apply_once_even_when_processes_start_together(
    postgres_db: str,
) -> None:
    import psycopg

    conns = [await psycopg.AsyncConnection.connect(postgres_db) for _ in range(3)]
    try:
        assert await schema_version(conns[0]) == 0
        with pytest.raises(ValueError, match="outside a transaction"):
            await migrate(conns[0])  # schema_version opened one
        await conns[0].commit()
        applied = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(applied, key=len) == [[], [], sorted(MIGRATIONS)]
        assert await schema_version(conns[0]) == max(MIGRATIONS)
        assert await migrate(conns[1]) == []
    finally:
        for c in conns:
            await c.close()


async def test_reject_admits_exactly_one_of_simultaneous_requests(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool)
    for round_ in range(20):
        thread = f"t{round_}"
        outcomes = await _admit_all(queue, thread, 12, "reject")
        admitted = [o for o in outcomes if isinstance(o, list)]
        refused = [o for o in outcomes if isinstance(o, ThreadBusy)]
        assert (len(admitted), len(refused)) == (1, 11), outcomes
        assert admitted == [[]]
        assert [r.status for r in await queue.on_thread(thread)] == ["pending"]


async def test_enqueue_admits_all_and_they_run_one_at_a_time_in_order(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool)
    outcomes = await _admit_all(queue, "t", 12, "enqueue")
    assert sorted(len(o) for o in outcomes) == list(range(12))  # each after those before
    order = [r.run_id for r in await queue.on_thread("t")]
    ran: list[str] = []
    overlaps: list[int] = []

    async def worker(name: str) -> None:
        while len(ran) < 12:
            run = await queue.claim(name)
            if run is None:
                await asyncio.sleep(0.001)
                continue
            running = [r for r in await queue.on_thread("t") if r.status == "running"]
            overlaps.append(len(running))
            ran.append(run.run_id)
            await asyncio.sleep(0.002)
            await queue.finish(run.run_id, name, "success")

    await asyncio.wait_for(asyncio.gather(*(worker(f"w{i}") for i in range(3))), 30)
    assert ran == order
    assert set(overlaps) == {1}
    assert {r.status for r in await queue.on_thread("t")} == {"success"}


async def test_competing_workers_claim_each_run_once_and_never_two_on_a_thread(
    pg_pool: Any,
) -> None:
    queue = RunQueue(pg_pool)
    runs = [_run(f"t{i % 5}") for i in range(20)] + [_run(None) for _ in range(5)]
    for run in runs:
        await queue.admit(run)
    claimed: list[QueuedRun] = []
    running: dict[str, str] = {}  # thread -> run, as the workers see it
    clashes: list[str] = []

    async def worker(name: str) -> None:
        idle = 0
        while idle < 50:
            run = await queue.claim(name)
            if run is None:
                idle += 1
                await asyncio.sleep(0.002)
                continue
            idle = 0
            claimed.append(run)
            if run.thread_id is not None:
                if run.thread_id in running:
                    clashes.append(run.thread_id)
                running[run.thread_id] = run.run_id
            await asyncio.sleep(0.001)
            if run.thread_id is not None:
                del running[run.thread_id]
            await queue.finish(run.run_id, name, "success")

    await asyncio.wait_for(asyncio.gather(*(worker(f"w{i}") for i in range(6))), 60)
    assert sorted(r.run_id for r in claimed) == sorted(r.run_id for r in runs)
    assert clashes == []
    assert all(r.attempts == 1 for r in claimed)


async def test_a_lost_workers_run_is_retried_then_fails_as_worker_lost(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=1.0)  # long enough that a busy machine never loses it early
    run = _run("t", retries=1)
    await queue.admit(run)
    first = await queue.claim("w1")
    assert first is not None and (first.run_id, first.attempts) == (run.run_id, 1)
    assert await queue.heartbeat(run.run_id, "w1") is None
    assert await queue.expire() == []  # the lease was just renewed
    await asyncio.sleep(1.1)  # w1 dies: no heartbeat
    (back,) = await queue.expire()
    assert (back.status, back.worker, back.error) == ("pending", None, None)
    with pytest.raises(LeaseLost):
        await queue.heartbeat(run.run_id, "w1")
    with pytest.raises(LeaseLost):
        await queue.finish(run.run_id, "w1", "success")  # nothing written
    second = await queue.claim("w2")
    assert second is not None and (second.run_id, second.attempts) == (run.run_id, 2)
    await asyncio.sleep(1.1)
    (lost,) = await queue.expire()
    assert (lost.status, lost.error, lost.attempts) == ("error", "worker lost", 2)
    assert await queue.claim("w3") is None  # not run a third time
    assert await queue.expire() == []


async def test_without_a_checkpointer_a_lost_run_fails_at_once(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=0.1)
    run = _run("t", retries=0)
    await queue.admit(run)
    assert await queue.claim("w1") is not None
    await asyncio.sleep(0.2)
    (lost,) = await queue.expire()
    assert (lost.status, lost.error) == ("error", "worker lost")


async def test_cancel_ends_a_pending_run_and_tells_a_running_ones_worker(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool, lease=1.0)
    going, waiting = _run("t"), _run("t")
    await queue.admit(going)
    await queue.admit(waiting)
    assert (await queue.claim("w1")).run_id == going.run_id  # type: ignore[union-attr]
    cancelled = await queue.cancel(waiting.run_id)
    assert cancelled is not None and (cancelled[0].status, cancelled[1]) == (
        "interrupted",
        "pending",
    )
    stopping = await queue.cancel(going.run_id)
    assert stopping is not None and (stopping[0].status, stopping[1]) == ("running", "running")
    assert await queue.heartbeat(going.run_id, "w1") == "interrupt"
    await asyncio.sleep(1.1)  # its worker dies before it stops: interrupted, not retried
    (lost,) = await queue.expire()
    assert (lost.status, lost.error) == ("interrupted", "worker lost")
    assert await queue.cancel("no-such-run") is None


async def test_interrupt_stops_the_going_run_before_the_new_one_starts(pg_pool: Any) -> None:
    queue = RunQueue(pg_pool)
    first, queued, newest = _run("t"), _run("t"), _run("t")
    await queue.admit(first)
    await queue.admit(queued)
    assert (await queue.claim("w1")).run_id == first.run_id  # type: ignore[union-attr]
    assert await queue.admit(newest, "interrupt") == [
        (first.run_id, "running"),
        (queued.run_id, "pending"),
    ]
    assert await queue.heartbeat(first.run_id, "w1") == "interrupt"
    assert (await queue.get(queued.run_id)).status == "interrupted"  # type: ignore[union-attr]
    assert await queue.claim("w2") is None  # the first still runs
    await queue.finish(first.run_id, "w1", "interrupted")
    assert (await queue.claim("w2")).run_id == newest.run_id  # type: ignore[union-attr]


async def test_bad_arguments_are_refused(pg_pool: Any) -> None:
    with pytest.raises(ValueError, match="lease"):
        RunQueue(pg_pool, lease=0)
    queue = RunQueue(pg_pool)
    with pytest.raises(ValueError, match="multitask_strategy 'queue'"):
        await queue.admit(_run("t"), "queue")
    with pytest.raises(ValueError, match="status 'done'"):
        await queue.finish("r", "w", "done")
    with pytest.raises(ValueError, match="action 'stop'"):
        await queue.cancel("r", "stop")


async def test_release_hands_a_resumable_run_back_and_stops_the_others(pg_pool: Any) -> None:
    """A stopping process gives its runs back: one that can resume (retries > 0) is
    pending again at its old place, with a retry added so the hand-over costs none; one
    that cannot, or that a client asked to stop, ends ``interrupted``."""
    queue = RunQueue(pg_pool)
    resumable, plain, stopping = _run("t1", retries=1), _run("t2"), _run("t3", retries=1)
    for run in (resumable, plain, stopping):
        await queue.admit(run)
    claimed = [await queue.claim("w1") for _ in range(3)]
    assert {c.run_id for c in claimed if c is not None} == {
        resumable.run_id,
        plain.run_id,
        stopping.run_id,
    }
    await queue.cancel(stopping.run_id)
    back = await queue.release(resumable.run_id, "w1")
    assert (back.status, back.attempts, back.retries, back.worker) == ("pending", 1, 2, None)
    assert (await queue.release(plain.run_id, "w1")).status == "interrupted"
    assert (await queue.release(stopping.run_id, "w1")).status == "interrupted"
    with pytest.raises(LeaseLost):
        await queue.release(resumable.run_id, "w1")  # no longer running here
    again = await queue.claim("w2")
    assert again is not None and (again.run_id, again.attempts) == (resumable.run_id, 2)
