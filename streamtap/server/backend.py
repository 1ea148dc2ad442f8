"""Where runs, threads and stream events live: the contract and the in-memory default.

The run task appends events; any number of readers tail them. Keeping the two
apart is what makes streams resumable: a reader that drops and comes back with
``Last-Event-ID`` reads the same log from a later position while the run keeps
appending. A backend that several server processes share (Redis) lets the
reader be in another process than the run; cancellation then travels through
the backend as well.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamtap.server._records import (
    EventsExpiredError,
    RunRecord,
    StreamEvent,
    ThreadRecord,
    UnknownEventIdError,
    now_iso,
    sse_frame,
)

if TYPE_CHECKING:
    from streamtap.server._pg_queue import RunQueue

__all__ = ["END_EVENT", "MemoryBackend", "RunBackend"]

END_EVENT = "end"
"""The last event of every run's log; readers stop after it."""

CancelHandler = Callable[[str], None]


class RunBackend(ABC):
    """Storage for runs, threads and per-run event logs, plus cross-process cancel."""

    #: the durable run queue every process shares (``PostgresBackend``, once started): runs
    #: are admitted to it and executed by whichever process's workers claim them; without
    #: one, a run executes in the process that admitted it
    queue: RunQueue | None = None

    def __init__(self) -> None:
        self._cancel_handler: CancelHandler | None = None

    @property
    def unavailable_errors(self) -> tuple[type[BaseException], ...]:
        """Errors that mean a part this backend needs is not answering: a request that
        meets one gets 503 (retry later), not 500."""
        return ()

    def set_cancel_handler(self, handler: CancelHandler) -> None:
        """Called with a run id when any process asks to cancel a run (it may not be ours)."""
        self._cancel_handler = handler

    def _deliver_cancel(self, run_id: str) -> None:
        if self._cancel_handler is not None:
            self._cancel_handler(run_id)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections (called from the app's lifespan)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (called from the app's lifespan)."""

    async def check(self) -> dict[str, str | None]:
        """Each external part this backend needs, and why it does not answer (``None``:
        it answers). ``GET /ready`` is 200 only while every part answers; a backend in
        this process's memory has none."""
        return {}

    # runs
    @abstractmethod
    async def create_run(self, run: RunRecord) -> None: ...

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    async def set_run_status(self, run_id: str, status: str) -> None:
        """Record the status; a terminal status also starts the run's expiry clock."""

    @abstractmethod
    async def list_runs(self, thread_id: str) -> list[RunRecord]: ...

    # events
    @abstractmethod
    async def publish(self, run_id: str, event: str, data: bytes) -> str:
        """Append one event; returns its id (what SSE sends as ``id:``)."""

    async def append(self, run_id: str, event: str, data: bytes) -> None:
        """Publish without waiting for the event's id: a backend may write behind the run
        and batch (Redis). Order is kept; a failed write is raised by a later ``append``,
        by ``flush``, or by ``publish`` of the same run, which comes after what was
        appended."""
        await self.publish(run_id, event, data)

    async def flush(self, run_id: str) -> None:  # noqa: B027 - nothing held back by default
        """Until everything appended for the run is written; raises a failed write."""

    @abstractmethod
    async def last_event_id(self, run_id: str) -> str | None:
        """The newest event's id, to start a live-only reader after it."""

    @abstractmethod
    async def check_cursor(self, run_id: str, after: str | None) -> None:
        """Raise ``UnknownEventIdError``/``EventsExpiredError`` when ``after`` cannot resume."""

    @abstractmethod
    def read(self, run_id: str, after: str | None) -> AsyncIterator[list[StreamEvent]]:
        """Batches of events after ``after`` (``None``: from the start), ending after ``end``.

        A reader that starts at or after the ``end`` event gets nothing and returns.
        """

    async def read_sse(self, run_id: str, after: str | None) -> AsyncIterator[bytes]:
        """:meth:`read`'s batches as SSE bytes, one ``bytes`` a batch (a backend that
        keeps its events framed hands them out as they are)."""
        async for batch in self.read(run_id, after):
            yield b"".join(event.sse() for event in batch)

    # readers and cancellation
    @abstractmethod
    async def add_listener(self, run_id: str, delta: int) -> int:
        """Count readers attached to a run in every process; returns the new count."""

    @abstractmethod
    async def request_cancel(self, run_id: str) -> None:
        """Ask whichever process runs ``run_id`` to cancel it."""

    # threads
    @abstractmethod
    async def put_thread(self, thread: ThreadRecord) -> None: ...

    @abstractmethod
    async def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    @abstractmethod
    async def delete_thread(self, thread_id: str) -> None: ...

    @abstractmethod
    async def list_threads(self) -> list[ThreadRecord]:
        """Every known thread, most recently updated first."""

    async def update_thread(self, thread_id: str, **fields: Any) -> ThreadRecord | None:
        thread = await self.get_thread(thread_id)
        if thread is None:
            return None
        for key, value in fields.items():
            setattr(thread, key, value)
        thread.updated_at = now_iso()
        await self.put_thread(thread)
        return thread


