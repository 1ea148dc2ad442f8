"""Runs through the shared queue (``PostgresBackend``): admitted by the process a client
asked, executed by whichever process's workers claim them.

Everything a run needs to execute elsewhere travels in its queue row: the request as it
was validated and merged with its assistant (``kwargs["request"]``; a custom-auth user as
plain data, rebuilt into an :class:`~streamtap.server._auth.Identity`) and its graph id.
Its events go to its Redis stream, which exists before the run is admitted, so a reader
can attach at once and a worker never publishes into a stream nobody created.

Each attempt opens with a ``metadata`` event naming it (``attempt``), as LangGraph's
server does. A retried attempt (its first process died) continues from the last
checkpoint its run wrote, with no input, so nothing the run did is done twice; without
such a checkpoint it starts over with the run's input. Readers learn a run ended from its
``end`` event, published by whoever recorded the end: the worker, the process that
cancelled a pending run, or the process that reaped a lost worker's lease (with an
``error`` event, ``worker lost``, when no retry is left).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from streamtap.server._auth import Identity
from streamtap.server._pg_queue import NewRun, Outcome, QueuedRun
from streamtap.server._pg_workers import RunWorkers
from streamtap.server._records import RunRecord
from streamtap.server._schema import RunRequest
from streamtap.server._serde import dumps
from streamtap.server.backend import END_EVENT

if TYPE_CHECKING:
    from streamtap.server._graphs import GraphEntry
    from streamtap.server.postgres import PostgresBackend

__all__ = ["WORKER_LOST", "GraphRunner", "QueuedRuns", "dump_request", "load_request"]

WORKER_LOST = "worker lost"
"""The error of a run whose process stopped renewing its lease and that has no retry left."""
_USER = "langgraph_auth_user"
_PROTOCOL = "__streamtap_protocol__"


def dump_request(req: RunRequest) -> dict[str, Any]:
    """The request as JSON for the queue row (a custom-auth user as its data)."""
    config = req.config
    user = ((config or {}).get("configurable") or {}).get(_USER)
    if isinstance(user, Identity):
        assert config is not None
        config = {**config, "configurable": {**config["configurable"], _USER: user.model_dump()}}
        req = req.model_copy(update={"config": config})
    data = req.model_dump(mode="json", exclude_defaults=True)
    if req._protocol:  # a run.start's: its events go to the thread's protocol log
        data[_PROTOCOL] = True
    return data


def load_request(data: dict[str, Any]) -> RunRequest:
    req = RunRequest.model_validate(data)
    req._protocol = bool(data.get(_PROTOCOL))
    user = ((req.config or {}).get("configurable") or {}).get(_USER)
    if isinstance(user, dict):
        assert req.config is not None
        fields = {k: v for k, v in user.items() if k != "permissions"}
        identity = Identity(fields, user.get("permissions") or ())
        configurable = {**req.config["configurable"], _USER: identity}
        req = req.model_copy(update={"config": {**req.config, "configurable": configurable}})
    return req


class GraphRunner(Protocol):
    """What executes a claimed run's graph (``RunManager``)."""

    graphs: dict[str, GraphEntry]

    async def run_graph(
        self, run: RunRecord, req: RunRequest, entry: GraphEntry, *, resume: bool = False
    ) -> tuple[str, str | None]: ...

    async def thread_status(self, run: RunRecord, entry: GraphEntry, status: str) -> str: ...


