"""A client that leaves cancels its run (after the grace period), closing the model stream."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN, sse_events

RUN = {"assistant_id": "agent", "input": HUMAN, "stream_mode": "messages-tuple"}


async def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _read_some(client: httpx.AsyncClient, body: dict[str, Any], n: int) -> str:
    async with client.stream("POST", "/runs/stream", json=body) as response:
        location = response.headers["content-location"]
        seen = 0
        async for _ in sse_events(response):
            seen += 1
            if seen == n:
                break
    return location


@pytest.mark.parametrize("sync", [True, False])
async def test_disconnect_cancels_the_run_and_closes_the_model_stream(
    serve: Any, sync: bool
) -> None:
    model = ScriptedChat(tokens=["x"] * 500, delay=0.01)
    server = serve({"agent": chat_graph(model, sync=sync)}, disconnect_grace=0.2)
    async with httpx.AsyncClient(base_url=server.url) as client:
        run_url = await _read_some(client, RUN, 4)
        await _wait_for(lambda: model.events[-1:] == ["closed"])
        run = (await client.get(run_url)).json()
        assert run["status"] == "interrupted"
        async with client.stream("GET", f"{run_url}/stream", headers={"Last-Event-ID": "0"}) as r:
            events = [e async for e in sse_events(r)]
    assert events[-1][1:] == ("end", {"run_id": run["run_id"], "status": "interrupted"})
    tokens = [e for e in events if e[1] == "messages"]
    assert 3 <= len(tokens) < 500
    assert model.events == ["opened", "closed"]


async def test_on_disconnect_continue_keeps_the_run_going(serve: Any) -> None:
    model = ScriptedChat(tokens=["x"] * 40, delay=0.005)
    server = serve({"agent": chat_graph(model)}, disconnect_grace=0.05)
    async with httpx.AsyncClient(base_url=server.url) as client:
        run_url = await _read_some(client, {**RUN, "on_disconnect": "continue"}, 3)
        await _wait_for(lambda: model.events[-1:] == ["finished"])
        await asyncio.sleep(0.05)
        assert (await client.get(run_url)).json()["status"] == "success"
    assert model.events == ["opened", "finished"]


async def test_cancel_endpoint_stops_a_connected_run(serve: Any) -> None:
    model = ScriptedChat(tokens=["x"] * 500, delay=0.01)
    server = serve({"agent": chat_graph(model)})
    async with httpx.AsyncClient(base_url=server.url) as client:
        async with client.stream("POST", "/runs/stream", json=RUN) as response:
            run_url = response.headers["content-location"]
            events = []
            async for event in sse_events(response):
                events.append(event)
                if len(events) == 5:
                    cancel = await client.post(f"{run_url}/cancel", params={"wait": 1})
                    assert cancel.status_code == 202
        assert events[-1][1] == "end" and events[-1][2]["status"] == "interrupted"
        assert model.events == ["opened", "closed"]
        assert (await client.get(run_url)).json()["status"] == "interrupted"
