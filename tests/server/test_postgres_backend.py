"""Two server processes on one Postgres database and one Redis (``PostgresBackend``): a
run started through one is resumed, listed and cancelled through the other."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from streamtap.server.postgres import PostgresBackend
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN, sse_events

pytest.importorskip("psycopg_pool")


@pytest.fixture
def pair(serve: Any, postgres_db: str, redis_url: str, request: pytest.FixtureRequest) -> Any:
    model = ScriptedChat(tokens=[f"p{i}" for i in range(60)], delay=0.01)
    graph = chat_graph(model)
    prefix = f"pg-{request.node.name}:"
    servers = [
        serve(
            {"agent": graph},
            backend=PostgresBackend(postgres_db, redis_url, prefix=prefix),
            disconnect_grace=1.0,
        )
        for _ in range(2)
    ]
    return servers[0], servers[1], model


async def test_a_run_started_on_one_process_is_resumed_and_listed_on_the_other(pair: Any) -> None:
    a, b, model = pair
    async with httpx.AsyncClient(base_url=a.url) as http_a:
        thread = (await http_a.post("/threads", json={})).json()
        run_body = {"assistant_id": "agent", "input": HUMAN, "stream_mode": "messages-tuple"}
        first: list[Any] = []
        path = f"/threads/{thread['thread_id']}/runs/stream"
        async with http_a.stream("POST", path, json=run_body) as response:
            location = response.headers["location"]
            async for event in sse_events(response):
                first.append(event)
                if len(first) == 5:
                    break
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=b.url) as http_b:
        async with http_b.stream("GET", location, headers={"Last-Event-ID": first[-1][0]}) as r:
            assert r.status_code == 200
            rest = [e async for e in sse_events(r)]
        run = (await http_b.get(location.removesuffix("/stream"))).json()
        listed = (await http_b.get(f"/threads/{thread['thread_id']}/runs")).json()
        seen = (await http_b.get(f"/threads/{thread['thread_id']}")).json()
    everything = first + rest
    ids = [e[0] for e in everything]
    assert len(set(ids)) == len(ids)
    tokens = [d[0]["content"] for _, e, d in everything if e == "messages"]
    assert tokens == [*[f"p{i}" for i in range(60)], ""]
    assert everything[-1][1] == "end"
    assert run["status"] == "success" and [r["run_id"] for r in listed] == [run["run_id"]]
    assert seen["status"] == "idle" and seen["metadata"]["graph_id"] == "agent"
    assert model.events == ["opened", "finished"]


async def test_ready_names_postgres_and_redis(pair: Any) -> None:
    a, _, _ = pair
    async with httpx.AsyncClient(base_url=a.url) as http:
        ready = await http.get("/ready")
    assert (ready.status_code, ready.json()) == (
        200,
        {"ok": True, "parts": {"postgres": "ok", "redis": "ok"}},
    )
