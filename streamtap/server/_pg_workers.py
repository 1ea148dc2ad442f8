"""One process's workers on the Postgres run queue: claim, renew the lease, finish.

A process executes at most ``jobs`` queued runs at once (LangGraph's server calls this
``N_JOBS_PER_WORKER``); more capacity is more processes. Each run it claims is executed by
the ``execute`` callback under a lease renewed every ``heartbeat`` seconds. The renewal is
also how a worker learns what others decided: a client's cancel (the run's task is
cancelled and ends ``interrupted``) or the loss of its lease (its task is cancelled and
nothing is written: the queue's outcome, a retry or ``worker lost``, stands). Every
process also reaps expired leases, so a run whose process died is retried or failed by
whichever process looks first.

A database that stops answering does not stop a running run at once: the worker keeps
trying to renew, and gives the run up only once its lease would have run out, when
another process may already have taken it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from streamtap.server._pg_queue import LeaseLost, Outcome, QueuedRun, RunQueue

__all__ = ["Ended", "Execute", "RunWorkers"]

log = logging.getLogger("streamtap.server")

#: executes one claimed run; returns its outcome
Execute = Callable[[QueuedRun], Coroutine[Any, Any, Outcome]]
#: told of a run that ended for good (recorded by this process): its readers need to know
Ended = Callable[[QueuedRun, Outcome], Awaitable[None]]


async def _nothing(run: QueuedRun, outcome: Outcome) -> None:
    pass


class RunWorkers:
    """Claims and executes queued runs in this process (``start`` / ``close``)."""

    def __init__(
        self,
        queue: RunQueue,
        execute: Execute,
        *,
        jobs: int = 10,
        heartbeat: float = 10.0,
        poll: float = 0.5,
        worker_id: str | None = None,
        ended: Ended = _nothing,
    ) -> None:
        if jobs < 1 or not heartbeat > 0 or not poll > 0:
            raise ValueError("jobs must be >= 1, heartbeat and poll positive")
        if heartbeat >= queue.lease:
            raise ValueError(
                f"heartbeat ({heartbeat} s) must be shorter than the lease ({queue.lease} s): "
                "a lease that runs out between two renewals would be taken from a live worker"
            )
        self.queue = queue
        self.execute = execute
        #: called once a run's outcome is recorded, by this process's worker or by its
        #: reaping of another's lost lease (requeued runs are not ended)
        self.ended = ended
        self.jobs = jobs
        self.heartbeat = heartbeat
        self.poll = poll
        #: who holds a lease, as the queue records it (host, pid and a random part)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._draining = False
        self._loop_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for runs now, not at the next poll (a run was admitted or one ended)."""
        self._wake.set()

    async def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="streamtap-workers")

    async def close(self) -> None:
        """Stop claiming; stop this process's runs and hand them back to the queue
        (``RunQueue.release``: another process resumes them from their checkpoint; one
        that cannot resume ends ``interrupted``), and wait."""
        self._draining = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        pending = list(self.running.values())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _loop(self) -> None:
        reaped = 0.0
        while True:
            self._wake.clear()
            try:
                if time.monotonic() - reaped >= self.heartbeat:
                    reaped = time.monotonic()
                    for run in await self.queue.expire():
                        log.warning(
                            "run %s: its worker's lease ran out: now %s", run.run_id, run.status
                        )
                        if run.done:
                            await self._tell(run, Outcome(run.status, run.error))
                while len(self.running) < self.jobs:
                    claimed = await self.queue.claim(self.worker_id)
                    if claimed is None:
                        break
                    run_id = claimed.run_id
                    task = asyncio.create_task(self._run(claimed), name=f"streamtap-run-{run_id}")
                    self.running[run_id] = task
                    task.add_done_callback(functools.partial(self._ended, run_id))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again at the next poll
                log.warning("run queue unavailable: %s: %s", type(exc).__name__, exc)
            # not wait_for: on 3.11 it can swallow a cancel that lands as the wait ends
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()

    def _ended(self, run_id: str, _: object) -> None:
        self.running.pop(run_id, None)
        self.wake()  # a slot is free, and the thread's next run may go

    async def _tell(self, run: QueuedRun, outcome: Outcome) -> None:
        try:
            await self.ended(run, outcome)
        except Exception:
            log.exception("run %s: could not tell its readers it ended", run.run_id)

    async def _run(self, run: QueuedRun) -> None:
        work = asyncio.create_task(self.execute(run))
        lost = asyncio.Event()
        renew = asyncio.create_task(self._renew(run, work, lost))
        outcome = Outcome("interrupted")
        try:
            outcome = await work
        except asyncio.CancelledError:
            # this task was cancelled (a client's cancel relayed here, or shutdown): the
            # run ends interrupted, and the outcome is still recorded
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            finished = work.done()  # it ended as the cancel came: its outcome stands
            work.cancel()
            with contextlib.suppress(BaseException):
                outcome = await work
            if not finished and outcome.status != "interrupted":
                outcome = Outcome("interrupted")
        except Exception as exc:
            outcome = Outcome("error", f"{type(exc).__name__}: {exc}")
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        if lost.is_set():
            return  # not ours any more: the queue's outcome stands
        if self._draining and outcome.status == "interrupted":
            await self._release(run)
            return
        try:
            await self.queue.finish(run.run_id, self.worker_id, outcome)
        except LeaseLost:
            log.warning("run %s ended after its lease was lost: outcome not recorded", run.run_id)
            return
        except Exception:
            # the database is away: the lease runs out and another process decides
            log.exception("run %s: could not record its end", run.run_id)
            return
        await self._tell(run, outcome)

    async def _release(self, run: QueuedRun) -> None:
        try:
            released = await self.queue.release(run.run_id, self.worker_id)
        except Exception as exc:  # lost, or the database is away: the lease decides
            log.warning("run %s: not handed back (%s)", run.run_id, type(exc).__name__)
            return
        if released.done:
            await self._tell(released, Outcome(released.status))
        else:
            log.info("run %s: handed back to the queue as this process stops", run.run_id)

    async def _renew(
        self, run: QueuedRun, work: asyncio.Task[Outcome], lost: asyncio.Event
    ) -> None:
        renewed = time.monotonic()
        while not work.done():
            await asyncio.sleep(self.heartbeat)
            try:
                action = await self.queue.heartbeat(run.run_id, self.worker_id)
            except LeaseLost:
                log.warning("run %s: lease lost, stopping it here", run.run_id)
                lost.set()
                work.cancel()
                return
            except Exception as exc:
                if time.monotonic() - renewed >= self.queue.lease:
                    log.warning(
                        "run %s: lease not renewed for %.0f s (%s): stopping it here",
                        run.run_id,
                        self.queue.lease,
                        type(exc).__name__,
                    )
                    lost.set()
                    work.cancel()
                    return
                continue
            renewed = time.monotonic()
            if action is not None:
                work.cancel()  # a client asked it to stop
                return
