"""What the server remembers about runs, threads and their events.

Plain dataclasses with a JSON form, so a backend can keep them in memory or
ship them through Redis unchanged. Field names follow LangGraph Platform's
``Run`` and ``Thread`` schemas because clients read them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "EventsExpiredError",
    "RunRecord",
    "RunStatus",
    "StreamEvent",
    "ThreadBusy",
    "ThreadRecord",
    "ThreadStatus",
    "UnknownEventIdError",
    "now_iso",
    "sse_frame",
]

RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
TERMINAL: frozenset[str] = frozenset({"error", "success", "timeout", "interrupted"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One SSE event as stored: its id, its name and its already-serialised JSON data."""

    id: str
    event: str
    data: bytes

    def sse(self) -> bytes:
        """The event on the wire: see :func:`sse_frame`."""
        return sse_frame(self.id, self.event, self.data)

    @classmethod
    def from_sse(cls, frame: bytes) -> StreamEvent:
        """The event back from :func:`sse_frame`'s bytes."""
        event_id = event = ""
        data: list[bytes] = []
        for line in frame.rstrip(b"\n").split(b"\n"):
            name, _, value = line.partition(b": ")
            if name == b"id":
                event_id = value.decode()
            elif name == b"event":
                event = value.decode()
            elif name == b"data":
                data.append(value)
        return cls(event_id, event, b"\n".join(data))


def sse_frame(event_id: str, event: str, data: bytes) -> bytes:
    """``id``, ``event`` and ``data`` lines as sse-starlette writes them, in one new
    compact ``bytes`` (orjson's own output keeps an ~8 KiB allocation however short
    it is: a log of those costs ten times its size)."""
    if (
        10 in data  # b"\n", b"\r": an int is looked for with memchr, a bytes is not
        or 13 in data
        or "\n" in event_id
        or "\r" in event_id
        or "\n" in event
        or "\r" in event
    ):
        from sse_starlette import ServerSentEvent  # rare: multi-line data, odd names

        text = data.decode()
        return ServerSentEvent(data=text, event=event, id=event_id, sep="\n").encode()
    # one join: a third of ``%`` formatting's cost, on every event the server sends
    return b"".join(
        (b"id: ", event_id.encode(), b"\nevent: ", event.encode(), b"\ndata: ", data, b"\n\n")
    )


@dataclass(slots=True)
class RunRecord:
    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    stateless: bool
    stream_resumable: bool
    on_disconnect: str
    status: RunStatus = "pending"
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    #: why a run ended ``error`` when no event could say it (``worker lost``)
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        """The Platform's ``Run`` shape (what ``client.runs.get`` returns), with ``error``
        when the run has one."""
        shape = {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "metadata": self.metadata,
            "multitask_strategy": "reject",
            "kwargs": {"stream_resumable": self.stream_resumable},
        }
        if self.error is not None:
            shape["error"] = self.error
        return shape

    def to_store(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> RunRecord:
        return cls(**data)


@dataclass(slots=True)
class ThreadRecord:
    thread_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: ThreadStatus = "idle"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def to_json(self, values: Any = None, interrupts: Any = None) -> dict[str, Any]:
        """The Platform's ``Thread`` shape (``values`` filled in by the caller when known)."""
        return {
            "thread_id": self.thread_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
            "status": self.status,
            "values": values,
            "interrupts": interrupts or {},
        }

    def to_store(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> ThreadRecord:
        return cls(**data)


class ThreadBusy(Exception):
    """A run refused by the ``reject`` strategy: its thread has a run going."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id!r} is busy with another run")
        self.thread_id = thread_id


class UnknownEventIdError(LookupError):
    """``Last-Event-ID`` names no event this run sent."""


class EventsExpiredError(LookupError):
    """The events after ``Last-Event-ID`` fell out of the bounded buffer."""
