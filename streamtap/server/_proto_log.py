"""A thread's Agent Streaming Protocol events, numbered and kept for replay.

Every event of every run on a thread goes into one log: ``seq`` is thread-wide (it goes on
across runs and is shared by all channels, so a filtered reader sees gaps, as on LangGraph's
server), and ``event_id`` is stable, so a client that reconnects gets the same ids again.
The envelope is serialized once, when the event is appended: every reader sends the same
bytes.

The log is bounded in bytes (its envelopes'): the oldest events go first. A reader asking
for events after a ``seq`` that is no longer kept gets a :class:`Gap` naming the oldest
one still there, then everything from it, so it knows what it missed instead of silently
missing it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from streamtap.server._proto_filter import Subscription

if TYPE_CHECKING:
    from langchain_protocol.protocol import Event
from streamtap.server._serde import dumps, loads

__all__ = [
    "Gap",
    "LogWriter",
    "LoggedEvent",
    "MemoryLogs",
    "ProtocolLog",
    "ProtocolLogs",
    "ThreadLog",
    "follow",
]

_UNREAD: Any = object()


class LoggedEvent:
    """One event of the log: what a filter needs, and the bytes every reader sends."""

    __slots__ = ("_data", "event_id", "frame", "method", "namespace", "seq")

    def __init__(
        self,
        seq: int,
        event_id: str,
        method: str,
        namespace: tuple[str, ...],
        data: Any,
        frame: bytes,
    ) -> None:
        self.seq = seq
        self.event_id = event_id
        self.method = method
        self.namespace = namespace
        self._data = data
        #: the whole envelope, ``{"type": "event", "event_id", "seq", "method", "params"}``
        self.frame = frame

    @property
    def data(self) -> Any:
        """``params.data`` (read from the frame when the event came from Redis)."""
        if self._data is _UNREAD:
            self._data = loads(self.frame)["params"]["data"]
        return self._data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LoggedEvent) and (self.seq, self.frame) == (
            other.seq,
            other.frame,
        )

    def __repr__(self) -> str:
        return f"LoggedEvent(seq={self.seq}, method={self.method!r}, namespace={self.namespace!r})"


def envelope(
    seq: int, method: str, namespace: Sequence[str], data: Any, node: str | None = None
) -> LoggedEvent:
    """The event as every layout numbers and frames it (``event_id`` is the seq)."""
    params: dict[str, Any] = {
        "namespace": list(namespace),
        "timestamp": int(time.time() * 1000),
        "data": data,
    }
    if node is not None:
        params["node"] = node
    eid = str(seq)
    wire = cast(
        "Event",
        {"type": "event", "event_id": eid, "seq": seq, "method": method, "params": params},
    )
    return LoggedEvent(seq, eid, method, tuple(namespace), data, dumps(wire))


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after ``since`` up to ``min_available_seq - 1`` are no longer kept."""

    since: int
    min_available_seq: int

    @property
    def message(self) -> str:
        return (
            f"resume gap: since={self.since} is older than "
            f"min_available_seq={self.min_available_seq}"
        )


def gap_before(since: int, first: int | None, last: int) -> Gap | None:
    """The gap a reader after ``since`` meets when the oldest event kept is ``first``."""
    oldest = first if first is not None else last + 1
    if since + 1 < oldest and since < last:
        return Gap(since, oldest)
    return None


class LogWriter(Protocol):
    """What a run writes its events with (one run of a thread at a time)."""

    #: the interrupt ids already sent as ``input.requested`` on the thread (``_proto_run``)
    asked: set[str]

    def append(self, method: str, namespace: Sequence[str], data: Any) -> LoggedEvent: ...

    async def done(self) -> None:
        """Until every event appended is where readers find it; raises a failed write."""


class ProtocolLog(Protocol):
    """One thread's log as readers and commands see it, in any layout."""

    async def head(self) -> int:
        """The last seq (0: none yet)."""

    async def read(self, since: int) -> list[LoggedEvent] | Gap:
        """The events kept after ``since``, or the :class:`Gap` before them."""

    def batches(self, since: int) -> AsyncIterator[list[LoggedEvent] | Gap]:
        """The events after ``since`` as they come, in batches, for as long as the
        caller reads (a :class:`Gap` where some were lost)."""

    async def writer(self) -> LogWriter: ...


class ProtocolLogs(Protocol):
    """Every thread's log: in this process, or shared through Redis."""

    def log(self, thread_id: str) -> ProtocolLog: ...

    async def drop(self, thread_id: str) -> None:
        """Forget the thread's log (the thread was deleted)."""


async def follow(
    log: ProtocolLog, since: int, subscription: Subscription
) -> AsyncIterator[LoggedEvent | Gap]:
    """What ``subscription`` takes after ``since``, then live, for as long as the caller
    reads; a :class:`Gap` where events were lost, then the rest."""
    async for batch in log.batches(since):
        if isinstance(batch, Gap):
            yield batch
            continue
        for event in batch:
            if subscription.matches(event.method, event.namespace, event.data):
                yield event


