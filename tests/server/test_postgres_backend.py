"""Two server processes on one Postgres database and one Redis (``PostgresBackend``): a
run started through one is resumed, listed and cancelled through the other."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from streamtap.server.postgres import PostgresBackend
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN

pytest.importorskip("psycopg_pool")


@pytest.fixture
def pair(postgres_db: str, redis_url: str, request: pytest.FixtureRequest) -> Any:
    # the servers after the database, so they stop before it is dropped
    serve = request.getfixturevalue("serve")
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


async def test_while_postgres_is_unreachable_requests_fail_503_and_nothing_is_half_written(
    serve: Any, postgres_db: str, redis_url: str, request: pytest.FixtureRequest
) -> None:
    """The network to Postgres drops (a proxy cut: connections reset, new ones refused)
    and comes back. Meanwhile every request that needs the database answers 503 with
    ``Retry-After`` within the connect timeout, ``/ready`` names postgres, and nothing of
    a refused run stays behind (no run stream in Redis, no thread, no queued run); once
    the database answers again, so does the server, on the same connections pool."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from redis.asyncio import Redis

    from tests.server._tcp_proxy import TcpProxy

    parts = urlsplit(postgres_db)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
    through_proxy = urlunsplit(parts._replace(netloc=netloc))
    prefix = f"pg-{request.node.name}:"
    backend = PostgresBackend(
        through_proxy, redis_url, prefix=prefix, check_timeout=1.0, connect_timeout=1.0
    )
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b"]))}, backend=backend)
    redis = Redis.from_url(redis_url)
    body = {"assistant_id": "agent", "input": HUMAN}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            assert (await http.post(f"/threads/{thread}/runs/wait", json=body)).status_code == 200
            keys_before = sorted(await redis.keys(f"{prefix}*"))
            proxy.cut()
            ready = await http.get("/ready")
            assert ready.status_code == 503 and ready.json()["parts"]["redis"] == "ok"
            assert ready.json()["parts"]["postgres"] != "ok"
            refused = [
                await http.post("/threads", json={}),
                await http.post(f"/threads/{thread}/runs", json=body),
                await http.post("/runs", json=body),
                await http.get(f"/threads/{thread}"),
            ]
            for answer in refused:
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "1"
                assert answer.json() == {
                    "detail": "The server's database is not answering; retry shortly."
                }
            assert sorted(await redis.keys(f"{prefix}*")) == keys_before
            proxy.restore()
            deadline = asyncio.get_running_loop().time() + 15
            while (await http.get("/ready")).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.2)
            again = await http.post(f"/threads/{thread}/runs/wait", json=body)
            assert again.status_code == 200
            assert again.json()["messages"][-1]["content"] == "ab"
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            threads = conn.execute("SELECT count(*) FROM streamtap_threads").fetchone()
            runs = conn.execute("SELECT status FROM streamtap_runs ORDER BY seq").fetchall()
        assert threads == (1,)
        assert [r[0] for r in runs] == ["success", "success"]
    finally:
        await redis.aclose()
        proxy.close()


async def test_processes_starting_together_set_up_langgraphs_tables_without_a_deadlock(
    postgres_dsn: str,
) -> None:
    """Four processes' start-ups at once, five times on fresh databases: LangGraph's
    ``setup()`` (which builds indexes ``CONCURRENTLY``) runs once per database and no
    start-up waits on another's lock while holding a snapshot (a deadlock Postgres does
    not detect: the lock's holder is an idle connection of the process that waits)."""
    from psycopg_pool import AsyncConnectionPool

    from streamtap.server._pg_persistence import open_persistence
    from tests._postgres_fixtures import fresh_database

    for _ in range(5):
        with fresh_database(postgres_dsn) as database:
            pools = [
                AsyncConnectionPool(database, open=False, kwargs={"autocommit": True})
                for _ in range(4)
            ]
            try:
                for pool in pools:
                    await pool.open(wait=True)
                await asyncio.wait_for(
                    asyncio.gather(*(open_persistence(pool) for pool in pools)), 60
                )
                async with pools[0].connection() as conn:
                    cur = await conn.execute("SELECT count(*) FROM checkpoint_migrations")
                    first = await cur.fetchone()
                    cur = await conn.execute("SELECT count(*) FROM store_migrations")
                    second = await cur.fetchone()
                assert first is not None and second is not None
                assert first[0] > 0 and second[0] > 0
            finally:
                for pool in pools:
                    await pool.close()


async def test_the_postgres_layout_keeps_state_in_langgraphs_tables_and_deletes_it(
    serve: Any, postgres_db: str, redis_url: str, request: pytest.FixtureRequest
) -> None:
    """``create_app(database_url=...)``: a thread's checkpoints go to LangGraph's own
    ``checkpoints`` table (readable by a LangGraph app on the same database), store items
    to its ``store`` table, and ``DELETE /threads/{id}`` removes the checkpoints, through
    the async saver (its sync methods refuse the event loop's thread)."""
    import psycopg

    graph = chat_graph(ScriptedChat(tokens=["x", "y"]))
    server = serve({"agent": graph}, database_url=postgres_db, redis_url=redis_url)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        body = {"assistant_id": "agent", "input": HUMAN}
        assert (await http.post(f"/threads/{thread}/runs/wait", json=body)).status_code == 200
        item = {"namespace": ["notes"], "key": "k", "value": {"v": 1}}
        assert (await http.put("/store/items", json=item)).status_code == 204
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            count = "SELECT count(*) FROM checkpoints WHERE thread_id = %s"
            assert conn.execute(count, (thread,)).fetchone()[0] > 0  # type: ignore[index]
            stored = conn.execute("SELECT value FROM store WHERE key = 'k'").fetchone()
            assert stored is not None and stored[0] == {"v": 1}
            assert (await http.delete(f"/threads/{thread}")).status_code == 204
            assert conn.execute(count, (thread,)).fetchone()[0] == 0  # type: ignore[index]
        assert (await http.get(f"/threads/{thread}")).status_code == 404
