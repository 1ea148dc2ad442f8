"""The Agent Streaming Protocol on three ``streamtap serve`` processes over one Postgres
and one Redis: a thread's runs execute wherever the queue puts them, and its readers,
on any process, get the one thread-wide log (the official client, SSE and WebSocket;
interrupts answered through another process; a reader reconnecting elsewhere with
``since``)."""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Any

import httpx
import pytest

from tests.server._cluster import Cluster
from tests.server.test_cluster import HUMAN, cluster, redis_server

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]
pytest.importorskip("psycopg_pool")
sdk = pytest.importorskip("langgraph_sdk")
__all__ = ["cluster", "redis_server"]  # the fixtures, shared with test_cluster
ALL = ["values", "updates", "messages", "lifecycle", "input", "tasks", "checkpoints"]


async def _command(base: str, thread: str, method: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        reply = await http.post(
            f"/threads/{thread}/commands", json={"id": 1, "method": method, "params": params}
        )
    body = reply.json()
    assert body["type"] == "success", body
    return body["result"]


async def _read(
    base: str, thread: str, since: int, until: Any, limit: int | None = None
) -> list[Any]:
    """Envelopes after ``since`` (all channels) until ``until(envelope)`` or ``limit``."""
    seen: list[Any] = []
    body = {"channels": ALL, "since": since}
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as http,
        http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if until(seen[-1]) or len(seen) == limit:
                    return seen
    raise AssertionError("the stream ended")


def _root_end(event: Any) -> bool:
    params = event["params"]
    return (
        event["method"] == "lifecycle"
        and not params["namespace"]
        and params["data"]["event"] in ("completed", "failed", "interrupted")
    )


async def test_a_threads_runs_on_any_process_make_one_log_every_process_serves(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.urls
    thread = str(uuid.uuid4())
    await _command(a, thread, "run.start", assistant_id="chat", input=HUMAN)
    first = await _read(c, thread, 0, _root_end)  # read on C while the run goes on
    second_run = await _command(b, thread, "run.start", assistant_id="chat", input=HUMAN)
    assert isinstance(second_run["run_id"], str)
    cut = 5
    head = await _read(a, thread, first[-1]["seq"], _root_end, limit=cut)
    rest = await _read(b, thread, head[-1]["seq"], _root_end)  # reconnects elsewhere
    whole = await _read(c, thread, 0, lambda e: e["seq"] == rest[-1]["seq"])
    assert whole == first + head + rest  # the same envelopes, byte for byte in JSON
    assert [e["seq"] for e in whole] == list(range(1, len(whole) + 1))  # every channel: no gap
    assert [e["event_id"] for e in whole] == [str(e["seq"]) for e in whole]
    texts = [
        "".join(
            e["params"]["data"]["delta"]["text"]
            for e in run
            if e["params"]["data"].get("event") == "content-block-delta"
        )
        for run in (first, head + rest)
    ]
    assert texts == ["".join(f"t{i}" for i in range(20))] * 2
    tree = await _command(c, thread, "agent.getTree")
    assert tree["tree"] == {"namespace": [], "status": "completed", "graph_name": "chat"}


@pytest.mark.parametrize("transport", ["sse", "websocket"])
async def test_an_interrupt_asked_on_one_process_is_answered_through_another(
    cluster: Cluster, transport: str
) -> None:
    a, b, _ = cluster.urls
    client = sdk.get_client(url=a)
    async with client.threads.stream(assistant_id="approval", transport=transport) as thread:
        await thread.run.start(input=HUMAN)
        streams = [m async for m in thread.messages]
        assert [await s.text for s in streams] == ["ok"]
        assert thread.interrupted
        interrupt_id = thread.interrupts[0]["interrupt_id"]
        await _command(
            b, thread.thread_id, "input.respond", interrupt_id=interrupt_id, response="yes"
        )
        final = await thread.output
    assert final["messages"][-1]["content"] == "approved: yes"
    log = await _read(
        b,
        thread.thread_id,
        0,
        lambda e: e["method"] == "lifecycle" and e["params"]["data"]["event"] == "completed",
    )
    asked = [e for e in log if e["method"] == "input.requested"]
    assert [e["params"]["data"]["interrupt_id"] for e in asked] == [interrupt_id]  # once
    ends = [e["params"]["data"]["event"] for e in log if _root_end(e)]
    assert ends == ["interrupted", "completed"]