class ThreadLog:
    def __init__(
        self,
        max_bytes: int = 32 * 1024 * 1024,
        *,
        thread_id: str = "",
        last_seq: int = 0,
        on_change: Callable[[ThreadLog, int], None] | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.max_bytes = max_bytes
        self.thread_id = thread_id
        self.last_seq = last_seq
        #: told of every change in the bytes kept (``MemoryLogs``' total bound)
        self.on_change = on_change
        #: readers following it and runs writing it: such a log is never evicted
        self.readers = 0
        self.writers = 0
        self._events: deque[LoggedEvent] = deque()
        self._bytes = 0
        self._signal: asyncio.Future[None] | None = None
        #: the interrupt ids sent as ``input.requested`` on this thread (``_proto_run``)
        self.asked: set[str] = set()

    def append(
        self,
        method: str,
        namespace: Sequence[str],
        data: Any,
        *,
        node: str | None = None,
    ) -> LoggedEvent:
        event = envelope(self.last_seq + 1, method, namespace, data, node)
        self.last_seq = event.seq
        self._events.append(event)
        before = self._bytes
        self._bytes += len(event.frame)
        while self._bytes > self.max_bytes and len(self._events) > 1:
            self._bytes -= len(self._events.popleft().frame)
        if self.on_change is not None:
            self.on_change(self, self._bytes - before)
        if self._signal is not None and not self._signal.done():
            self._signal.set_result(None)
        self._signal = None
        return event

    def events(self) -> list[LoggedEvent]:
        """Every event still kept, oldest first."""
        return list(self._events)

    @property
    def min_available_seq(self) -> int:
        return self._events[0].seq if self._events else self.last_seq + 1

    def after(self, since: int) -> list[LoggedEvent] | Gap:
        """The events with ``seq > since``, or the :class:`Gap` before them."""
        gap = gap_before(since, self._events[0].seq if self._events else None, self.last_seq)
        if gap is not None:
            return gap
        first = self.min_available_seq
        start = max(0, since + 1 - first)
        return [self._events[i] for i in range(start, len(self._events))]

    # the ProtocolLog and LogWriter sides

    async def head(self) -> int:
        return self.last_seq

    async def read(self, since: int) -> list[LoggedEvent] | Gap:
        return self.after(since)

    async def batches(self, since: int) -> AsyncIterator[list[LoggedEvent] | Gap]:
        cursor = since
        self.readers += 1
        try:
            while True:
                found = self.after(cursor)
                if isinstance(found, Gap):
                    yield found
                    cursor = found.min_available_seq - 1
                    continue
                if found:
                    cursor = found[-1].seq
                    yield found
                await self.beyond(cursor)
        finally:
            self.readers -= 1
            if self.on_change is not None:
                self.on_change(self, 0)

    async def writer(self) -> ThreadLog:
        self.writers += 1
        return self

    async def done(self) -> None:
        self.writers = max(0, self.writers - 1)
        if self.on_change is not None:
            self.on_change(self, 0)

    @property
    def idle(self) -> bool:
        return not self.readers and not self.writers

    async def beyond(self, seq: int) -> None:
        """Until the log has an event after ``seq`` (at once if it has one already: events
        appended while a reader was sending are not waited for again)."""
        while self.last_seq <= seq:
            if self._signal is None:
                self._signal = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._signal)


class MemoryLogs:
    """The threads' logs in this process (the default layout).

    Each log is bounded in bytes (``max_bytes``), and all of them together too
    (``max_total_bytes``): past it, the logs written longest ago that nobody reads or
    writes are evicted. An evicted thread's last seq is remembered (the last
    ``remember`` of them), so its next run numbers on and a reader's old cursor meets a
    :class:`Gap`, not reused numbers. A log nobody wrote is forgotten when its last
    reader leaves: a client naming any thread id costs nothing once it is gone.
    """

    def __init__(
        self,
        max_bytes: int = 8 * 1024 * 1024,
        *,
        max_total_bytes: int = 256 * 1024 * 1024,
        remember: int = 100_000,
    ) -> None:
        if max_bytes < 1 or max_total_bytes < 1 or remember < 0:
            raise ValueError("max_bytes and max_total_bytes must be >= 1, remember >= 0")
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.remember = remember
        #: least recently written first
        self.logs: OrderedDict[str, ThreadLog] = OrderedDict()
        self.total_bytes = 0
        self._evicted: OrderedDict[str, int] = OrderedDict()

    def log(self, thread_id: str) -> ThreadLog:
        log = self.logs.get(thread_id)
        if log is None:
            last = self._evicted.pop(thread_id, 0)
            log = ThreadLog(
                self.max_bytes, thread_id=thread_id, last_seq=last, on_change=self._changed
            )
            self.logs[thread_id] = log
            self.logs.move_to_end(thread_id, last=False)  # nothing written yet
        return log

    async def drop(self, thread_id: str) -> None:
        log = self.logs.pop(thread_id, None)
        if log is not None:
            self.total_bytes -= log._bytes
        self._evicted.pop(thread_id, None)

    def _changed(self, log: ThreadLog, delta: int) -> None:
        thread_id = log.thread_id
        if self.logs.get(thread_id) is not log:
            return  # dropped or evicted meanwhile
        if delta:
            self.total_bytes += delta
            self.logs.move_to_end(thread_id)
        elif log.idle and not log.last_seq:
            del self.logs[thread_id]  # read but never written: nothing to keep
            return
        if self.total_bytes > self.max_total_bytes:
            self._evict()

    def _evict(self) -> None:
        for thread_id in list(self.logs):
            if self.total_bytes <= self.max_total_bytes:
                return
            log = self.logs[thread_id]
            if not log.idle:
                continue
            del self.logs[thread_id]
            self.total_bytes -= log._bytes
            self._evicted[thread_id] = log.last_seq
            while len(self._evicted) > self.remember:
                self._evicted.popitem(last=False)
