"""Two server processes on one Postgres database and one Redis (``PostgresBackend``): a
run started through one is resumed, listed and cancelled through the other."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from streamtap.server.postgres import PostgresBackend
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN

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


async def test_a_threads_runs_and_status_are_seen_from_the_other_process(pair: Any) -> None:
    a, b, _ = pair
    async with httpx.AsyncClient(base_url=a.url) as http_a:
        thread = (await http_a.post("/threads", json={})).json()
        path = f"/threads/{thread['thread_id']}/runs/wait"
        body = {"assistant_id": "agent", "input": HUMAN}
        answer = await http_a.post(path, json=body)
        assert answer.status_code == 200
        assert answer.json()["messages"][-1]["content"] == "".join(f"p{i}" for i in range(60))
    async with httpx.AsyncClient(base_url=b.url) as http_b:
        listed = (await http_b.get(f"/threads/{thread['thread_id']}/runs")).json()
        seen = (await http_b.get(f"/threads/{thread['thread_id']}")).json()
    assert [r["status"] for r in listed] == ["success"]
    assert seen["status"] == "idle" and seen["metadata"]["graph_id"] == "agent"


async def test_ready_names_postgres_and_redis(pair: Any) -> None:
    a, _, _ = pair
    async with httpx.AsyncClient(base_url=a.url) as http:
        ready = await http.get("/ready")
    assert (ready.status_code, ready.json()) == (
        200,
        {"ok": True, "parts": {"postgres": "ok", "redis": "ok"}},
    )


async def test_ready_is_503_naming_postgres_while_the_database_is_gone(
    serve: Any, postgres_dsn: str, redis_url: str
) -> None:
    """The database disappears under a serving process (connections cut, then gone): the
    readiness probe says so within its timeout; ``/ok`` still answers."""
    import uuid

    import psycopg
    from psycopg import sql

    from tests._postgres import database_dsn

    name = f"gone_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    backend = PostgresBackend(database_dsn(postgres_dsn, name), redis_url, check_timeout=1.0)
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a"]))}, backend=backend)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/ready")).status_code == 200
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            admin.execute(drop)
        down = await http.get("/ready")
        assert down.status_code == 503
        body = down.json()
        assert body["parts"]["redis"] == "ok" and body["parts"]["postgres"] != "ok"
        assert body["error"].startswith("postgres: ")
        assert (await http.get("/ok")).status_code == 200
