"""The Redis Streams backend against a real redis-server on loopback: two server
"processes" (two apps, two backends) share runs, resumes and cancellation."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamtap.server import RedisBackend
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN, sse_events, start_redis

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS is None, reason="redis-server not installed (Debian package: redis-server)"
)
RUN = {"assistant_id": "agent", "input": HUMAN, "stream_mode": "messages-tuple"}


@pytest.fixture(params=["redis", "postgres"])
def pair(redis_url: str, request: pytest.FixtureRequest) -> tuple[Any, Any, ScriptedChat]:
    """Two server processes sharing runs: through Redis alone, or Postgres + Redis (the
    servers are started after the database, so they stop before it is dropped)."""
    model = ScriptedChat(tokens=[f"r{i}" for i in range(60)], delay=0.01)
    graph = chat_graph(model)
    prefix = f"test-{request.node.name}:"
    if request.param == "postgres":
        pytest.importorskip("psycopg_pool")
        from streamtap.server.postgres import PostgresBackend

        database = request.getfixturevalue("postgres_db")
        backends = [PostgresBackend(database, redis_url, prefix=prefix) for _ in range(2)]
    else:
        backends = [RedisBackend(redis_url, prefix=prefix) for _ in range(2)]
    serve = request.getfixturevalue("serve")
    a, b = (serve({"agent": graph}, backend=x, disconnect_grace=1.0) for x in backends)
    return a, b, model


async def test_resume_on_another_process(pair: tuple[Any, Any, ScriptedChat]) -> None:
    a, b, model = pair
    first: list[Any] = []
    async with (
        httpx.AsyncClient(base_url=a.url) as client_a,
        client_a.stream("POST", "/runs/stream", json=RUN) as response,
    ):
        location = response.headers["location"]
        async for event in sse_events(response):
            first.append(event)
            if len(first) == 5:
                break
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=b.url) as client_b:
        async with client_b.stream("GET", location, headers={"Last-Event-ID": first[-1][0]}) as r:
            assert r.status_code == 200
            rest = [e async for e in sse_events(r)]
        run = (await client_b.get(location.removesuffix("/stream"))).json()
    everything = first + rest
    ids = [e[0] for e in everything]
    assert len(set(ids)) == len(ids) and ids == sorted(
        ids, key=lambda i: tuple(map(int, i.split("-")))
    )
    assert [d[0]["content"] for _, e, d in everything if e == "messages"] == [
        *[f"r{i}" for i in range(60)],
        "",
    ]
    assert everything[-1][1] == "end"
    assert run["status"] == "success"
    assert model.events == ["opened", "finished"]


async def test_cancel_from_another_process(pair: tuple[Any, Any, ScriptedChat]) -> None:
    a, b, model = pair
    async with (
        httpx.AsyncClient(base_url=a.url) as client_a,
        httpx.AsyncClient(base_url=b.url) as client_b,
    ):
        async with client_a.stream("POST", "/runs/stream", json=RUN) as response:
            run_url = response.headers["content-location"]
            events = []
            async for event in sse_events(response):
                events.append(event)
                if len(events) == 3:
                    assert (await client_b.post(f"{run_url}/cancel")).status_code == 202
        assert events[-1][1] == "end" and events[-1][2]["status"] == "interrupted"
        assert (await client_b.get(run_url)).json()["status"] == "interrupted"
    assert model.events == ["opened", "closed"]


async def test_threads_and_unknown_ids_are_shared(pair: tuple[Any, Any, ScriptedChat]) -> None:
    a, b, _ = pair
    async with (
        httpx.AsyncClient(base_url=a.url) as client_a,
        httpx.AsyncClient(base_url=b.url) as client_b,
    ):
        thread = (await client_a.post("/threads", json={"metadata": {"who": "a"}})).json()
        seen = (await client_b.get(f"/threads/{thread['thread_id']}")).json()
        assert seen["metadata"] == {"who": "a"}
        async with client_a.stream(
            "POST", "/runs/stream", json={**RUN, "stream_resumable": True}
        ) as r:
            location = r.headers["location"]
            whole = [e async for e in sse_events(r)]
        async with client_b.stream("GET", location) as r:
            assert [e async for e in sse_events(r)] == whole
        for bad in ("12", "99999999999999-0"):
            assert (await client_b.get(location, headers={"Last-Event-ID": bad})).status_code == 400


async def test_ready_answers_while_redis_does_and_names_it_when_it_stops(
    serve: Any, tmp_path: Path
) -> None:
    proc, url = start_redis(tmp_path)
    try:
        graph = chat_graph(ScriptedChat(tokens=["a"]))
        server = serve({"agent": graph}, backend=RedisBackend(url), api_token="s3cret-token")
        async with httpx.AsyncClient(base_url=server.url) as http:
            ready = await http.get("/ready")  # a probe carries no token
            assert (ready.status_code, ready.json()) == (
                200,
                {"ok": True, "parts": {"redis": "ok"}},
            )
            proc.kill()
            proc.wait(timeout=10)
            down = await http.get("/ready")
            assert down.status_code == 503
            body = down.json()
            assert body["ok"] is False and body["parts"]["redis"] != "ok"
            assert body["error"].startswith("redis: ") and "Error" in body["error"]
            assert (await http.get("/ok")).status_code == 200  # liveness: the process answers
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
