"""The in-memory run logs are bounded in bytes, per run and in all, not only in events."""

from __future__ import annotations

import pytest

from streamtap.server._records import EventsExpiredError, RunRecord
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
    assert log.events[-1].id == "1000" and int(log.events[0].id) == log.first_seq > 1
    # a reader from the start fell behind what was trimmed: 410, not a silent gap
    with pytest.raises(EventsExpiredError):
        await backend.check_cursor("r", "0")
    # the newest events are still readable
    await backend.publish("r", END_EVENT, b"{}")
    reader = backend.read("r", log.events[-3].id)
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
