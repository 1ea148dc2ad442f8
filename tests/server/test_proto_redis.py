"""The threads' protocol logs in Redis (``_proto_redis``), against a real redis-server:
numbering that goes on across runs, processes and an expired stream; replay after
``since``; the gap once Redis trimmed; interrupts asked remembered; a batch retried after
a dropped connection written once; and the official client end to end on a server whose
runs and logs are in Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streamtap.server._proto_filter import Subscription
from streamtap.server._proto_log import Gap, follow
from streamtap.server.redis import RedisBackend
from tests.server._support import ScriptedChat, approval_graph, chat_graph

pytest.importorskip("redis")
ALL = Subscription.parse({"channels": ["values", "messages", "lifecycle", "input"]})
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def backend(redis_url: str) -> Any:
    import uuid

    backend = RedisBackend(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def test_seq_goes_on_across_writers_and_readers_read_what_was_written(backend: Any) -> None:
    log = backend.protocol.log("t1")
    assert await log.head() == 0
    first = await log.writer()
    first.append("lifecycle", [], {"event": "running", "graph_name": "agent"})
    first.append("values", ["sub:1"], {"n": 1})
    await first.done()
    second = await backend.protocol.log("t1").writer()  # the next run, any process
    event = second.append("lifecycle", [], {"event": "completed", "graph_name": "agent"})
    await second.done()
    assert event.seq == 3 and await log.head() == 3
    kept = await log.read(0)
    assert not isinstance(kept, Gap)
    assert [(e.seq, e.event_id, e.method, e.namespace) for e in kept] == [
        (1, "1", "lifecycle", ()),
        (2, "2", "values", ("sub:1",)),
        (3, "3", "lifecycle", ()),
    ]
    wire = json.loads(kept[1].frame)
    assert (wire["seq"], wire["event_id"], wire["params"]["data"]) == (2, "2", {"n": 1})
    assert kept[2].data == {"event": "completed", "graph_name": "agent"}  # read from the frame
    assert [e.seq for e in await log.read(1)] == [2, 3]  # type: ignore[union-attr]


async def test_a_follower_replays_then_goes_live(backend: Any) -> None:
    log = backend.protocol.log("t2")
    writer = await log.writer()
    writer.append("values", [], {"n": 1})
    writer.append("updates", [], {"agent": {}})  # not subscribed
    await writer.done()
    seen: list[int] = []

    async def reader() -> None:
        async for event in follow(log, 0, ALL):
            assert not isinstance(event, Gap)
            seen.append(event.seq)
            if event.method == "lifecycle":
                return

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    assert seen == [1]
    writer.append("messages", [], {"event": "message-start"})
    writer.append("lifecycle", [], {"event": "completed"})
    await writer.done()
    await asyncio.wait_for(task, 10)
    assert seen == [1, 3, 4]


async def test_a_trimmed_log_reports_the_gap_and_an_expired_one_numbers_on(backend: Any) -> None:
    from streamtap.server._proto_redis import RedisLogs

    logs = RedisLogs(backend, maxlen=5)
    log = logs.log("t3")
    writer = await log.writer()
    for i in range(300):  # approximate trimming works in whole nodes of 100 entries
        writer.append("values", [], {"i": i})
    await writer.done()
    gap = await log.read(0)
    assert isinstance(gap, Gap) and gap.min_available_seq > 1 and gap.since == 0
    rest = await log.read(gap.min_available_seq - 1)
    assert [e.seq for e in rest] == list(range(gap.min_available_seq, 301))  # type: ignore[union-attr]
    batches = log.batches(0)
    assert await anext(batches) == gap  # a live follower is told too
    await batches.aclose()
    await backend.redis.delete(logs.key("t3"))  # the stream expired, its counter not
    assert await log.head() == 300
    assert await log.read(300) == []
    again = await log.writer()
    assert again.append("values", [], {}).seq == 301
    await again.done()
    await logs.drop("t3")
    assert await log.head() == 0


async def test_interrupts_asked_are_remembered_for_the_next_run(backend: Any) -> None:
    log = backend.protocol.log("t4")
    writer = await log.writer()
    writer.asked.add("i-1")
    await writer.done()
    assert (await log.writer()).asked == {"i-1"}


async def test_a_batch_retried_after_a_dropped_connection_is_written_once(backend: Any) -> None:
    """Redis took the batch, the reply was lost: written again, the ids Redis has are
    refused, which proves it has them; nothing twice, nothing raised."""
    from redis.exceptions import ConnectionError

    real = backend.redis
    drops = iter([True])

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def pipeline(self, **kwargs: Any) -> Any:
            pipe = real.pipeline(**kwargs)
            execute = pipe.execute

            async def execute_then_drop(**kw: Any) -> Any:
                replies = await execute(**kw)
                if next(drops, False):
                    raise ConnectionError("reset after the write")
                return replies

            pipe.execute = execute_then_drop
            return pipe

    writer = await backend.protocol.log("t5").writer()
    backend._redis = Flaky()
    try:
        writer.append("values", [], {"n": 1})
        writer.append("values", [], {"n": 2})
        await writer.done()
    finally:
        backend._redis = real
    kept = await backend.protocol.log("t5").read(0)
    assert [json.loads(e.frame)["params"]["data"] for e in kept] == [{"n": 1}, {"n": 2}]  # type: ignore[union-attr]


@pytest.fixture
def redis_serve(serve: Any, redis_url: str) -> Any:
    return lambda graphs: serve(graphs, redis_url=redis_url)


async def test_the_official_client_on_a_server_whose_logs_are_in_redis(redis_serve: Any) -> None:
    sdk = pytest.importorskip("langgraph_sdk")
    server = redis_serve(
        {
            "chat": chat_graph(ScriptedChat(tokens=["Hel", "lo", "!"])),
            "approval": approval_graph(ScriptedChat(tokens=["ok"])),
        }
    )
    client = sdk.get_client(url=server.url)
    for transport in ("sse", "websocket"):
        async with client.threads.stream(assistant_id="chat", transport=transport) as thread:
            await thread.run.start(input=HUMAN)
            streams = [m async for m in thread.messages]
            assert [await s.text for s in streams] == ["Hello!"]
            await thread.output
        async with client.threads.stream(assistant_id="approval", transport=transport) as thread:
            await thread.run.start(input=HUMAN)
            _ = [m async for m in thread.messages]
            assert thread.interrupted
            await thread.run.respond("yes")
            final = await thread.output
        assert final["messages"][-1]["content"] == "approved: yes", transport
