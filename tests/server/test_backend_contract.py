"""One contract for every run backend: in memory, Redis, Postgres + Redis (real servers).

What the server relies on from a backend: run and thread records as they were written,
runs of a thread in creation order, events read back from any cursor, reader counts,
cancel requests delivered to the process's handler, and ``check`` for ``GET /ready``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamtap.server import MemoryBackend, RedisBackend
from streamtap.server._records import (
    RunRecord,
    ThreadBusy,
    ThreadRecord,
    UnknownEventIdError,
    now_iso,
)
from streamtap.server.backend import END_EVENT, RunBackend
from streamtap.server.postgres import PostgresBackend


@pytest.fixture(params=["memory", "redis", "postgres"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[RunBackend]:
    prefix = f"contract-{uuid.uuid4().hex[:8]}:"
    if request.param == "memory":
        made: RunBackend = MemoryBackend()
    elif request.param == "redis":
        made = RedisBackend(request.getfixturevalue("redis_url"), prefix=prefix)
    else:
        pytest.importorskip("psycopg_pool")
        database = request.getfixturevalue("postgres_db")
        made = PostgresBackend(database, request.getfixturevalue("redis_url"), prefix=prefix)
    await made.start()
    try:
        yield made
    finally:
        await made.close()


def _run(thread_id: str, **fields: Any) -> RunRecord:
    return RunRecord(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        assistant_id="asst",
        graph_id="agent",
        stateless=False,
        stream_resumable=True,
        on_disconnect="continue",
        metadata={"k": [1, "two"]},
        **fields,
    )


async def test_runs_read_back_as_written_in_creation_order(backend: RunBackend) -> None:
    runs = [_run("t1") for _ in range(3)]
    for run in runs:
        await backend.create_run(run)
    await backend.create_run(_run("t2"))
    got = await backend.get_run(runs[0].run_id)
    assert got is not None and got.to_json() == runs[0].to_json()
    assert (got.stateless, got.stream_resumable, got.on_disconnect) == (False, True, "continue")
    assert [r.run_id for r in await backend.list_runs("t1")] == [r.run_id for r in runs]
    assert await backend.list_runs("nobody") == []
    assert await backend.get_run("no-such-run") is None


async def test_a_status_change_is_seen_with_a_newer_updated_at(backend: RunBackend) -> None:
    run = _run("t")
    await backend.create_run(run)
    written = run.updated_at  # (the memory backend keeps the record object itself)
    await asyncio.sleep(0.002)
    await backend.set_run_status(run.run_id, "running")
    running = await backend.get_run(run.run_id)
    assert running is not None and running.status == "running" and not running.done
    assert running.updated_at > written
    await backend.set_run_status(run.run_id, "success")
    done = await backend.get_run(run.run_id)
    assert done is not None and done.status == "success" and done.done


async def test_threads_are_stored_listed_newest_first_and_deleted(backend: RunBackend) -> None:
    old = ThreadRecord("a", {"user": "x"}, "idle", now_iso(), "2026-01-01T00:00:00+00:00")
    new = ThreadRecord("b", {}, "busy", now_iso(), "2026-06-01T00:00:00+00:00")
    await backend.put_thread(old)
    await backend.put_thread(new)
    assert await backend.get_thread("a") == old
    assert [t.thread_id for t in await backend.list_threads()][:2] == ["b", "a"]
    updated = await backend.update_thread("a", status="interrupted", metadata={"user": "y"})
    assert updated is not None and (updated.status, updated.metadata) == (
        "interrupted",
        {"user": "y"},
    )
    assert await backend.get_thread("a") == updated
    await backend.delete_thread("a")
    assert await backend.get_thread("a") is None
    assert await backend.update_thread("a", status="idle") is None


async def test_events_are_read_back_from_any_cursor(backend: RunBackend) -> None:
    run = _run("t")
    await backend.create_run(run)
    ids = [
        await backend.publish(run.run_id, "messages", f'{{"n": {i}}}'.encode()) for i in range(3)
    ]
    ids.append(await backend.publish(run.run_id, END_EVENT, b"{}"))
    assert await backend.last_event_id(run.run_id) == ids[-1]
    everything = [e async for batch in backend.read(run.run_id, None) for e in batch]
    assert [(e.id, e.event) for e in everything] == list(
        zip(ids, ["messages"] * 3 + [END_EVENT], strict=True)
    )
    after = [e async for batch in backend.read(run.run_id, ids[1]) for e in batch]
    assert [e.id for e in after] == ids[2:]
    sse = b"".join([chunk async for chunk in backend.read_sse(run.run_id, ids[2])])
    assert sse == b"".join(e.sse() for e in everything[3:])
    with pytest.raises(UnknownEventIdError):
        await backend.check_cursor(run.run_id, "not-an-id")


async def test_reader_counts_and_cancel_requests(backend: RunBackend) -> None:
    run = _run("t")
    await backend.create_run(run)
    assert await backend.add_listener(run.run_id, 1) == 1
    assert await backend.add_listener(run.run_id, 1) == 2
    assert await backend.add_listener(run.run_id, -1) == 1
    asked: list[str] = []
    backend.set_cancel_handler(asked.append)
    await backend.request_cancel(run.run_id)
    for _ in range(200):
        if asked:
            break
        await asyncio.sleep(0.01)
    assert asked == [run.run_id]


async def test_check_names_every_part_the_backend_needs(backend: RunBackend) -> None:
    parts = await backend.check()
    expected = {
        MemoryBackend: {},
        RedisBackend: {"redis": None},
        PostgresBackend: {"postgres": None, "redis": None},
    }
    assert parts == expected[type(backend)]


async def test_postgres_refuses_a_second_running_run_on_a_thread(
    postgres_db: str, redis_url: str
) -> None:
    pytest.importorskip("psycopg_pool")
    backend = PostgresBackend(postgres_db, redis_url, prefix="busy:")
    await backend.start()
    try:
        first, second = _run("t"), _run("t")
        await backend.create_run(first)
        await backend.create_run(second)
        await backend.set_run_status(first.run_id, "running")
        with pytest.raises(ThreadBusy, match="'t' is busy"):
            await backend.set_run_status(second.run_id, "running")
        assert (await backend.get_run(second.run_id)).status == "pending"  # type: ignore[union-attr]
        await backend.set_run_status(first.run_id, "success")
        await backend.set_run_status(second.run_id, "running")  # its turn now
        with pytest.raises(KeyError):
            await backend.set_run_status("no-such-run", "running")
    finally:
        await backend.close()


async def test_postgres_backend_says_what_to_do_before_it_is_started() -> None:
    backend = PostgresBackend("postgresql://nowhere/db", "redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="serve the app"):
        await backend.get_run("r")
    with pytest.raises(ValueError, match="pool_size"):
        PostgresBackend("postgresql://nowhere/db", "redis://x", pool_size=0)
