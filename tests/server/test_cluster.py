"""Three ``streamtap serve`` processes on one Postgres and one Redis (the production
layout), driven over HTTP as a load balancer would spread clients: runs race on one
thread, move between processes, survive a killed process, Redis restarting and Postgres
dropping out."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._postgres_fixtures import fresh_database
from tests.server._cluster import Cluster
from tests.server.conftest import HUMAN, sse_events, start_redis

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]
pytest.importorskip("psycopg_pool")


def _run(tokens: int = 3, delay: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "assistant_id": "agent",
        "input": HUMAN,
        "config": {"configurable": {"tokens": tokens, "delay": delay}},
        **extra,
    }


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path]]:
    workdir = tmp_path_factory.mktemp("cluster-redis")
    proc, url = start_redis(workdir)
    try:
        yield proc, url, workdir
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(
    postgres_dsn: str,
    redis_server: tuple[Any, str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    with (
        fresh_database(postgres_dsn) as database,
        Cluster(database, redis_server[1], tmp_path_factory.mktemp("cluster")) as c,
    ):
        yield c


def _clients(cluster: Cluster) -> list[httpx.AsyncClient]:
    return [httpx.AsyncClient(base_url=url, timeout=60) for url in cluster.urls]


async def _close(clients: list[httpx.AsyncClient]) -> None:
    for c in clients:
        await c.aclose()


async def _join(client: httpx.AsyncClient, thread_id: str, run_id: str) -> Any:
    return (await client.get(f"/threads/{thread_id}/runs/{run_id}/join")).json()


async def test_start_on_a_join_on_b_cancel_on_c(cluster: Cluster) -> None:
    a, b, c = clients = _clients(cluster)
    try:
        thread = (await a.post("/threads", json={})).json()["thread_id"]
        made = await a.post(f"/threads/{thread}/runs", json=_run(400, 0.01, stream_resumable=True))
        assert made.status_code == 200, made.text
        run = made.json()
        run_url = f"/threads/{thread}/runs/{run['run_id']}"
        seen: list[tuple[str | None, str, Any]] = []
        async with b.stream("GET", f"{run_url}/stream") as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                seen.append(event)
                tokens = [e for e in seen if e[1] == "values"]
                if len(seen) == 3:
                    assert (await c.post(f"{run_url}/cancel")).status_code == 202
        assert seen[0][1] == "metadata" and seen[0][2]["run_id"] == run["run_id"]
        assert seen[-1][1] == "end" and seen[-1][2]["status"] == "interrupted"
        for client in clients:
            got = (await client.get(run_url)).json()
            assert got["status"] == "interrupted"
        thread_now = (await c.get(f"/threads/{thread}")).json()
        assert thread_now["status"] == "idle"
        del tokens
    finally:
        await _close(clients)