class QueuedRuns:
    """This process's side of the queue: admission, cancel, wait, and its workers."""

    def __init__(self, manager: GraphRunner, backend: PostgresBackend, *, jobs: int) -> None:
        queue = backend.queue
        if queue is None:
            raise RuntimeError("the backend's queue is not open: start the backend first")
        self.manager = manager
        self.backend = backend
        self.queue = queue
        self.workers = RunWorkers(
            queue, self._execute, jobs=jobs, heartbeat=backend.heartbeat, ended=self._ended
        )
        backend.set_wake_handler(self.workers.wake)

    async def start(self) -> None:
        await self.workers.start()

    async def close(self) -> None:
        await self.workers.close()

    # ------------------------------------------------------------------ clients' side

    async def admit(self, req: RunRequest, entry: GraphEntry, thread_id: str | None) -> RunRecord:
        """Queue the run under its multitask strategy (``ThreadBusy`` for ``reject`` on a
        busy thread: nothing of it stays). Runs it stops are told at once."""
        record = entry.new_run(req, thread_id)
        resumable = not record.stateless and entry.saver is not None
        new = NewRun(
            run_id=record.run_id,
            thread_id=record.thread_id,
            assistant_id=record.assistant_id,
            graph_id=record.graph_id,
            kwargs={
                "stateless": record.stateless,
                "stream_resumable": record.stream_resumable,
                "on_disconnect": record.on_disconnect,
                "request": dump_request(req),
            },
            metadata=record.metadata,
            retries=self.backend.retries if resumable else 0,
            thread_metadata=None
            if record.stateless
            else {"graph_id": entry.graph_id, "assistant_id": entry.assistant_id},
        )
        await self.backend.open_stream(record)
        try:
            ahead = await self.queue.admit(new, req.multitask_strategy or "enqueue")
        except BaseException:
            with contextlib.suppress(Exception):
                await self.backend.forget_stream(record)
            raise
        if req.multitask_strategy in ("interrupt", "rollback"):
            for run_id, status in ahead:
                if status == "pending":  # ended by the admission itself
                    await self._announce(run_id, "interrupted")
                elif not self.cancel_local(run_id):
                    await self.backend.request_cancel(run_id)
        self.workers.wake()
        if len(self.workers.running) >= self.workers.jobs:  # no room here: others now
            with contextlib.suppress(Exception):  # they poll anyway
                await self.backend.wake_workers()
        return record

    async def cancel(self, run_id: str, action: str = "interrupt") -> None:
        found = await self.queue.cancel(run_id, action)
        if found is None:
            return
        _, before = found
        if before == "pending":
            await self._announce(run_id, "interrupted")
        elif before == "running" and not self.cancel_local(run_id):
            await self.backend.request_cancel(run_id)  # its worker's next heartbeat, or now

    def cancel_local(self, run_id: str) -> bool:
        task = self.workers.running.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def wait(self, run_id: str) -> None:
        """Until the run ended, wherever it runs."""
        task = self.workers.running.get(run_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        delay = 0.02
        while (run := await self.queue.get(run_id)) is not None and not run.done:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _announce(self, run_id: str, status: str) -> None:
        await self.backend.publish(run_id, END_EVENT, dumps({"run_id": run_id, "status": status}))
        await self.backend.mark_ended(run_id, status)

    # ------------------------------------------------------------------ workers' side

    async def _execute(self, queued: QueuedRun) -> Outcome:
        manager = self.manager
        run = await self.backend.get_run(queued.run_id)
        entry = manager.graphs.get(queued.graph_id)
        if run is None or entry is None:
            why = f"graph {queued.graph_id!r} is not served by this process"
            if entry is not None:
                why = "its record is gone"
            await self.backend.publish(
                queued.run_id, "error", dumps({"error": "RunNotExecutable", "message": why})
            )
            return Outcome("error", why)
        req = load_request(queued.kwargs["request"])
        await self.backend.publish(
            run.run_id, "metadata", dumps({"run_id": run.run_id, "attempt": queued.attempts})
        )
        resume = queued.attempts > 1 and await self._wrote_checkpoint(run, entry)
        if resume:  # the last checkpoint this run wrote, as it left it
            req = req.model_copy(update={"checkpoint_id": None, "checkpoint": None})
        elif rolled := queued.kwargs.get("rollback_of"):
            start = await entry.roll_back(run.thread_id, rolled)
            if start is not None:
                req = req.model_copy(update={"checkpoint_id": start})
        status, error = await manager.run_graph(run, req, entry, resume=resume)
        thread_status = await manager.thread_status(run, entry, status)
        return Outcome(status, error, thread_status)

    async def _wrote_checkpoint(self, run: RunRecord, entry: GraphEntry) -> bool:
        if run.stateless or entry.saver is None:
            return False
        config = {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ""}}
        latest = await entry.saver.aget_tuple(config)
        return latest is not None and (latest.metadata or {}).get("run_id") == run.run_id

    async def _ended(self, run: QueuedRun, outcome: Outcome) -> None:
        if outcome.error == WORKER_LOST:
            message = (
                "worker lost: the server process running this run stopped renewing its "
                "lease" + (" and it had no retry left" if run.retries else "")
            )
            await self.backend.publish(
                run.run_id, "error", dumps({"error": "WorkerLost", "message": message})
            )
        await self._announce(run.run_id, outcome.status)
