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
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streamtap.server._proto_filter import Subscription
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
    wire = {"type": "event", "event_id": eid, "seq": seq, "method": method, "params": params}
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
    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.max_bytes = max_bytes
        self.last_seq = 0
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
        self._bytes += len(event.frame)
        while self._bytes > self.max_bytes and len(self._events) > 1:
            self._bytes -= len(self._events.popleft().frame)
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

    async def writer(self) -> ThreadLog:
        return self

    async def done(self) -> None:
        return None

    async def beyond(self, seq: int) -> None:
        """Until the log has an event after ``seq`` (at once if it has one already: events
        appended while a reader was sending are not waited for again)."""
        while self.last_seq <= seq:
            if self._signal is None:
                self._signal = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._signal)


class MemoryLogs:
    """The threads' logs in this process (the default layout), each bounded in bytes."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.logs: dict[str, ThreadLog] = {}

    def log(self, thread_id: str) -> ThreadLog:
        log = self.logs.get(thread_id)
        if log is None:
            log = self.logs[thread_id] = ThreadLog(self.max_bytes)
        return log

    async def drop(self, thread_id: str) -> None:
        self.logs.pop(thread_id, None)
