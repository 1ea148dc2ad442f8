"""Events written behind the run (``_redis_writer``): order kept across batches, a
backlog bounded, a failed write raised to the run, ``publish`` after what was appended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamtap.server._redis_writer import RedisWriter
from streamtap.server.redis import RedisBackend

pytest.importorskip("redis")


async def test_appended_events_land_in_order_before_the_published_end(redis_url: str) -> None:
    backend = RedisBackend(redis_url, prefix="writer-order:")
    await backend.start()
    try:
        for i in range(300):
            await backend.append("r", "messages", str(i).encode())
        end_id = await backend.publish("r", "end", b"{}")  # after every appended event
        entries = await backend.redis.xrange(backend._events_key("r"))
        assert [f[b"d"] for _, f in entries] == [str(i).encode() for i in range(300)] + [b"{}"]
        assert entries[-1][0].decode() == end_id
    finally:
        await backend.close()


class _FailingPipeline:
    def __init__(self, log: list[Any], fail: bool) -> None:
        self.log, self.fail = log, fail

    async def __aenter__(self) -> _FailingPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def xadd(self, key: str, fields: dict[str, Any], **kw: Any) -> None:
        self.log.append(fields["d"])

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("redis went away")
        return []


class _FakeRedis:
    def __init__(self) -> None:
        self.written: list[Any] = []
        self.batches = 0
        self.fail_from: int | None = None

    def pipeline(self, transaction: bool) -> _FailingPipeline:
        self.batches += 1
        fail = self.fail_from is not None and self.batches >= self.fail_from
        return _FailingPipeline(self.written, fail)


async def test_a_failed_write_is_raised_to_the_run_and_nothing_after_it_is_written() -> None:
    fake = _FakeRedis()
    writer = RedisWriter(lambda: fake, lambda run: f"k:{run}", maxlen=100, high_water=4)
    await writer.append("r", "messages", b"0")
    await writer.flush("r")
    assert fake.written == [b"0"]
    fake.fail_from = 2
    await writer.append("r", "messages", b"1")
    with pytest.raises(ConnectionError, match="went away"):
        await writer.flush("r")
    # the run is told at its next append too (a new backlog: a later write may succeed)
    fake.fail_from = 3
    await writer.append("r", "messages", b"2")
    with pytest.raises(ConnectionError):
        for i in range(10):
            await writer.append("r", "messages", str(3 + i).encode())


async def test_a_backlog_past_high_water_makes_the_run_wait() -> None:
    fake = _FakeRedis()
    writer = RedisWriter(lambda: fake, lambda run: f"k:{run}", maxlen=100, high_water=8)
    for i in range(20):
        await writer.append("r", "messages", str(i).encode())
        backlog = writer._runs.get("r")
        assert backlog is None or len(backlog.events) < 8
    await writer.flush("r")
    assert fake.written == [str(i).encode() for i in range(20)]
    assert fake.batches < 20  # batched


async def test_a_reader_learns_how_a_run_ended_whose_end_event_was_lost(redis_url: str) -> None:
    """The run's record says it ended, but its ``end`` never reached the stream (Redis
    lost it, or was away when it was written): the reader, once it has read everything,
    gets the ending from the record instead of waiting forever."""
    from streamtap.server._records import RunRecord

    backend = RedisBackend(redis_url, prefix="writer-lost-end:", block_ms=100)
    await backend.start()
    try:
        run = RunRecord(
            "r", "t", "a", "g", stateless=True, stream_resumable=True, on_disconnect="x"
        )
        await backend.create_run(run)
        first = await backend.publish("r", "messages", b"[1]")
        await backend.set_run_status("r", "error")
        events = [e async for batch in backend.read("r", None) for e in batch]
        assert [(e.id, e.event) for e in events] == [
            (first, "messages"),
            (first, "error"),
            (first, "end"),
        ]
        assert events[-1].data == b'{"run_id":"r","status":"error"}'
    finally:
        await backend.close()
