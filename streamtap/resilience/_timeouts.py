"""First-token, idle and total timeouts that also fire while a thread is blocked in a read.

Async code gets this for free from ``asyncio.timeout``: the read is cancelled.
A sync thread blocked in ``recv()`` cannot be cancelled, and closing the socket
from another thread does not wake it on Linux; shutting the socket down does.
So a watchdog thread (one per call, only when a timeout is set) aborts the
stream being read (``ChunkStream.abort``: streamtap's models shut the response's
socket down); the reader then sees the connection end and the attempt is
classified as the timeout.

Before the response starts there is nothing to abort yet, so sync attempts also
open their stream with a ``header_timeout`` (streamtap's models send it as a
per-request SDK timeout covering connect, write and the wait for headers, then
give the body its own read timeout back) and the watchdog takes over.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamtap.providers import ChunkStream

__all__ = ["ReadGuard", "Timeouts", "Watchdog"]

FIRST_TOKEN = "first_token_timeout"
IDLE = "idle_timeout"
TOTAL = "total_timeout"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The three timeouts of a resilient call, in seconds (None: no limit)."""

    first_token: float | None = None
    idle: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name, value in (
            ("first_token_timeout", self.first_token),
            ("idle_timeout", self.idle),
            ("total_timeout", self.total),
        ):
            if value is None:
                continue
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"{name}={value!r}: need seconds > 0, or None for no limit")

    @property
    def any(self) -> bool:
        return self.first_token is not None or self.idle is not None or self.total is not None


class ReadGuard:
    """One sync attempt's link between the watchdog thread and the stream it reads."""

    __slots__ = ("_stream", "fired")

    def __init__(self, stream: ChunkStream) -> None:
        self._stream = stream
        #: The timeout kind that fired (set from the watchdog thread), or None.
        self.fired: str | None = None

    def fire(self, kind: str) -> None:
        """Watchdog side: record the timeout and wake the reader (``ChunkStream.abort``)."""
        if self.fired is not None:
            return
        self.fired = kind
        self._stream.abort()


class Watchdog:
    """A single thread that calls one armed callback when its deadline passes.

    The reader arms it before every read and disarms it after, so the time a
    consumer spends with a chunk never counts against a timeout. Re-arming is a
    lock and two stores; the thread is only woken when a deadline moves earlier
    than the one it sleeps towards.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadline: float | None = None
        self._callback: Callable[[], None] | None = None
        self._wake_at: float | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, callback: Callable[[], None]) -> None:
        with self._cond:
            self._deadline, self._callback = deadline, callback
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="streamtap-watchdog", daemon=True
                )
                self._thread.start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = self._callback = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._deadline = self._callback = None
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                deadline = self._deadline
                if deadline is None:
                    self._wake_at = None
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._wake_at = deadline
                    self._cond.wait(remaining)
                    continue
                callback = self._callback
                self._deadline = self._callback = self._wake_at = None
            if callback is not None:
                callback()
