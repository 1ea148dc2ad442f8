"""The stream queue: one per ``stream()`` call, every producer puts its stream parts on it.

Producers (the step loop, the ``messages`` callback handler, ``custom`` writers,
subgraph loops) put ``(namespace, mode, payload)`` parts here and the runner
hands them to the consumer. Not to be confused with the state channels of
``_channels`` (one per state key, holding its value and merge rule).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from typing import Any

from greenlet import getcurrent, greenlet

from streamtap.graph._runtime import StreamPart


class StreamClosed(BaseException):
    """Raised in a producer (node thread, callback) once the consumer has gone.

    A ``BaseException`` so a node's ``except Exception`` can't swallow it: the
    node unwinds, which closes any model stream it was iterating.
    """


_HANDOFF_EVERY = 0.005  # the interpreter's default GIL switch interval
_HANDOFF_PAUSE = 0.0001


class _StreamQueue:
    """Shared by both queues: refuse puts once closed, hand the GIL to an idle consumer.

    A producer thread (a sync node) holds the GIL while it generates tokens; a
    consumer woken by a put would only get the GIL at the next switch interval
    (5 ms), so a first token would wait that long. When the consumer is idle
    (blocked waiting for an item), the producer pauses ~0.1 ms right after the
    put, at most once per switch interval: the first token of every burst is
    delivered at once, and a producer that outpaces its consumer never pauses.
    """

    __slots__ = ("closed", "idle", "last_handoff", "tid")

    def __init__(self) -> None:
        self.closed = False
        self.idle = False
        self.last_handoff = 0.0
        self.tid = threading.get_ident()

    def _handoff(self) -> None:
        now = time.monotonic()
        if now - self.last_handoff >= _HANDOFF_EVERY:
            self.last_handoff = now
            time.sleep(_HANDOFF_PAUSE)


class SyncStreamQueue(_StreamQueue):
    """The sync stream's queue, plus a direct hand-over for a task run in a greenlet.

    While the runner runs a step's only task in a greenlet (``consumer`` is
    the runner's greenlet), a put from that task – or from a greenlet nested
    in it, such as a subgraph's task – switches straight to the runner with
    the item, leaving in ``producer`` the greenlet to resume: the token is
    yielded at once, with no thread, queue wake-up or GIL hand-off. Puts from
    other threads (a node's own thread pool) still go through the queue.
    """

    __slots__ = ("consumer", "producer", "q")

    def __init__(self) -> None:
        super().__init__()
        self.q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.consumer: greenlet | None = None
        self.producer: greenlet | None = None

    def put(self, item: StreamPart) -> None:
        if self.closed:
            raise StreamClosed
        consumer = self.consumer
        # no local may hold the current greenlet while it is paused: a paused
        # greenlet's frames are invisible to gc, so a self-reference would leak it
        if (
            consumer is not None
            and threading.get_ident() == self.tid
            and getcurrent() is not consumer
        ):
            self.producer = getcurrent()
            consumer.switch(item)
            return
        self.q.put(item)
        if self.idle and threading.get_ident() != self.tid:
            self._handoff()

    def get(self) -> Any:
        try:
            item = self.q.get_nowait()
            self.idle = False
            return item
        except queue.Empty:
            self.idle = True
            try:
                return self.q.get()
            finally:
                self.idle = False


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Parts:
    """``asyncio.Queue`` for one consumer: a deque and at most one waiting future.

    Every token crosses this queue from the node's task to the stream's consumer;
    ``asyncio.Queue`` spends ~2 µs of that on loop checks and its waiter deques. The
    waiting consumer is woken a loop turn after the put, not at once: a producer that
    streams a token per turn has put the next one by then, so the consumer takes two
    (or more) per wake-up, one task switch less per token, at the cost of one turn.
    """

    __slots__ = ("items", "loop", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.items: deque[Any] = deque()
        self.loop = loop
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            self.loop.call_soon(_wake, waiter)

    def get_nowait(self) -> Any:
        try:
            return self.items.popleft()
        except IndexError:
            raise asyncio.QueueEmpty from None


class AsyncStreamQueue(_StreamQueue):
    """The async stream's queue; thread-safe ``put`` for nodes running in executor threads."""

    __slots__ = ("loop", "q")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.q = Parts(self.loop)

    def put(self, item: StreamPart) -> None:
        if self.closed:
            raise StreamClosed
        if threading.get_ident() == self.tid:
            self.q.put_nowait(item)
            return
        self.loop.call_soon_threadsafe(self.q.put_nowait, item)
        if self.idle:
            self._handoff()

    async def get(self) -> Any:
        # Parts.get inlined: this is every token's path, one coroutine frame less
        q = self.q
        items = q.items
        if not items:
            self.idle = True
            try:
                while not items:  # cancelled while waiting: nothing taken, nothing lost
                    waiter = q.waiter = self.loop.create_future()
                    try:
                        await waiter
                    finally:
                        if q.waiter is waiter:
                            q.waiter = None
            finally:
                self.idle = False
        else:
            self.idle = False
        return items.popleft()
