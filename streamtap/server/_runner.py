"""Runs a graph as a background task and writes what it streams into the run's log.

The run is decoupled from any connection: readers come and go (and may come back
with ``Last-Event-ID``); the run is cancelled only when asked (Stop, ``cancel``
endpoint) or when its last reader has been gone for the grace period and the run
was started with ``on_disconnect="cancel"``. Cancelling the task cancels the
graph's ``astream``, which cancels async nodes and makes a sync node's next token
raise, so the upstream model stream is closed either way.

With a backend that has a run queue (``PostgresBackend``) runs are admitted to it and
executed by whichever process's workers claim them (``_queued``); this module then only
runs the graph for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any, cast

from streamtap.server._assistants_store import AssistantStore, MemoryAssistantStore
from streamtap.server._graphs import GraphEntry
from streamtap.server._lifecycle import MODE as LIFECYCLE
from streamtap.server._lifecycle import with_lifecycle
from streamtap.server._pg_queue import THREAD_STATUS
from streamtap.server._proto_log import MemoryLogs, ProtocolLogs
from streamtap.server._proto_run import run_events
from streamtap.server._proto_session import Namespaces
from streamtap.server._queued import QueuedRuns
from streamtap.server._records import RunRecord, ThreadBusy, ThreadRecord
from streamtap.server._schema import RunRequest
from streamtap.server._serde import dumps, error_payload
from streamtap.server._shaper import PARTIAL_BOUND_BYTES, PARTIAL_INTERVAL, EventShaper
from streamtap.server.backend import END_EVENT, RunBackend

__all__ = ["PARTIAL_BOUND_BYTES", "PARTIAL_INTERVAL", "RunManager", "ThreadBusy"]

log = logging.getLogger("streamtap.server")


class RunManager:
    """Starts runs, cancels them, and applies the disconnect policy."""

    def __init__(
        self,
        backend: RunBackend,
        graphs: dict[str, GraphEntry],
        *,
        disconnect_grace: float,
        secrets: tuple[str, ...] = (),
        assistants: AssistantStore | None = None,
        partial_bound_bytes: int | None = PARTIAL_BOUND_BYTES,
        partial_interval: float = PARTIAL_INTERVAL,
        jobs: int = 10,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs (background runs one process executes at once) must be >= 1")
        self.backend = backend
        #: with a run queue: how many runs this process's workers execute at once
        self.jobs = jobs
        self.queued: QueuedRuns | None = None
        #: each thread's protocol events (``_proto_log``), in this process
        #: the threads' Agent Streaming Protocol logs (shared through Redis when runs are)
        self.protocol: ProtocolLogs = MemoryLogs(8 * 1024 * 1024)
        #: ``messages`` mode: past this many bytes a message's ``messages/partial`` events
        #: are coalesced, one per ``partial_interval`` seconds of ``clock`` (``EventShaper``)
        self.partial_bound_bytes = partial_bound_bytes
        self.partial_interval = partial_interval
        self.clock: Callable[[], float] = time.monotonic
        self.graphs = graphs
        #: the system assistants (one per graph) and those clients create: in this
        #: process unless a shared store is given
        self.assistants = (
            assistants
            if assistants is not None
            else MemoryAssistantStore.serving((g.graph_id, g.assistant_id) for g in graphs.values())
        )
        self.disconnect_grace = disconnect_grace
        #: what the server masks in every error text it sends (the API token)
        self.secrets = secrets
        self._by_assistant = {g.assistant_id: g for g in graphs.values()}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timers: set[asyncio.Task[None]] = set()
        backend.set_cancel_handler(self._cancel_local)

    async def open(self) -> None:
        """Start this process's workers when the backend has a run queue (after the
        backend started)."""
        if self.backend.queue is not None and self.queued is None:
            self.queued = QueuedRuns(self, cast(Any, self.backend), jobs=self.jobs)
            await self.queued.start()

    def resolve(self, assistant_id: str) -> GraphEntry | None:
        """A graph by its name (the Platform's graph id) or by its assistant uuid."""
        return self.graphs.get(assistant_id) or self._by_assistant.get(assistant_id)

    # ------------------------------------------------------------------ lifecycle

    async def make_room(
        self, thread_id: str, strategy: str | None, entry: GraphEntry
    ) -> tuple[list[str], str | None]:
        """Apply a run's multitask strategy to the runs going on its thread (the Platform's
        default: ``enqueue``). Returns the runs the new one waits for, and the checkpoint it
        starts from (``rollback``: where the cancelled run started). ``reject`` raises
        :class:`ThreadBusy`."""
        running = [r for r in await self.backend.list_runs(thread_id) if not r.done]
        if not running:
            return [], None
        strategy = strategy or "enqueue"
        if strategy == "reject":
            raise ThreadBusy(thread_id)
        if strategy == "enqueue":
            return [r.run_id for r in running], None
        for run in running:  # interrupt / rollback: the going runs stop first
            await self.cancel(run.run_id)
        for run in running:
            await self.wait(run.run_id)
        if strategy == "interrupt":
            return [], None
        return [], await entry.roll_back(thread_id, [r.run_id for r in running])

    async def start(
        self,
        req: RunRequest,
        entry: GraphEntry,
        thread_id: str | None,
        *,
        after: Sequence[str] = (),
        from_checkpoint: str | None = None,
    ) -> RunRecord:
        """Create the run, log its ``metadata`` event and launch it; returns at once. It
        runs once the runs ``after`` names have ended (``enqueue``), from
        ``from_checkpoint`` if given (``rollback``). With a run queue: admitted to it
        under the request's strategy (:class:`ThreadBusy` for ``reject``)."""
        if self.queued is not None:
            return await self.queued.admit(req, entry, thread_id)
        record = entry.new_run(req, thread_id)
        run_id = record.run_id
        await self.backend.create_run(record)
        await self.backend.publish(run_id, "metadata", dumps({"run_id": run_id, "attempt": 1}))
        if not record.stateless:
            # the thread remembers what runs on it (the Platform's thread metadata), so a
            # client listing threads by graph_id / assistant_id finds it
            thread = await self.backend.get_thread(record.thread_id)
            metadata = {**(thread.metadata if thread is not None else {}), **_ids(entry)}
            await self.backend.update_thread(record.thread_id, status="busy", metadata=metadata)
        if from_checkpoint is not None:
            req = req.model_copy(update={"checkpoint_id": from_checkpoint})
        task = asyncio.create_task(
            self._in_turn(record, req, entry, list(after)), name=f"streamtap-run-{run_id}"
        )
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        return record

    def _cancel_local(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None and not task.done():
            task.cancel()
        elif self.queued is not None:
            self.queued.cancel_local(run_id)

    async def cancel(self, run_id: str, action: str = "interrupt") -> None:
        """Cancel a run wherever it runs (this process or, with a shared backend, another)."""
        if self.queued is not None:
            await self.queued.cancel(run_id, action)
        elif run_id in self._tasks:
            self._cancel_local(run_id)
        else:
            await self.backend.request_cancel(run_id)

    async def wait(self, run_id: str) -> None:
        if self.queued is not None:
            await self.queued.wait(run_id)
            return
        task = self._tasks.get(run_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def shutdown(self) -> None:
        """Cancel every local run and timer and wait for them (no leaked tasks)."""
        pending = [*self._tasks.values(), *self._timers]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.queued is not None:
            await self.queued.close()
            self.queued = None

    # ------------------------------------------------------------------ readers

    async def attach(self, run_id: str) -> None:
        await self.backend.add_listener(run_id, 1)

    async def detach(self, run: RunRecord) -> None:
        """A reader left: start the grace clock if it was the last and the run cancels."""
        left = await self.backend.add_listener(run.run_id, -1)
        if left == 0 and run.on_disconnect == "cancel":
            current = await self.backend.get_run(run.run_id)
            if current is None or current.done:  # the usual end of a stream: no timer
                return
            timer = asyncio.create_task(self._cancel_if_abandoned(run.run_id))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)

    async def _cancel_if_abandoned(self, run_id: str) -> None:
        await asyncio.sleep(self.disconnect_grace)
        run = await self.backend.get_run(run_id)
        if run is None or run.done:
            return
        if await self.backend.add_listener(run_id, 0) == 0:
            log.info("run %s: no reader for %.1fs, cancelling", run_id, self.disconnect_grace)
            await self.cancel(run_id)

    # ------------------------------------------------------------------ the run

    def _config(self, req: RunRequest, run: RunRecord) -> dict[str, Any]:
        config = dict(req.config or {})
        configurable = dict(config.get("configurable") or {})
        if req.checkpoint:
            configurable.update(req.checkpoint)
        if req.checkpoint_id:
            configurable["checkpoint_id"] = req.checkpoint_id
        ids = {
            "thread_id": run.thread_id,
            "run_id": run.run_id,
            "assistant_id": run.assistant_id,
            "graph_id": run.graph_id,
        }
        configurable.update(ids)
        config["configurable"] = configurable
        config["metadata"] = {**(config.get("metadata") or {}), **run.metadata, **ids}
        config["run_id"] = uuid.UUID(run.run_id)
        return config

    async def _in_turn(
        self, run: RunRecord, req: RunRequest, entry: GraphEntry, after: list[str]
    ) -> None:
        """Wait (pending) for the runs ahead on the thread, then run."""
        try:
            for earlier in after:
                await self.wait(earlier)
        except asyncio.CancelledError:
            await self._finish(run, entry, "interrupted")
            raise
        if after and not run.stateless:  # the run ahead set the thread idle when it ended
            await self.backend.update_thread(run.thread_id, status="busy")
        try:
            await self.backend.set_run_status(run.run_id, "running")
        except Exception as exc:  # e.g. another run of the thread is running
            with contextlib.suppress(Exception):
                await self.backend.publish(
                    run.run_id, "error", dumps(error_payload(exc, *self.secrets))
                )
            await self._end(run, entry, "error")
            return
        status, _ = await self.run_graph(run, req, entry)
        await self._end(run, entry, status)

    async def _end(self, run: RunRecord, entry: GraphEntry, status: str) -> None:
        try:
            await self._finish(run, entry, status)
        except Exception:  # the backend itself failed; nothing left to tell the readers
            log.exception("run %s: could not record its end", run.run_id)

    async def run_graph(
        self, run: RunRecord, req: RunRequest, entry: GraphEntry, *, resume: bool = False
    ) -> tuple[str, str | None]:
        """Stream the graph into the run's log; its status and error text (``resume``:
        no input, from the thread's latest checkpoint). A failure is published as the
        run's ``error`` event; cancelling it ends it ``interrupted``."""
        graph = entry.stateless if run.stateless else entry.stateful
        modes = req.modes
        graph_modes = list(
            dict.fromkeys(
                "messages" if m == "messages-tuple" else m
                for m in modes
                if m not in ("events", LIFECYCLE)
            )
        )
        kwargs: dict[str, Any] = {}
        if req.interrupt_before is not None:
            kwargs["interrupt_before"] = req.interrupt_before
        if req.interrupt_after is not None:
            kwargs["interrupt_after"] = req.interrupt_after
        if req.context is not None:
            kwargs["context"] = req.context
        graph_input = entry.command(req.command) if req.command is not None else req.input
        if resume:
            graph_input = None
        config = self._config(req, run)
        if req._protocol:
            return await self._run_protocol(run, graph, graph_input, config, entry, kwargs)
        shaper = EventShaper(
            modes,
            partial_bound=self.partial_bound_bytes,
            partial_interval=self.partial_interval,
            clock=self.clock,
        )
        status, error = "success", None
        try:
            open_stream = functools.partial(
                _items, graph, graph_input, config, events="events" in modes, kwargs=kwargs
            )
            if LIFECYCLE in modes:  # LangGraph's transformer, fed with modes of its own
                stream = with_lifecycle(open_stream, graph_modes, subgraphs=req.stream_subgraphs)
            else:
                stream = open_stream(graph_modes, subgraphs=req.stream_subgraphs)
            async with aclosing(stream):
                async for item in stream:
                    if isinstance(item, dict):  # an astream_events event: the events mode
                        for event, data in shaper.raw("events", item):
                            await self.backend.append(run.run_id, event, data)
                        continue
                    if req.stream_subgraphs:
                        ns, mode, payload = item
                    else:
                        ns, (mode, payload) = (), item
                    for event, data in shaper.events(ns, mode, payload):
                        await self.backend.append(run.run_id, event, data)
            await self._flush(run, shaper)
            await self.backend.flush(run.run_id)  # written before the run's end is
        except asyncio.CancelledError:
            status = "interrupted"
            with contextlib.suppress(Exception):
                await self._flush(run, shaper)
                await self.backend.flush(run.run_id)
        except Exception as exc:
            status = "error"
            # with its traceback, masked on the way out (``_logs``): operators need both
            log.warning("run %s failed: %s", run.run_id, type(exc).__name__, exc_info=exc)
            payload = error_payload(exc, *self.secrets)
            error = f"{payload['error']}: {payload['message']}"
            with contextlib.suppress(Exception):
                await self._flush(run, shaper)
                await self.backend.publish(run.run_id, "error", dumps(payload))
        return status, error

    async def _run_protocol(
        self,
        run: RunRecord,
        graph: Any,
        graph_input: Any,
        config: dict[str, Any],
        entry: GraphEntry,
        kwargs: dict[str, Any],
    ) -> tuple[str, str | None]:
        """A ``run.start`` run: its protocol events into the thread's log; the status from
        its terminal ``lifecycle`` (interrupted by a client: ``interrupted`` too)."""
        log = await self.protocol.log(run.thread_id).writer()
        tree = Namespaces()
        items = run_events(
            graph,
            graph_input,
            config,
            graph_name=entry.graph_id,
            secrets=self.secrets,
            asked=log.asked,
            tree=tree,
            transformers=entry.stream_transformers() if entry.stream_transformers else (),
            **kwargs,
        )
        status, error = "success", None
        try:
            async for method, namespace, data in items:
                log.append(method, namespace, data)
                if method == "lifecycle" and not namespace and data.get("event") == "failed":
                    status, error = "error", data.get("error")
        except asyncio.CancelledError:
            for method, namespace, data in tree.close():  # as LangGraph's server does
                log.append(method, namespace, data)
            log.append("lifecycle", (), {"event": "interrupted", "graph_name": entry.graph_id})
            status = "interrupted"
        finally:
            await log.done()  # every event where readers find it before the run's end
        return status, error

    async def _flush(self, run: RunRecord, shaper: EventShaper) -> None:
        """The newest state of every ``messages/partial`` the bound held back: the
        client's last partial is the whole message, before the run's error or end."""
        for event, data in shaper.flush():
            await self.backend.append(run.run_id, event, data)

    async def thread_status(self, run: RunRecord, entry: GraphEntry, status: str) -> str:
        """The thread's status once the run ended so: ``interrupted`` when a successful run
        left the graph waiting (an interrupt, or nodes still to run)."""
        if status == "success" and not run.stateless:
            with contextlib.suppress(Exception):
                state = await entry.state(run.thread_id)
                if state["next"] or state["interrupts"]:
                    return "interrupted"
        return THREAD_STATUS.get(status, "idle")

    async def _finish(self, run: RunRecord, entry: GraphEntry, status: str) -> None:
        if not run.stateless:
            thread_status = await self.thread_status(run, entry, status)
            await self.backend.update_thread(run.thread_id, status=thread_status)
        await self.backend.set_run_status(run.run_id, status)
        await self.backend.publish(
            run.run_id, END_EVENT, dumps({"run_id": run.run_id, "status": status})
        )

    async def ensure_thread(
        self, thread_id: str, *, create: bool, metadata: dict[str, Any] | None = None
    ) -> ThreadRecord | None:
        """The thread, created when ``create`` (with the run's ``metadata``, as the
        Platform does: an auth handler's owner stamp lands on the new thread)."""
        thread = await self.backend.get_thread(thread_id)
        if thread is None and create:
            thread = ThreadRecord(thread_id=thread_id, metadata=dict(metadata or {}))
            await self.backend.put_thread(thread)
        return thread


def _items(
    graph: Any,
    graph_input: Any,
    config: dict[str, Any],
    modes: list[str],
    *,
    events: bool,
    subgraphs: bool,
    kwargs: dict[str, Any],
) -> AsyncGenerator[Any, None]:
    """The graph's stream items; with the ``events`` mode, ``astream_events`` (v2) events
    too, as the Platform frames them: the root run's own stream chunks are the stream
    modes' items, every other event is an ``events`` event."""
    if not events:  # the graph's own stream: no generator layer around every token
        return graph.astream(  # type: ignore[no-any-return]
            graph_input, config, stream_mode=modes, subgraphs=subgraphs, **kwargs
        )
    return _with_events(graph, graph_input, config, modes, subgraphs=subgraphs, kwargs=kwargs)


async def _with_events(
    graph: Any,
    graph_input: Any,
    config: dict[str, Any],
    modes: list[str],
    *,
    subgraphs: bool,
    kwargs: dict[str, Any],
) -> AsyncGenerator[Any, None]:
    root: Any = None
    async for event in graph.astream_events(
        graph_input,
        config,
        version="v2",
        stream_mode=modes or ["values"],
        subgraphs=subgraphs,
        **kwargs,
    ):
        if root is None:
            root = event["run_id"]  # the first event is the graph run's start
        if event["event"] == "on_chain_stream" and event["run_id"] == root:
            if modes:
                yield event["data"]["chunk"]
        else:
            yield event


def _ids(entry: GraphEntry) -> dict[str, str]:
    return {"graph_id": entry.graph_id, "assistant_id": entry.assistant_id}
