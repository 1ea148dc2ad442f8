"""A thread's protocol log (``_proto_log``) and the subscription filter
(``_proto_filter``): numbering, stable ids, replay after ``since``, a byte bound that
reports the gap, live following, and the matching rules of LangGraph's server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streamtap.server._proto_filter import Subscription, SubscriptionError
from streamtap.server._proto_log import Gap, ThreadLog, follow

ALL = Subscription.parse({"channels": ["values", "messages", "lifecycle", "input", "custom"]})


def test_seq_is_thread_wide_and_the_envelope_is_the_wire_one() -> None:
    log = ThreadLog()
    first = log.append("lifecycle", [], {"event": "running", "graph_name": "agent"})
    second = log.append("messages", ["sub:1"], {"event": "message-start"}, node="agent")
    assert (first.seq, second.seq, log.last_seq) == (1, 2, 2)
    wire = json.loads(second.frame)
    assert wire["type"] == "event" and wire["seq"] == 2 and wire["event_id"] == "2"
    assert wire["method"] == "messages"
    assert wire["params"]["namespace"] == ["sub:1"] and wire["params"]["node"] == "agent"
    assert wire["params"]["data"] == {"event": "message-start"}
    assert isinstance(wire["params"]["timestamp"], int)


def test_replay_after_since_and_a_gap_once_the_bound_dropped_events() -> None:
    log = ThreadLog(max_bytes=600)
    for i in range(20):
        log.append("values", [], {"i": i})
    kept = log.after(0)
    assert isinstance(kept, Gap)
    assert kept.min_available_seq == log.min_available_seq > 1
    assert "since=0" in kept.message
    rest = log.after(log.min_available_seq - 1)
    assert not isinstance(rest, Gap)
    assert [e.seq for e in rest] == list(range(log.min_available_seq, 21))
    assert log.after(20) == [] and log.after(18) == [e for e in rest if e.seq > 18]


async def test_follow_replays_then_goes_live_with_the_filter_applied() -> None:
    log = ThreadLog()
    log.append("values", [], {"n": 1})
    log.append("updates", [], {"agent": {}})  # not subscribed
    seen: list[int] = []

    async def reader() -> None:
        async for event in follow(log, 0, ALL):
            assert not isinstance(event, Gap)
            seen.append(event.seq)
            if event.method == "lifecycle":
                return

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.01)
    assert seen == [1]
    log.append("messages", [], {"event": "message-start"})
    log.append("lifecycle", [], {"event": "completed"})
    await asyncio.wait_for(task, 2)
    assert seen == [1, 3, 4]


async def test_a_follower_that_fell_behind_the_bound_is_told_the_gap() -> None:
    log = ThreadLog(max_bytes=400)
    for i in range(10):
        log.append("values", [], {"i": i})
    got: list[Any] = []
    async for event in follow(log, 0, ALL):
        got.append(event)
        if not isinstance(event, Gap) and event.seq == 10:
            break
    assert isinstance(got[0], Gap) and got[0].since == 0
    assert [e.seq for e in got[1:]] == list(range(got[0].min_available_seq, 11))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "channels is required"),
        ({"channels": []}, "channels is required"),
        ({"channels": ["values", "debug"]}, "unsupported entries: debug"),
        ({"channels": ["custom:"]}, "unsupported entries: custom:"),
    ],
)
def test_bad_subscriptions_say_what_is_allowed(body: dict[str, Any], message: str) -> None:
    with pytest.raises(SubscriptionError, match=message):
        Subscription.parse(body)


def test_matching_follows_langgraphs_rules() -> None:
    sub = Subscription.parse({"channels": ["input", "custom:progress", "messages"]})
    assert sub.matches("input.requested", [], {"interrupt_id": "i"})
    assert sub.matches("custom", [], {"name": "progress", "payload": 1})
    assert not sub.matches("custom", [], {"name": "other", "payload": 1})
    assert not sub.matches("values", [], {})
    assert Subscription.parse({"channels": ["custom"]}).matches("custom", [], {"x": 1})
    scoped = Subscription.parse({"channels": ["messages"], "namespaces": [["sub"]], "depth": 0})
    assert scoped.matches("messages", ["sub:ab12"], {})
    assert scoped.matches("messages", ["sub"], {})
    assert not scoped.matches("messages", ["sub:ab12", "inner:1"], {})  # below depth 0
    assert not scoped.matches("messages", [], {})
    assert not scoped.matches("messages", ["subway:1"], {})
    exact = Subscription.parse({"channels": ["messages"], "namespaces": [["sub:ab12"]]})
    assert exact.matches("messages", ["sub:ab12", "inner:1"], {})  # no depth: any below
    assert not exact.matches("messages", ["sub:cd34"], {})
    # malformed namespaces are dropped and a malformed depth is no limit, as LangGraph does
    loose = Subscription.parse({"channels": ["values"], "namespaces": ["x", [1]], "depth": "2"})
    assert (loose.namespaces, loose.depth) == ((), None)
    assert loose.matches("values", ["a:1", "b:2"], {})


async def test_memory_logs_evict_idle_threads_past_the_total_and_number_on() -> None:
    """Past the total bound the least recently written idle log goes; its thread's next
    run numbers on (a reader's old cursor meets a gap, not reused numbers); a log being
    read or written is never evicted; a log only read is forgotten when its reader goes."""
    from streamtap.server._proto_log import MemoryLogs

    logs = MemoryLogs(max_bytes=10_000, max_total_bytes=3_000)
    busy = logs.log("busy")
    await busy.writer()  # a run writing it
    for thread in ("a", "b", "busy"):
        writer = await logs.log(thread).writer()
        for i in range(10):
            writer.append("values", [], {"thread": thread, "i": i, "pad": "x" * 60})
        await writer.done()
    assert logs.total_bytes <= 3_000
    assert "a" not in logs.logs and "busy" in logs.logs  # a: written longest ago
    again = logs.log("a")
    assert await again.head() == 10
    gap = await again.read(3)
    assert gap == Gap(3, 11)
    assert (await again.writer()).append("values", [], {}).seq == 11

    reader = logs.log("nobody").batches(0)
    waiting = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)
    assert "nobody" in logs.logs
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await reader.aclose()
    assert "nobody" not in logs.logs
    await logs.drop("busy")
    assert "busy" not in logs.logs


def test_a_kept_event_costs_its_bytes_not_orjsons_buffer() -> None:
    """orjson's ``bytes`` hold the whole buffer it wrote into (4 KiB at least); a log that
    kept them held twenty times what its byte bound counts (``len``)."""
    import tracemalloc

    log = ThreadLog(max_bytes=64 * 1024 * 1024)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2_000):
            log.append("messages", [], {"event": "content-block-delta", "index": 0, "i": i})
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    frames = sum(len(e.frame) for e in log.events())
    assert held < 4 * frames, (held, frames)  # the frames, their events and the deque
