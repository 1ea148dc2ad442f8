"""First-token, idle and total timeouts that also fire while a thread is blocked in a read.

Async code gets this for free from ``asyncio.timeout``: the read is cancelled.
A sync thread blocked in ``recv()`` cannot be cancelled, and closing the socket
from another thread does not wake it on Linux; shutting the socket down does.
So a watchdog thread (one per call, only when a timeout is set) shuts down the
socket of the response being read; the reader then sees the connection end and
the attempt is classified as the timeout.

Before the response headers arrive there is no response to reach yet, so sync
attempts also send a per-request SDK timeout covering connect, write and the
wait for headers; once the headers are in, the body's read timeout goes back to
the model's own and the watchdog takes over.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ReadGuard", "Timeouts", "Watchdog", "abort_read", "request_timeout"]

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


def abort_read(stream: Any) -> bool:
    """Wake a thread blocked reading ``stream``'s response: shut its socket down.

    Returns False when the transport has no socket (a mock transport); the
    reader then notices the timeout at its next chunk.
    """
    response = getattr(stream, "response", None)
    extensions = getattr(response, "extensions", None)
    network = extensions.get("network_stream") if isinstance(extensions, dict) else None
    get_info = getattr(network, "get_extra_info", None)
    sock = get_info("socket") if get_info is not None else None
    if not isinstance(sock, socket.socket):
        return False
    # The base-class method: SSLSocket.shutdown would also drop its SSL state
    # under the feet of the reading thread. OSError: already closed, nothing to wake.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return True


def request_timeout(budget: float) -> Any:
    """A per-request SDK timeout covering connect, write, pool and the wait for headers."""
    import httpx2

    return httpx2.Timeout(max(budget, 0.001))


def set_read_timeout(stream: Any, value: float | None) -> None:
    """Give the body reads of ``stream`` the read timeout ``value``.

    httpx2 reads the body's read timeout from the request's ``timeout``
    extension when the body is first read, which is after this runs.
    """
    request = getattr(getattr(stream, "response", None), "request", None)
    extensions = getattr(request, "extensions", None)
    timeouts = extensions.get("timeout") if isinstance(extensions, dict) else None
    if isinstance(timeouts, dict):
        timeouts["read"] = value


class ReadGuard:
    """One sync attempt's link between the watchdog thread and the SDK stream it reads."""

    __slots__ = ("_lock", "_read_timeout", "_relax", "_stream", "fired")

    def __init__(self, *, relax_read_to: float | None = None, relax: bool = False) -> None:
        self._lock = threading.Lock()
        self._stream: Any = None
        self._relax = relax
        self._read_timeout = relax_read_to
        #: The timeout kind that fired (set from the watchdog thread), or None.
        self.fired: str | None = None

    def opened(self, stream: Any) -> None:
        """StreamRun hook: the headers are in (runs in the reading thread)."""
        if self._relax:
            set_read_timeout(stream, self._read_timeout)
        with self._lock:
            self._stream = stream
            fired = self.fired
        if fired is not None:
            abort_read(stream)

    def fire(self, kind: str) -> None:
        """Watchdog side: record the timeout and wake the reader."""
        with self._lock:
            if self.fired is not None:
                return
            self.fired = kind
            stream = self._stream
        if stream is not None:
            abort_read(stream)


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
