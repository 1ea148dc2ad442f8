"""Three ``streamtap serve`` processes on one Postgres and one Redis (the production
layout), driven over HTTP as a load balancer would spread clients: runs race on one
thread, move between processes, survive a killed process, Redis restarting and Postgres
dropping out."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import time
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


class RedisServer:
    """The cluster's redis-server, which a test may restart on the same port (its data
    lost: nothing is persisted)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc, self.url = start_redis(workdir)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def start(self) -> None:
        self.proc, _ = start_redis(self.workdir, self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("cluster-redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(
    postgres_dsn: str,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    with (
        fresh_database(postgres_dsn) as database,
        Cluster(database, redis_server.url, tmp_path_factory.mktemp("cluster")) as c,
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
                if len(seen) == 3:
                    assert (await c.post(f"{run_url}/cancel")).status_code == 202
        assert seen[0][1] == "metadata" and seen[0][2] == {"run_id": run["run_id"], "attempt": 1}
        assert seen[-1][1] == "end" and seen[-1][2]["status"] == "interrupted"
        for client in clients:
            got = (await client.get(run_url)).json()
            assert got["status"] == "interrupted"
        thread_now = (await c.get(f"/threads/{thread}")).json()
        assert thread_now["status"] == "idle"
        # a second run started through C is waited on through A and B (join, runs.wait)
        second = (await c.post(f"/threads/{thread}/runs", json=_run(3, 0.01))).json()
        joined = await _join(a, thread, second["run_id"])
        assert [m["content"] for m in joined["messages"]][-1] == "t0t1t2"
        waited = await b.post(f"/threads/{thread}/runs/wait", json=_run(2))
        assert [m["content"] for m in waited.json()["messages"]][-1] == "t0t1"
    finally:
        await _close(clients)


async def _db_rows(cluster: Cluster, sql: str, *args: Any) -> list[Any]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(cluster.database_url) as conn:
        cur = await conn.execute(sql, args)
        return await cur.fetchall()


async def _until(check: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _overlaps(cluster: Cluster, threads: set[str]) -> dict[str, list[str]]:
    """Per thread, the ``answer`` executions (run ids, by start) that overlapped the one
    before them: none when runs on a thread never ran at once."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for line in cluster.traces():
        if line[0] == "answer" and line[2] in threads:
            spans.setdefault(line[2], []).append((float(line[4]), float(line[5]), line[1]))
    clashes: dict[str, list[str]] = {}
    for thread, runs in spans.items():
        runs.sort()
        for (_, end, _), (start, _, run_id) in itertools.pairwise(runs):
            if start < end:
                clashes.setdefault(thread, []).append(run_id)
    return clashes


@pytest.mark.parametrize("strategy", ["reject", "enqueue"])
async def test_race_on_one_thread_never_runs_two_at_once(cluster: Cluster, strategy: str) -> None:
    """100 rounds of 12 simultaneous requests on one thread, spread over the three
    processes: ``reject`` admits exactly one (the others 409), the default strategy admits
    all and runs them one at a time in admission order. Ten rounds go at once."""
    clients = _clients(cluster)
    rounds, batch, requests = 100, 10, 12
    # reject: the run outlasts the race, even on a loaded machine (at 0.4 s, a round's last
    # request once arrived after its first run had ended, and was rightly admitted)
    pace = _run(15, 0.1) if strategy == "reject" else _run(1, 0.0)
    threads: set[str] = set()
    try:

        async def one_round(n: int) -> tuple[str, list[int]]:
            owner = clients[n % 3]
            thread = (await owner.post("/threads", json={})).json()["thread_id"]
            body = {**pace, "multitask_strategy": strategy}
            answers = await asyncio.gather(
                *(
                    clients[(n + i) % 3].post(f"/threads/{thread}/runs", json=body)
                    for i in range(requests)
                )
            )
            return thread, [a.status_code for a in answers]

        for start in range(0, rounds, batch):
            outcomes = await asyncio.gather(*(one_round(n) for n in range(start, start + batch)))
            for thread, codes in outcomes:
                threads.add(thread)
                if strategy == "reject":
                    assert sorted(codes) == [200] + [409] * (requests - 1), codes
                else:
                    assert codes == [200] * requests, codes
        expected = len(threads) * (1 if strategy == "reject" else requests)

        async def all_done() -> bool:
            rows = await _db_rows(
                cluster,
                "SELECT count(*) FROM streamtap_runs WHERE thread_id = ANY(%s)"
                " AND status = 'success'",
                list(threads),
            )
            return bool(rows[0][0] == expected)

        await _until(all_done, timeout=240, what=f"{expected} runs to succeed")
        assert _overlaps(cluster, threads) == {}
        # executed in admission order: each thread's answers by start time == runs by seq
        started: dict[str, list[str]] = {}
        for line in sorted(
            (x for x in cluster.traces() if x[0] == "answer" and x[2] in threads),
            key=lambda x: float(x[4]),
        ):
            started.setdefault(line[2], []).append(line[1])
        rows = await _db_rows(
            cluster,
            "SELECT thread_id, run_id FROM streamtap_runs WHERE thread_id = ANY(%s) ORDER BY seq",
            list(threads),
        )
        admitted: dict[str, list[str]] = {}
        for thread, run_id in rows:
            admitted.setdefault(thread, []).append(run_id)
        assert started == admitted
        statuses = {(await clients[0].get(f"/threads/{t}")).json()["status"] for t in threads}
        assert statuses == {"idle"}
    finally:
        await _close(clients)


async def _claimed_by(cluster: Cluster, run_id: str) -> int:
    """The index of the process whose worker holds the run (from the queue's record)."""

    async def worker() -> str | None:
        rows = await _db_rows(
            cluster,
            "SELECT worker FROM streamtap_runs WHERE run_id = %s AND status = 'running'",
            run_id,
        )
        return rows[0][0] if rows and rows[0][0] else None

    holder = await _until(worker, what="the run to be claimed")
    return cluster.index_of(int(holder.split(":")[1]))


async def _read_until_end(response: httpx.Response, seen: list[Any], on_event: Any = None) -> None:
    async for event in sse_events(response):
        seen.append(event)
        if on_event is not None:
            await on_event(event)
        if event[1] == "end":
            return


def _contents(events: list[Any]) -> list[str]:
    """The model's tokens in ``messages-tuple`` events (not the ``prepared`` message)."""
    texts = [e[2][0]["content"] for e in events if e[1] == "messages"]
    return [t for t in texts if t.startswith("t") and t[1:].isdigit()]


async def _stop_mid_run(
    cluster: Cluster,
    clients: list[httpx.AsyncClient],
    *,
    thread: str | None,
    tokens: int,
    sig: int = signal.SIGKILL,
) -> tuple[dict[str, Any], int, list[Any]]:
    """Start a 60-token run (on ``thread``, or stateless), find the process that claimed
    it, read its stream through another process, and send that process ``sig`` once
    ``tokens`` tokens arrived. Returns the run, the stopped process and every event read."""
    body = _run(60, 0.05, stream_resumable=True, stream_mode=["messages-tuple"])
    path = f"/threads/{thread}/runs" if thread is not None else "/runs"
    run = (await clients[0].post(path, json=body)).json()
    victim = await _claimed_by(cluster, run["run_id"])
    seen: list[Any] = []
    stopped = False

    async def stop_after_tokens(event: Any) -> None:
        nonlocal stopped
        if not stopped and len(_contents(seen)) == tokens:
            stopped = True
            cluster.kill(victim, sig)

    url = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
    async with clients[(victim + 1) % 3].stream("GET", url) as response:
        await asyncio.wait_for(_read_until_end(response, seen, stop_after_tokens), 60)
    assert stopped
    return run, victim, seen


async def test_a_killed_process_s_run_is_retried_from_its_checkpoint(cluster: Cluster) -> None:
    """``kill -9`` of the process running a run: once its lease runs out another process
    takes the run up again from the checkpoint it had written (``prepare`` is not run
    twice), a client joined through a third process sees the second attempt to its end,
    and the thread holds one answer."""
    clients = _clients(cluster)
    victim = -1
    try:
        thread = (await clients[0].post("/threads", json={})).json()["thread_id"]
        run, victim, seen = await _stop_mid_run(cluster, clients, thread=thread, tokens=5)
        metadata = [e[2] for e in seen if e[1] == "metadata"]
        assert metadata == [
            {"run_id": run["run_id"], "attempt": 1},
            {"run_id": run["run_id"], "attempt": 2},
        ]
        assert seen[-1][1] == "end" and seen[-1][2]["status"] == "success"
        # the second attempt streamed the whole answer after the first one's five tokens
        second = seen[next(i for i, e in enumerate(seen) if e[1] == "metadata" and i) :]
        assert _contents(second) == [f"t{i}" for i in range(60)]
        assert _contents(seen)[:5] == [f"t{i}" for i in range(5)]
        prepared = [x for x in cluster.traces() if x[0] == "prepare" and x[1] == run["run_id"]]
        assert len(prepared) == 1  # resumed from the checkpoint after it
        alive = clients[(victim + 2) % 3]
        got = (await alive.get(f"/threads/{thread}/runs/{run['run_id']}")).json()
        assert got["status"] == "success" and "error" not in got
        state = (await alive.get(f"/threads/{thread}/state")).json()
        texts = [m["content"] for m in state["values"]["messages"]]
        assert texts == ["hi", "prepared", "".join(f"t{i}" for i in range(60))]
        assert (await alive.get(f"/threads/{thread}")).json()["status"] == "idle"
    finally:
        await _close(clients)
        if victim >= 0:
            cluster.restart(victim)


async def test_a_killed_process_s_run_without_a_retry_ends_worker_lost(cluster: Cluster) -> None:
    """A stateless run has no checkpoint to resume from: when its process is killed it
    ends ``error`` with ``worker lost``, in its record and as an ``error`` event to the
    client joined elsewhere, never left ``running``."""
    clients = _clients(cluster)
    victim = -1
    try:
        run, victim, seen = await _stop_mid_run(cluster, clients, thread=None, tokens=3)
        reader = clients[(victim + 1) % 3]
        tokens = _contents(seen)  # what the first and only attempt sent before it died
        assert tokens == [f"t{i}" for i in range(len(tokens))] and 3 <= len(tokens) < 10
        assert seen[-2][1] == "error" and seen[-2][2]["error"] == "WorkerLost"
        assert "worker lost" in seen[-2][2]["message"]
        assert seen[-1][1] == "end" and seen[-1][2]["status"] == "error"
        got = (await reader.get(f"/threads/{run['thread_id']}/runs/{run['run_id']}")).json()
        assert (got["status"], got["error"]) == ("error", "worker lost")
    finally:
        await _close(clients)
        if victim >= 0:
            cluster.restart(victim)


async def test_redis_restarting_mid_run_costs_a_pause_not_a_token(
    cluster: Cluster, redis_server: RedisServer
) -> None:
    """Redis killed and started again (empty) while a run streams: the run's process
    retries its writes, the reading process its reads; a client that loses its stream
    resumes through another process from its ``Last-Event-ID``; every token arrives
    once, in order, and the run ends ``success``."""
    clients = _clients(cluster)
    try:
        thread = (await clients[0].post("/threads", json={})).json()["thread_id"]
        body = _run(40, 0.05, stream_resumable=True, stream_mode=["messages-tuple"])
        run = (await clients[0].post(f"/threads/{thread}/runs", json=body)).json()
        url = f"/threads/{thread}/runs/{run['run_id']}/stream"
        seen: list[Any] = []
        restarted = False

        async def restart_redis(event: Any) -> None:
            nonlocal restarted
            if not restarted and len(_contents(seen)) == 5:
                restarted = True
                redis_server.kill()
                await asyncio.sleep(0.5)
                redis_server.start()

        for attempt in range(5):  # as the SDK does: reconnect with the last id it saw
            reader = clients[(1 + attempt) % 3]
            headers = {"Last-Event-ID": seen[-1][0]} if seen else {}
            try:
                async with reader.stream("GET", url, headers=headers) as response:
                    assert response.status_code == 200, await response.aread()
                    await asyncio.wait_for(_read_until_end(response, seen, restart_redis), 60)
            except httpx.HTTPError:
                continue
            if seen and seen[-1][1] == "end":
                break
        print(f"redis restart: the client read the run in {attempt + 1} connection(s)")
        assert restarted
        assert seen[-1][1] == "end" and seen[-1][2]["status"] == "success", seen[-3:]
        assert _contents(seen) == [f"t{i}" for i in range(40)]
        ids = [e[0] for e in seen]
        assert len(set(ids)) == len(ids)
        state = (await clients[2].get(f"/threads/{thread}/state")).json()
        assert state["values"]["messages"][-1]["content"] == "".join(f"t{i}" for i in range(40))
    finally:
        await _close(clients)


def _id_key(event_id: str | None) -> tuple[int, int]:
    assert event_id is not None
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


async def test_500_sse_clients_over_three_processes_get_every_event_once_in_order(
    cluster: Cluster,
) -> None:
    """100 background runs spread over the processes, each read from its start by five
    clients joined through the three processes: 500 streams at once, each with the run's
    every event exactly once, in id order, tokens complete, ending ``success``."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    clients = [httpx.AsyncClient(base_url=u, timeout=120, limits=limits) for u in cluster.urls]
    runs_n, readers, tokens = 100, 5, 20
    body = _run(tokens, 0.05, stream_resumable=True, stream_mode=["messages-tuple"])
    try:
        made = await asyncio.gather(
            *(clients[i % 3].post("/runs", json=body) for i in range(runs_n))
        )
        runs = [m.json() for m in made]
        connected = 0

        async def read(run: dict[str, Any], k: int) -> list[Any]:
            nonlocal connected
            url = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
            seen: list[Any] = []
            async with clients[k % 3].stream("GET", url) as response:
                assert response.status_code == 200
                connected += 1
                await _read_until_end(response, seen)
            return seen

        streams = await asyncio.wait_for(
            asyncio.gather(
                *(read(run, i + k) for i, run in enumerate(runs) for k in range(readers))
            ),
            timeout=300,
        )
        assert connected == runs_n * readers
        for n, seen in enumerate(streams):
            run = runs[n // readers]
            ids = [e[0] for e in seen]
            assert ids == sorted(ids, key=_id_key) and len(set(ids)) == len(ids)
            assert seen[0][1:] == ("metadata", {"run_id": run["run_id"], "attempt": 1})
            assert _contents(seen) == [f"t{i}" for i in range(tokens)]
            assert seen[-1][1:] == ("end", {"run_id": run["run_id"], "status": "success"})
        # the five readers of a run saw the same events, whichever process served them
        for n in range(0, len(streams), readers):
            assert all(s == streams[n] for s in streams[n : n + readers])
    finally:
        await _close(clients)


async def test_a_stopping_process_hands_its_run_to_another(cluster: Cluster) -> None:
    """SIGTERM (a rolling restart) of the process running a run nobody reads there: it
    gives the run back to the queue rather than failing it, another process resumes it from
    its checkpoint at once (no lease to wait out: ``retries`` is raised by the hand-over,
    which costs none), and the client joined elsewhere sees it to its end."""
    clients = _clients(cluster)
    victim = -1
    try:
        thread = (await clients[0].post("/threads", json={})).json()["thread_id"]
        run, victim, seen = await _stop_mid_run(
            cluster, clients, thread=thread, tokens=5, sig=signal.SIGTERM
        )
        assert [e[2]["attempt"] for e in seen if e[1] == "metadata"] == [1, 2]
        assert seen[-1][1:] == ("end", {"run_id": run["run_id"], "status": "success"})
        second = seen[next(i for i, e in enumerate(seen) if e[1] == "metadata" and i) :]
        assert _contents(second) == [f"t{i}" for i in range(60)]
        prepared = [x for x in cluster.traces() if x[0] == "prepare" and x[1] == run["run_id"]]
        assert len(prepared) == 1
        rows = await _db_rows(
            cluster,
            "SELECT status, attempts, retries FROM streamtap_runs WHERE run_id = %s",
            run["run_id"],
        )
        assert rows == [("success", 2, 2)]  # handed over, not expired: a retry is left
    finally:
        await _close(clients)
        if victim >= 0:
            cluster.restart(victim)
