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
from typing import Any

from streamtap.server._proto_filter import Subscription
from streamtap.server._serde import dumps

__all__ = ["Gap", "LoggedEvent", "ThreadLog"]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    event_id: str
    method: str
    namespace: tuple[str, ...]
    data: Any
    #: the whole envelope, ``{"type": "event", "event_id", "seq", "method", "params"}``
    frame: bytes


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
        event_id: str | None = None,
        node: str | None = None,
    ) -> LoggedEvent:
        seq = self.last_seq + 1
        params: dict[str, Any] = {
            "namespace": list(namespace),
            "timestamp": int(time.time() * 1000),
            "data": data,
        }
        if node is not None:
            params["node"] = node
        eid = event_id if event_id is not None else str(seq)
        envelope = {
            "type": "event",
            "event_id": eid,
            "seq": seq,
            "method": method,
            "params": params,
        }
        event = LoggedEvent(seq, eid, method, tuple(namespace), data, dumps(envelope))
        self.last_seq = seq
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
        if since + 1 < self.min_available_seq and since < self.last_seq:
            return Gap(since, self.min_available_seq)
        first = self.min_available_seq
        start = max(0, since + 1 - first)
        return [self._events[i] for i in range(start, len(self._events))]

    async def follow(
        self, since: int, subscription: Subscription
    ) -> AsyncIterator[LoggedEvent | Gap]:
        """What ``subscription`` takes after ``since``, then live, for as long as the
        caller reads; a :class:`Gap` where events were lost, then the rest."""
        cursor = since
        while True:
            found = self.after(cursor)
            if isinstance(found, Gap):
                yield found
                cursor = found.min_available_seq - 1
                continue
            for event in found:
                cursor = event.seq
                if subscription.matches(event.method, event.namespace, event.data):
                    yield event
            await self.beyond(cursor)

    async def beyond(self, seq: int) -> None:
        """Until the log has an event after ``seq`` (at once if it has one already: events
        appended while a reader was sending are not waited for again)."""
        while self.last_seq <= seq:
            if self._signal is None:
                self._signal = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._signal)