@dataclass(slots=True)
class _Log:
    run: RunRecord
    #: each event as its SSE bytes, framed once at publish: what readers send, and the
    #: whole of what a finished run keeps (a few dozen bytes over its wire size)
    frames: list[bytes] = field(default_factory=list)
    first_seq: int = 1  # seq of frames[0]
    next_seq: int = 1
    size: int = 0  # bytes of the frames kept
    listeners: int = 0
    finished_at: float | None = None
    ended: bool = False  # the END event is in
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    waking: bool = False  # a wake is scheduled

    def wake_soon(self) -> None:
        """Wake the readers a loop turn from now, not at once: a run that publishes an
        event per turn has published the next by then, so a reader sends two (or more)
        per wake-up and write: a task switch and a send less per event, for one turn."""
        if not self.waking:
            self.waking = True
            asyncio.get_running_loop().call_soon(self.wake)

    def wake(self) -> None:
        self.waking = False
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def changed(self) -> None:
        """Until the next publish (a cancelled wait leaves nothing behind)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                self.waiters.remove(waiter)


class MemoryBackend(RunBackend):
    """One process, no dependencies: bounded per-run buffers that expire after ``ttl``.

    Event ids are the run's 1-based sequence numbers as strings, so ``0`` (and the
    ``-1`` some clients send) mean "from the beginning". A run keeps at most its last
    ``max_events_per_run`` events and ``max_bytes_per_run`` bytes of them (trimmed from
    the oldest, in batches: amortised O(1)); a reader that fell behind what was trimmed
    gets ``EventsExpiredError`` (410). All runs' logs together stay under
    ``max_total_bytes``: finished runs' logs are dropped first, oldest first.
    """

    def __init__(
        self,
        *,
        max_events_per_run: int = 50_000,
        max_bytes_per_run: int = 32 * 2**20,
        max_total_bytes: int = 64 * 2**20,
        ttl: float = 600.0,
        max_runs: int = 10_000,
    ) -> None:
        super().__init__()
        if min(max_events_per_run, max_bytes_per_run, max_total_bytes, max_runs) < 1 or ttl < 0:
            raise ValueError("the limits must be >= 1 and ttl >= 0")
        self.max_events_per_run = max_events_per_run
        self.max_bytes_per_run = max_bytes_per_run
        self.max_total_bytes = max_total_bytes
        self.ttl = ttl
        self.max_runs = max_runs
        self.total_bytes = 0
        self._logs: dict[str, _Log] = {}
        #: finished runs, oldest first -> when they finished (what eviction walks)
        self._finished: dict[str, float] = {}
        #: thread id -> its runs, in creation order
        self._by_thread: dict[str, dict[str, None]] = {}
        self._threads: dict[str, ThreadRecord] = {}

    def _evict(self) -> None:
        """Drop finished runs' logs: expired ones, then the oldest finished while over the
        byte or run bounds. ``_finished`` is in finishing order, so this costs what it drops."""
        finished = self._finished
        now = time.monotonic()
        while finished:
            run_id, at = next(iter(finished.items()))
            if now - at < self.ttl:
                break
            self._drop(run_id)
        if self.total_bytes > self.max_total_bytes:
            while finished and self.total_bytes > self.max_total_bytes * 3 // 4:
                self._drop(next(iter(finished)))
        while finished and len(self._logs) >= self.max_runs:
            self._drop(next(iter(finished)))

    def _drop(self, run_id: str) -> None:
        log = self._logs.pop(run_id, None)
        self._finished.pop(run_id, None)
        if log is not None:
            self.total_bytes -= log.size
            runs = self._by_thread.get(log.run.thread_id)
            if runs is not None:
                runs.pop(run_id, None)
                if not runs:
                    del self._by_thread[log.run.thread_id]

    def _log(self, run_id: str) -> _Log:
        log = self._logs.get(run_id)
        if log is None:
            raise KeyError(f"run {run_id} is not known (or has expired)")
        return log

    async def create_run(self, run: RunRecord) -> None:
        self._evict()
        self._logs[run.run_id] = _Log(run=run)
        self._by_thread.setdefault(run.thread_id, {})[run.run_id] = None

    async def get_run(self, run_id: str) -> RunRecord | None:
        log = self._logs.get(run_id)
        if log is None:
            return None
        if log.finished_at is not None and time.monotonic() - log.finished_at >= self.ttl:
            self._drop(run_id)
            return None
        return log.run

    async def set_run_status(self, run_id: str, status: str) -> None:
        log = self._log(run_id)
        log.run.status = status  # type: ignore[assignment]
        log.run.updated_at = now_iso()
        if log.run.done and log.finished_at is None:
            log.finished_at = self._finished[run_id] = time.monotonic()

    async def list_runs(self, thread_id: str) -> list[RunRecord]:
        return [self._logs[run_id].run for run_id in self._by_thread.get(thread_id, ())]

    async def publish(self, run_id: str, event: str, data: bytes) -> str:
        log = self._log(run_id)
        seq = log.next_seq
        event_id = str(seq)
        frame = sse_frame(event_id, event, data)
        log.frames.append(frame)
        added = len(frame)
        log.size += added
        self.total_bytes += added
        excess = len(log.frames) - self.max_events_per_run
        if excess > self.max_events_per_run // 8:  # trim in batches: amortised O(1)
            self._trim(log, excess)
        if log.size > self.max_bytes_per_run:  # down to 3/4 of the bound, the last kept
            cut, size = 0, log.size
            while size > self.max_bytes_per_run * 3 // 4 and cut < len(log.frames) - 1:
                size -= len(log.frames[cut])
                cut += 1
            self._trim(log, cut)
        if self.total_bytes > self.max_total_bytes:
            self._evict()
        log.next_seq = seq + 1
        if event == END_EVENT:
            log.ended = True
        if log.waiters:
            log.wake_soon()
        return event_id

    def _trim(self, log: _Log, count: int) -> None:
        """Forget the oldest ``count`` events of a log."""
        dropped = sum(len(frame) for frame in log.frames[:count])
        del log.frames[:count]
        log.first_seq += count
        log.size -= dropped
        self.total_bytes -= dropped

    async def last_event_id(self, run_id: str) -> str | None:
        log = self._log(run_id)
        return str(log.next_seq - 1) if log.next_seq > 1 else None

    def _seq_of(self, log: _Log, after: str | None) -> int:
        if after is None:
            return 0
        try:
            seq = int(after)
        except ValueError:
            raise UnknownEventIdError(
                f"Last-Event-ID {after!r} is not an id this server sent (ids are integers)"
            ) from None
        seq = max(seq, 0)
        if seq >= log.next_seq:
            raise UnknownEventIdError(
                f"Last-Event-ID {after!r} is ahead of the run's newest event {log.next_seq - 1}"
            )
        return seq

    async def check_cursor(self, run_id: str, after: str | None) -> None:
        log = self._log(run_id)
        seq = self._seq_of(log, after)
        if seq + 1 < log.first_seq:
            raise EventsExpiredError(
                f"events after {seq} were dropped from the run's buffer (it keeps the last "
                f"{self.max_events_per_run} events and {self.max_bytes_per_run} bytes, "
                f"MemoryBackend(max_events_per_run=, max_bytes_per_run=)); the oldest kept "
                f"is {log.first_seq}: resume from there, or read the thread's state"
            )

    async def read(self, run_id: str, after: str | None) -> AsyncIterator[list[StreamEvent]]:
        async for frames in self._frames(run_id, after):
            yield [StreamEvent.from_sse(frame) for frame in frames]

    async def read_sse(self, run_id: str, after: str | None) -> AsyncIterator[bytes]:
        async for frames in self._frames(run_id, after):
            yield frames[0] if len(frames) == 1 else b"".join(frames)

    async def _frames(self, run_id: str, after: str | None) -> AsyncIterator[list[bytes]]:
        log = self._log(run_id)
        seq = self._seq_of(log, after)
        while True:
            if seq + 1 < log.first_seq:
                raise EventsExpiredError(f"reader fell behind the buffer after event {seq}")
            start = seq + 1 - log.first_seq
            batch = log.frames[start:]
            if batch:
                seq = log.first_seq + len(log.frames) - 1
                ended = log.ended and seq == log.next_seq - 1
                yield batch
                if ended:
                    return
                continue
            if log.ended:
                return  # joined after the end: nothing more will come
            await log.changed()

    async def add_listener(self, run_id: str, delta: int) -> int:
        log = self._logs.get(run_id)
        if log is None:
            return 0
        log.listeners = max(0, log.listeners + delta)
        return log.listeners

    async def request_cancel(self, run_id: str) -> None:
        self._deliver_cancel(run_id)

    async def put_thread(self, thread: ThreadRecord) -> None:
        self._threads[thread.thread_id] = thread

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return self._threads.get(thread_id)

    async def delete_thread(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)

    async def list_threads(self) -> list[ThreadRecord]:
        return sorted(self._threads.values(), key=lambda t: t.updated_at, reverse=True)
