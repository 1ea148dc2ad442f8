"""The in-memory run logs are bounded in bytes, per run and in all, not only in events."""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import orjson
import pytest
from sse_starlette import ServerSentEvent

from streamtap.server._records import EventsExpiredError, RunRecord, StreamEvent, sse_frame
from streamtap.server.backend import END_EVENT, MemoryBackend


def _run(run_id: str) -> RunRecord:
    return RunRecord(
        run_id, "t", "a", "g", stateless=True, stream_resumable=True, on_disconnect="cancel"
    )


async def test_a_runs_log_keeps_its_newest_events_within_the_byte_bound() -> None:
    backend = MemoryBackend(max_bytes_per_run=1_000_000)
    await backend.create_run(_run("r"))
    chunk = b"x" * 10_000
    for _ in range(1_000):  # 10 MB published
        await backend.publish("r", "messages", chunk)
    log = backend._logs["r"]
    assert log.size <= 1_000_000 and backend.total_bytes == log.size
    events = [StreamEvent.from_sse(frame) for frame in log.frames]
    assert events[-1].id == "1000" and int(events[0].id) == log.first_seq > 1
    # a reader from the start fell behind what was trimmed: 410, not a silent gap
    with pytest.raises(EventsExpiredError):
        await backend.check_cursor("r", "0")
    # the newest events are still readable
    await backend.publish("r", END_EVENT, b"{}")
    reader = backend.read("r", events[-2].id)
    batch = await reader.__anext__()
    assert [e.id for e in batch] == ["1000", "1001"]  # what follows the cursor


async def test_finished_runs_logs_are_dropped_to_stay_under_the_total() -> None:
    backend = MemoryBackend(max_bytes_per_run=10_000_000, max_total_bytes=3_000_000)
    for name in ("a", "b", "c", "d"):
        await backend.create_run(_run(name))
        for _ in range(100):
            await backend.publish(name, "values", b"y" * 10_000)  # 1 MB each
        await backend.set_run_status(name, "success")
    assert backend.total_bytes <= 3_000_000
    assert await backend.get_run("a") is None  # the oldest finished run went first
    assert await backend.get_run("d") is not None
    assert backend.total_bytes == sum(log.size for log in backend._logs.values())


def _allocated() -> Any:
    """glibc's ``malloc_usable_size``: what a large ``bytes`` really holds (None elsewhere)."""
    try:
        libc = ctypes.CDLL(None)
        usable = libc.malloc_usable_size
    except (OSError, AttributeError):
        return None
    usable.restype, usable.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
    return usable


async def test_a_finished_run_keeps_about_the_bytes_it_sent() -> None:
    """Each event is kept as its SSE bytes in one compact allocation: orjson's output
    holds ~8 KiB whatever its length, ten times a token event's size."""
    usable = _allocated()
    if usable is None:
        pytest.skip("needs glibc's malloc_usable_size")
    backend = MemoryBackend()
    await backend.create_run(_run("r"))
    payload = [{"content": "c1 ", "type": "AIMessageChunk", "id": "x" * 40}, {"k": "v" * 600}]
    data = orjson.dumps(payload)
    assert usable(id(data)) > 4 * len(data)  # the waste this guards against
    for _ in range(200):
        await backend.publish("r", "messages", orjson.dumps(payload))
    await backend.publish("r", END_EVENT, orjson.dumps({"status": "success"}))
    await backend.set_run_status("r", "success")
    wire = b"".join([chunk async for chunk in backend.read_sse("r", None)])
    frames = backend._logs["r"].frames
    assert b"".join(frames) == wire and len(frames) == 201
    kept = sum(usable(id(frame)) for frame in frames if len(frame) > 512) + sys.getsizeof(frames)
    kept += sum(sys.getsizeof(frame) for frame in frames if len(frame) <= 512)
    assert kept <= 1.2 * len(wire)


async def test_eviction_follows_finishing_order_and_spares_running_runs() -> None:
    backend = MemoryBackend(max_runs=3)
    for name in ("a", "b", "c"):
        await backend.create_run(_run(name))
    await backend.set_run_status("b", "success")  # b finishes first, then a; c runs on
    await backend.set_run_status("a", "error")
    await backend.create_run(_run("d"))  # 3 kept at most: the first to finish goes
    assert [await backend.get_run(n) is not None for n in "abcd"] == [True, False, True, True]
    await backend.create_run(_run("e"))
    assert [await backend.get_run(n) is not None for n in "acde"] == [False, True, True, True]
    await backend.create_run(_run("f"))  # nothing finished is left: running runs stay
    assert [r.run_id for r in await backend.list_runs("t")] == ["c", "d", "e", "f"]


async def test_expired_runs_go_at_the_next_run_and_leave_their_thread_index() -> None:
    backend = MemoryBackend(ttl=0.0)
    await backend.create_run(_run("old"))
    await backend.publish("old", END_EVENT, b"{}")
    await backend.set_run_status("old", "success")
    await backend.create_run(_run("new"))
    assert list(backend._logs) == ["new"] and backend.total_bytes == 0
    assert [r.run_id for r in await backend.list_runs("t")] == ["new"]


@pytest.mark.parametrize(
    ("event_id", "event", "data"),
    [
        ("1", "messages", b'{"a":"b"}'),
        ("42", "values", b"x" * 5000),
        ("7", "messages", b"line one\nline two"),
        ("7", "messages", b"cr\ronly"),
        ("7", "messages", b"crlf\r\nend"),
        ("8", "odd\nname", b"{}"),
        ("9\r", "end", b"null"),
    ],
)
def test_a_stored_frame_is_what_sse_starlette_writes(
    event_id: str, event: str, data: bytes
) -> None:
    """The run log frames each event itself (once, at publish); readers send those bytes
    as they are, so they must be sse-starlette's own framing of the event."""
    expected = ServerSentEvent(data=data.decode(), event=event, id=event_id, sep="\n").encode()
    assert sse_frame(event_id, event, data) == expected
    if not any(c in (event + event_id).encode() + data for c in (10, 13)):
        assert StreamEvent.from_sse(expected) == StreamEvent(event_id, event, data)
