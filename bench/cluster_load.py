"""Load benchmark of streamtap's production layout: Postgres + Redis, one and three processes.

Issue 21: events/s and server CPU per event for one process against three, and the time to
first token that the Postgres/Redis layout adds over the in-memory one. Three layouts
serve the graph and model of :mod:`bench.server_load`'s streamtap target (``START ->
agent -> END``, the model streaming ``--chunks`` chunks), each process on 127.0.0.1
under uvicorn, answering ``POST /runs/stream`` (stateless, ``messages-tuple``):

* ``memory``: ``create_app`` on its in-memory backend, server_load's streamtap server;
* ``pg-1``: one process with ``create_app(database_url=, redis_url=, jobs=)``: each run
  admitted to the Postgres queue, claimed and executed by a worker, its events written
  to a Redis stream and read back from it for the client;
* ``pg-3``: three such processes on one Postgres and one Redis; client i talks to
  process i mod 3 (a load balancer spreading connections), and a run is executed by
  whichever process claims it first.

Each ``pg-`` layout has a Postgres of its own (``tests._postgres.temporary_postgres``:
initdb on a free loopback port, fsync off) and a redis-server of its own
(``--save "" --appendonly no``), so their CPU is that layout's alone; without the
PostgreSQL server binaries, psycopg or redis-server the benchmark says so and stops
(exit 0, nothing written).

Cells as in server_load: for each number of concurrent clients C each client starts
runs back to back so that a cell streams about ``--events-per-cell`` events; all
layouts stay up, and within each of ``--rounds`` rounds they take turns in a rotating
order; medians over rounds. Every token of every run is checked (the ids in order:
1, 2, ... in memory, increasing Redis stream ids on Postgres); a failure makes the exit
status 1. Per cell: events/s; server CPU per event (user+system time of the layout's
server processes, summed); Postgres's and Redis's CPU per event (their process trees,
read from /proc, reported apart); time to first token (POST sent to the first
``messages`` event) p50/p99; Redis commands per run (``INFO commandstats``); each
process's share of the server CPU; peak RSS summed over the processes. Ratios: pg-1 ÷
memory CPU per event (servers alone, and with Postgres and Redis), pg-3 ÷ pg-1 events/s,
TTFT added (pg p50 − memory p50, ms).

Then a trace per ``pg-`` layout: ``--trace-runs`` runs one at a time with Postgres
logging every statement (``log_statement = all``, reloaded on the fly, reset after):
the statements and Redis commands one run costs, and which came before its first token.

    python -m bench.cluster_load --write     # the full benchmark: bench/cluster_load.json
    python -m bench.server_load --cluster --concurrency 1,20 --rounds 1   # the same entry

Loopback only; every loop is bounded in count and time. ``table(results)`` (stdlib only)
renders a results file; the docs are generated from it (``<!-- bench: cluster -->``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import server_load
from bench.server_load import (
    _UVICORN,
    MB,
    MODELS,
    LoadResult,
    ServerProcess,
    _children,
    _cpu_ticks,
    _fmt,
    _ints,
    _progress,
    _ratio,
    _settle,
    _versions,
    agent_graph,
    medians_of,
    report,
    rotation,
    rounds_line,
    run_load,
    scripted_model,
)

__all__ = ["LAYOUTS", "Settings", "Unavailable", "measure", "table"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "cluster_load.json"
LAYOUTS = ("memory", "pg-1", "pg-3")
PROCESSES = {"memory": 1, "pg-1": 1, "pg-3": 3}
# how server_load checks each layout's events (FRAMING): the ids differ
FRAMES = {"memory": "streamtap", "pg-1": "streamtap-redis", "pg-3": "streamtap-redis"}
MEDIAN_KEYS = (
    "events_per_second",
    "server_cpu_us_per_event",
    "postgres_cpu_us_per_event",
    "redis_cpu_us_per_event",
    "all_cpu_us_per_event",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "redis_commands_per_run",
    "peak_rss_mb",
)
BACKING_VERSIONS = ("psycopg", "psycopg-pool", "redis", "langgraph-checkpoint-postgres")
TRACE_SETTINGS = {"log_statement": "all", "log_line_prefix": "%n [%p] "}
_LOGGED = re.compile(r"^(\d+\.\d+) \[(\d+)\] LOG:  (?:statement|execute [^:]*): ?(.*)$")


class Unavailable(Exception):
    """Postgres or Redis cannot be had here: the benchmark is skipped, with the reason."""


# ---------------------------------------------------------------- the processes


def _serve(args: argparse.Namespace) -> None:
    """One process of a ``pg-`` layout: server_load's graph and model on Postgres + Redis,
    started as server_load starts its streamtap server (``freeze_startup_heap``, uvicorn)."""
    import uvicorn

    from streamtap.cli.serve import freeze_startup_heap
    from streamtap.server import create_app

    graph = agent_graph(scripted_model(args.chunks, args.delay, args.model))
    app = create_app(
        {"agent": graph},
        disconnect_grace=1.0,
        database_url=args.database_url,
        redis_url=args.redis_url,
        jobs=args.jobs,
    )
    freeze_startup_heap()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **_UVICORN)  # type: ignore[arg-type]


def _tree(pid: int) -> list[int]:
    return [pid, *(p for child in _children(pid) for p in _tree(child))]


def _reaped_ticks(pid: int) -> int:
    """CPU of the children ``pid`` has waited for (cutime + cstime): Postgres's backends
    and autovacuum workers that exited, whose time would otherwise leave the tree."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[13]) + int(fields[14])
    except (OSError, ValueError, IndexError):
        return 0


def _tree_cpu(root: int | None) -> float | None:
    """User+system CPU seconds of a process tree that this benchmark did not spawn."""
    if root is None or not os.path.exists(f"/proc/{root}/stat"):
        return None
    ticks = sum(_cpu_ticks(pid) for pid in _tree(root)) + _reaped_ticks(root)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Backing:
    """One ``pg-`` layout's Postgres and Redis: where they answer, their process trees."""

    database_url: str
    redis_url: str
    postmaster: int | None
    redis_pid: int
    log: Path | None

    def cpu(self) -> tuple[float | None, float | None]:
        return _tree_cpu(self.postmaster), _tree_cpu(self.redis_pid)

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    def commands(self) -> Counter[str]:
        """Calls per Redis command since the last ``CONFIG RESETSTAT`` (this benchmark's
        own INFO and CONFIG left out)."""
        with self.redis() as client:
            stats = client.info("commandstats")
        calls = Counter(
            {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
        )
        return Counter({k: v for k, v in calls.items() if not k.startswith(("info", "config"))})

    def reset_commands(self) -> None:
        with self.redis() as client:
            client.config_resetstat()


def _postmaster(database_url: str) -> tuple[int | None, Path | None]:
    """The postmaster's pid (a local one: the parent of this connection's backend) and
    the server's log file as ``tests._postgres`` lays it out (next to the data directory)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        data = conn.execute("SHOW data_directory").fetchone()
        try:
            with open(f"/proc/{backend[0] if backend else 0}/stat", encoding="ascii") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{parent}/cmdline", "rb") as f:
                local = b"postgres" in f.read()
        except (OSError, ValueError, IndexError):
            parent, local = 0, False
    log = Path(str(data[0])).parent / "postgres.log" if data else None
    if not local:
        return None, None
    return parent, log if log is not None and log.is_file() else None


@contextlib.contextmanager
def backing(name: str) -> Iterator[Backing]:
    """A Postgres and a redis-server of their own, for one layout; :class:`Unavailable`
    when either cannot be had."""
    from tests._postgres import PostgresUnavailable, temporary_postgres

    with contextlib.ExitStack() as stack:
        try:
            database_url = stack.enter_context(temporary_postgres(name.replace("-", "_")))
            postmaster, log = _postmaster(database_url)
        except PostgresUnavailable as exc:
            raise Unavailable(f"Postgres: {exc.reason}") from None
        except ImportError as exc:
            raise Unavailable(f"psycopg is not installed (streamtap[postgres]): {exc}") from None
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="streamtap-redis-"))
        proc, redis_url = _start_redis(Path(workdir))
        stack.callback(proc.wait, timeout=10)
        stack.callback(proc.terminate)
        yield Backing(database_url, redis_url, postmaster, proc.pid, log)


def _start_redis(workdir: Path) -> tuple[Any, str]:
    """tests/server/conftest.py's ``start_redis`` (free loopback port, nothing persisted),
    its pytest skip and failure turned into :class:`Unavailable`."""
    import pytest

    from tests.server.conftest import REDIS, start_redis

    if REDIS is None:
        raise Unavailable("redis-server is not installed (Debian package: redis-server)")
    try:
        return start_redis(workdir)
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise Unavailable(f"redis-server: {exc}") from None


@dataclass
class Layout:
    name: str
    servers: list[ServerProcess]
    backing: Backing | None = None

    @property
    def frame(self) -> str:
        return FRAMES[self.name]


def _pg_server(settings: Settings, back: Backing) -> ServerProcess:
    """A ServerProcess (its /proc readings and lifetime) running :func:`_serve`."""
    server = ServerProcess(settings.chunks, settings.delay, "streamtap", model=settings.model)
    server.args = [
        sys.executable, "-m", "bench.cluster_load", "--serve", "--port", str(server.port),
        "--chunks", str(settings.chunks), "--delay", str(settings.delay),
        "--model", settings.model, "--jobs", str(settings.jobs),
        "--database-url", back.database_url, "--redis-url", back.redis_url,
    ]  # fmt: skip
    return server


def _wait_ready(server: ServerProcess, timeout: float = 120.0) -> None:
    """Its port open, then ``GET /ready`` 200 (Postgres and Redis answer)."""
    import httpx

    server.wait_ready(timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/ready", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.url}/ready did not answer 200 in {timeout:.0f} s")
        time.sleep(0.1)


# ---------------------------------------------------------------- one cell


def _spread(clients: int, processes: int) -> list[int]:
    """Clients per process when client i goes to process i mod ``processes``."""
    return [clients // processes + (i < clients % processes) for i in range(processes)]


def _merge(parts: list[LoadResult], clients: int, chunks: int) -> LoadResult:
    """The processes' loads, run at the same time, as one cell."""
    out = LoadResult(clients=clients, chunks=chunks)
    for part in parts:
        out.runs += part.runs
        out.events += part.events
        out.latencies += part.latencies
        out.ttfts += part.ttfts
        out.failures += part.failures
    out.seconds = max((part.seconds for part in parts), default=0.0)
    out.client_cpu = max((part.client_cpu for part in parts), default=0.0)
    return out


def _machine_busy() -> float | None:
    """CPU seconds all the machine's cores have been busy (``/proc/stat``: not idle or
    waiting for I/O)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _per_event(seconds: float | None, events: int) -> float | None:
    return None if seconds is None or not events else round(seconds / events * 1e6, 1)


async def _cell(layout: Layout, clients: int, settings: Settings) -> dict[str, Any]:
    """One cell: ``clients`` clients spread over the layout's processes, its servers',
    Postgres's and Redis's CPU around it."""
    pids = [server.pids() for server in layout.servers]
    for server, tree in zip(layout.servers, pids, strict=True):
        server.reset_peak(tree)
    back = layout.backing
    if back is not None:
        back.reset_commands()
    machine_before, own_before = _machine_busy(), time.process_time()
    before = [server.cpu_seconds(tree) for server, tree in zip(layout.servers, pids, strict=True)]
    backing_before = back.cpu() if back is not None else (None, None)
    runs = settings.runs_per_client(clients)
    parts = await asyncio.gather(
        *(
            run_load(
                server.url, n, settings.chunks, settings.timeout, runs=runs, target=layout.frame
            )
            for server, n in zip(layout.servers, _spread(clients, len(layout.servers)), strict=True)
            if n
        )
    )
    after = [await _settle(server, tree) for server, tree in zip(layout.servers, pids, strict=True)]
    backing_after = back.cpu() if back is not None else (None, None)
    machine_after, own_after = _machine_busy(), time.process_time()
    result = _merge(list(parts), clients, settings.chunks)
    spent = [None if a is None or b is None else a - b for a, b in zip(after, before, strict=True)]
    if all(s is not None for s in spent):
        result.server_cpu = sum(s for s in spent if s is not None)
    result.peak_rss_kb = sum(s.hwm_kb(t) for s, t in zip(layout.servers, pids, strict=True))
    result.rss_after_kb = sum(s.rss_kb(t) for s, t in zip(layout.servers, pids, strict=True))
    row: dict[str, Any] = {"layout": layout.name, **result.report()}
    row["processes"] = len(layout.servers)
    pg, rd = (
        None if a is None or b is None else a - b
        for a, b in zip(backing_after, backing_before, strict=True)
    )
    row["postgres_cpu_us_per_event"] = _per_event(pg, result.events)
    row["redis_cpu_us_per_event"] = _per_event(rd, result.events)
    row["all_cpu_us_per_event"] = (
        None
        if result.server_cpu is None
        else _per_event(result.server_cpu + (pg or 0.0) + (rd or 0.0), result.events)
    )
    total = sum(s for s in spent if s is not None)
    row["server_cpu_share"] = [
        None if s is None or not total else round(s / total, 3) for s in spent
    ]
    row["redis_commands_per_run"] = None
    if back is not None and result.runs:
        calls = back.commands()
        row["redis_commands_per_run"] = round(sum(calls.values()) / result.runs, 1)
        row["redis_calls_per_run"] = {
            name: round(n / result.runs, 2) for name, n in calls.most_common()
        }
    # everything else the machine ran meanwhile (other layouts' idle processes, anything
    # not of this benchmark), in % of one core: the cell's neighbours on a shared machine
    ours = total + (pg or 0.0) + (rd or 0.0) + own_after - own_before
    busy = (
        None if machine_before is None or machine_after is None else machine_after - machine_before
    )
    row["others_cpu_percent"] = (
        None
        if busy is None or not result.seconds
        else round(max(0.0, busy - ours) / result.seconds * 100, 1)
    )
    row["failure_messages"] = result.failures[:20]
    return row


# ---------------------------------------------------------------- the trace


def _set_logging(database_url: str, on: bool) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        for name, value in TRACE_SETTINGS.items():
            if on:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            else:
                conn.execute(f"ALTER SYSTEM RESET {name}")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # the pool's backends take the new setting at their next command


POOL_CHECK = "(empty query: the pool's connection check)"


def _kind(text: str) -> str:
    """A statement's kind: its verb and the table it is about (``UPDATE streamtap_runs``)."""
    if not text:
        return POOL_CHECK
    verb = text.split()[0].upper()
    if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return verb
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+([\w.\"]+)", text, re.IGNORECASE)
    if table is not None:
        return f"{verb} {table.group(1)}"
    call = re.match(r"SELECT\s+([\w.]+)\s*\(", text, re.IGNORECASE)
    return f"SELECT {call.group(1)}()" if call else text[:60]


def _label(text: str) -> str:
    """A statement as one line of the trace: its start (a SELECT's from its FROM on)."""
    if not text:
        return POOL_CHECK
    found = re.search(r"\bFROM\b.*", text, re.IGNORECASE)
    if text.upper().startswith("SELECT ") and found is not None:
        text = f"SELECT … {found.group(0)}"
    return text if len(text) <= 90 else text[:89] + "…"


def _read_log(log: Path, offset: int) -> list[tuple[float, str]]:
    """(time, statement with its white space folded) of each statement logged after
    ``offset``."""
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    out = []
    for line in text.splitlines():
        m = _LOGGED.match(line)
        if m is not None:
            out.append((float(m.group(1)), " ".join(m.group(3).split())))
    return out


def trace(layout: Layout, settings: Settings) -> dict[str, Any]:
    """``trace_runs`` one-client runs, one at a time (round-robin over the processes),
    Postgres logging every statement: what a run costs in round trips.

    A run's statements are those logged between its request and its end. The log's times
    are whole milliseconds; the first token is placed at the run's first statement (the
    request's assistant lookup, as it arrives) plus the TTFT the client measured."""
    back = layout.backing
    assert back is not None
    out: dict[str, Any] = {"runs": settings.trace_runs}
    if back.log is None:
        out["skipped"] = "the Postgres server's log is not at hand (not a local temporary one)"
        return out
    _set_logging(back.database_url, True)
    try:
        offset = back.log.stat().st_size
        back.reset_commands()
        windows: list[tuple[float, float, float]] = []
        failures: list[str] = []
        for n in range(settings.trace_runs):
            server = layout.servers[n % len(layout.servers)]
            began = time.time()
            result = asyncio.run(
                run_load(server.url, 1, settings.chunks, settings.timeout, target=layout.frame)
            )
            ended = time.time()
            failures += result.failures
            windows.append((began, result.ttfts[0] if result.ttfts else ended - began, ended))
            time.sleep(0.05)  # apart: each statement belongs to one run's window
        time.sleep(0.2)
        calls = back.commands()
        logged = _read_log(back.log, offset)
    finally:
        _set_logging(back.database_url, False)
    runs = [
        [(t, sql) for t, sql in logged if began - 0.001 <= t <= ended + 0.001]
        for began, _, ended in windows
    ]
    before_first = [
        sum(1 for t, _ in run if t <= run[0][0] + ttft + 0.001) if run else 0
        for run, (_, ttft, _) in zip(runs, windows, strict=True)
    ]
    inside = sum(len(run) for run in runs)
    kinds = Counter(_kind(sql) for run in runs for _, sql in run)
    middle = sorted(range(len(runs)), key=lambda i: len(runs[i]))[len(runs) // 2]
    one = runs[middle]
    n = max(1, settings.trace_runs)
    out.update(
        {
            "failures": failures[:20],
            "postgres_statements_per_run": round(inside / n, 2),
            "postgres_statements_outside_runs": len(logged) - inside,
            "postgres_before_first_token_per_run": round(statistics.median(before_first), 1),
            "postgres_pool_checks_per_run": round(kinds[POOL_CHECK] / n, 2),
            "postgres_statements": {k: round(v / n, 2) for k, v in kinds.most_common()},
            "redis_commands_per_run": round(sum(calls.values()) / n, 1),
            "redis_commands": {k: round(v / n, 2) for k, v in calls.most_common()},
            "ttft_ms_p50": round(statistics.median(w[1] for w in windows) * 1000, 2),
            "one_run": {
                "ttft_ms": round(windows[middle][1] * 1000, 2),
                "statements": [[round((t - one[0][0]) * 1000), _label(sql)] for t, sql in one],
            },
        }
    )
    return out


# ---------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Settings:
    layouts: tuple[str, ...] = LAYOUTS
    concurrency: tuple[int, ...] = (1, 20, 100)
    chunks: int = 200
    # CPU is read in 10 ms ticks: 30,000 events are ~0.7 s of a memory cell's server CPU,
    # and a pg cell (a tenth of memory's events/s) lasts 5-10 s: five rounds take ~6 min
    events_per_cell: int = 30_000
    rounds: int = 5  # the shared 2-core VM moves a cell by much more than 10 %: medians
    delay: float = 0.0
    model: str = "fake"
    jobs: int = 10  # runs a pg process executes at once: `streamtap serve --jobs` default
    timeout: float = 300.0
    trace_runs: int = 20

    def runs_per_client(self, clients: int) -> int:
        load = server_load.Settings(chunks=self.chunks, events_per_cell=self.events_per_cell)
        return load.runs_per_client(clients)


def summarize(results: dict[str, Any]) -> None:
    """Medians over rounds per (layout, C) and the ratios, in place."""
    config = results["config"]
    cells = [cell for rnd in results["rounds"] for cell in rnd["cells"]]
    medians = medians_of(cells, "layout", config["layouts"], config["concurrency"], MEDIAN_KEYS)
    for layout in config["layouts"]:
        for clients in config["concurrency"]:
            rows = [c for c in cells if c["layout"] == layout and c["clients"] == clients]
            shares = [r["server_cpu_share"] for r in rows if None not in r["server_cpu_share"]]
            medians[layout][str(clients)]["server_cpu_share"] = (
                [round(statistics.median(s), 3) for s in zip(*shares, strict=True)]
                if shares
                else None
            )
    ratios: dict[str, dict[str, Any]] = {}
    for clients in map(str, config["concurrency"]):

        def m(layout: str, key: str, c: str = clients) -> Any:
            return medians.get(layout, {}).get(c, {}).get(key)

        def added(layout: str, key: str) -> float | None:
            a, b = m(layout, key), m("memory", key)
            return None if a is None or b is None else round(a - b, 2)

        ratios[clients] = {
            "pg1_over_memory_server_cpu": _ratio(
                m("pg-1", "server_cpu_us_per_event"), m("memory", "server_cpu_us_per_event")
            ),
            "pg1_over_memory_all_cpu": _ratio(
                m("pg-1", "all_cpu_us_per_event"), m("memory", "all_cpu_us_per_event")
            ),
            "pg3_over_pg1_events_per_second": _ratio(
                m("pg-3", "events_per_second"), m("pg-1", "events_per_second")
            ),
            "pg3_over_pg1_server_cpu": _ratio(
                m("pg-3", "server_cpu_us_per_event"), m("pg-1", "server_cpu_us_per_event")
            ),
            "pg1_over_memory_events_per_second": _ratio(
                m("pg-1", "events_per_second"), m("memory", "events_per_second")
            ),
            "ttft_added_ms_p50_pg1": added("pg-1", "ttft_ms_p50"),
            "ttft_added_ms_p50_pg3": added("pg-3", "ttft_ms_p50"),
            "ttft_added_ms_p99_pg1": added("pg-1", "ttft_ms_p99"),
        }
    others = sorted(
        c["others_cpu_percent"] for c in cells if c.get("others_cpu_percent") is not None
    )
    results["others_cpu_percent"] = (
        {"min": others[0], "median": statistics.median(others), "max": others[-1]}
        if others
        else None
    )
    results["medians"], results["ratios"] = medians, ratios


def measure(settings: Settings, progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """The whole benchmark: the layouts' processes (and the pg layouts' Postgres and
    Redis) up for all of it, a warm-up run per process, ``rounds`` rounds of every
    (C, layout) cell in rotating order, then the traces. :class:`Unavailable` when
    Postgres or Redis cannot be had."""
    from bench.machine import load_average, machine, versions

    began = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": {**_versions(), **versions(BACKING_VERSIONS)},
        "config": {
            **asdict(settings),
            "runs_per_client": {str(c): settings.runs_per_client(c) for c in settings.concurrency},
            "events_per_run": settings.chunks + 3,
            "processes": {name: PROCESSES[name] for name in settings.layouts},
            "uvicorn": dict(_UVICORN),
            "spread": "client i -> process i mod N (connections spread round-robin)",
        },
        "notes": [],
        "warmup": {},
        "rounds": [],
        "traces": {},
        "failures": [],
    }
    size = f"~{settings.events_per_cell:,} events"
    total = len(settings.layouts) * len(settings.concurrency) * settings.rounds
    progress(rounds_line("cluster_load", settings.layouts, settings, size))
    with contextlib.ExitStack() as stack:
        layouts: dict[str, Layout] = {}
        for name in settings.layouts:
            if name == "memory":
                server = ServerProcess(
                    settings.chunks, settings.delay, "streamtap", model=settings.model
                )
                layouts[name] = Layout(name, [server])
                continue
            back = stack.enter_context(backing(name))
            servers = [_pg_server(settings, back) for _ in range(PROCESSES[name])]
            layouts[name] = Layout(name, servers, back)
            progress(
                f"  {name}: Postgres (pid {back.postmaster}), redis-server (pid {back.redis_pid})"
            )
        for layout in layouts.values():
            for server in layout.servers:
                stack.callback(server.__exit__)
                server.start()
        for layout in layouts.values():
            for server in layout.servers:
                _wait_ready(server)
                warm = asyncio.run(
                    run_load(server.url, 1, settings.chunks, settings.timeout, target=layout.frame)
                )
                results["failures"] += [f"{layout.name} warm-up: {f}" for f in warm.failures]
            results["warmup"][layout.name] = {
                "rss_mb": round(sum(s.rss_kb() for s in layout.servers) * 1024 / MB, 1)
            }
            pids = ", ".join(str(s.pid) for s in layout.servers)
            progress(f"  {layout.name} up (pid {pids}), warm-up runs done")
        done = 0
        for rnd in range(settings.rounds):
            record: dict[str, Any] = {"round": rnd + 1, "order": {}, "cells": []}
            for clients, order in rotation(rnd, settings.concurrency, settings.layouts):
                record["order"][str(clients)] = order
                for name in order:
                    row = asyncio.run(_cell(layouts[name], clients, settings))
                    record["cells"].append(row)
                    label = f"round {rnd + 1} C={clients} {name}"
                    results["failures"] += [f"{label}: {f}" for f in row["failure_messages"]]
                    done += 1
                    progress(
                        f"  [{done}/{total}] {label}: {row['events']:,} events in "
                        f"{row['seconds']:.1f} s, {row['events_per_second']:,} events/s, "
                        f"{row['server_cpu_us_per_event']} µs server CPU/event (Postgres "
                        f"{row['postgres_cpu_us_per_event']}, Redis "
                        f"{row['redis_cpu_us_per_event']}), TTFT p50 {row['ttft_ms_p50']} ms"
                        + (f", {row['failures']} FAILED" if row["failures"] else "")
                    )
            results["rounds"].append(record)
        for layout in layouts.values():
            if layout.backing is None or not settings.trace_runs:
                continue
            found = trace(layout, settings)
            results["traces"][layout.name] = found
            results["failures"] += [f"{layout.name} trace: {f}" for f in found.get("failures", [])]
            progress(
                f"  {layout.name} trace: {found.get('postgres_statements_per_run')} Postgres "
                f"statements and {found.get('redis_commands_per_run')} Redis commands per run"
            )
        results["final_rss_mb"] = {
            name: round(sum(s.rss_kb() for s in layout.servers) * 1024 / MB, 1)
            for name, layout in layouts.items()
        }
    results["machine"]["load_average_end"] = load_average()
    results["seconds"] = round(time.perf_counter() - began, 1)
    if "pg-1" in settings.layouts:
        results["notes"].append(
            f"a pg process executes at most {settings.jobs} runs at once (`--jobs`, the "
            "default of `streamtap serve`): at C above that the other runs wait in the "
            "Postgres queue, and their TTFT includes the wait"
        )
    summarize(results)
    return results


# ---------------------------------------------------------------- report (stdlib only)


def table(results: dict[str, Any]) -> str:
    """The medians and the ratios as Markdown tables, then what one run costs in round
    trips (what the docs show)."""
    config, medians = results["config"], results["medians"]
    rows = [
        "| clients | layout | processes | events/s | server CPU µs/event | Postgres µs/event "
        "| Redis µs/event | all µs/event | TTFT p50 (ms) | TTFT p99 (ms) | Redis commands/run "
        "| peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in config["concurrency"]:
        for layout in config["layouts"]:
            m = medians[layout][str(clients)]
            rows.append(
                f"| {clients} | {layout} | {config['processes'][layout]} | "
                f"{_fmt(m['events_per_second'])} | {_fmt(m['server_cpu_us_per_event'], ',.1f')} | "
                f"{_fmt(m['postgres_cpu_us_per_event'], ',.1f')} | "
                f"{_fmt(m['redis_cpu_us_per_event'], ',.1f')} | "
                f"{_fmt(m['all_cpu_us_per_event'], ',.1f')} | {_fmt(m['ttft_ms_p50'], ',.1f')} | "
                f"{_fmt(m['ttft_ms_p99'], ',.1f')} | {_fmt(m['redis_commands_per_run'], ',.1f')} | "
                f"{_fmt(m['peak_rss_mb'], ',.1f')} |"
            )
    rows += [
        "",
        "| clients | pg-1 ÷ memory server CPU/event | pg-1 ÷ memory all CPU/event "
        "| pg-1 ÷ memory events/s | pg-3 ÷ pg-1 events/s | TTFT added p50, pg-1 (ms) "
        "| TTFT added p50, pg-3 (ms) | TTFT added p99, pg-1 (ms) | pg-3 server CPU by process |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for clients in map(str, config["concurrency"]):
        r = results["ratios"][clients]
        shares = medians.get("pg-3", {}).get(clients, {}).get("server_cpu_share")
        split = " / ".join(f"{share * 100:.0f} %" for share in shares) if shares else "—"
        rows.append(
            f"| {clients} | {_fmt(r['pg1_over_memory_server_cpu'], '.2f')} | "
            f"{_fmt(r['pg1_over_memory_all_cpu'], '.2f')} | "
            f"{_fmt(r['pg1_over_memory_events_per_second'], '.2f')} | "
            f"{_fmt(r['pg3_over_pg1_events_per_second'], '.2f')} | "
            f"{_fmt(r['ttft_added_ms_p50_pg1'], '+,.1f')} | "
            f"{_fmt(r['ttft_added_ms_p50_pg3'], '+,.1f')} | "
            f"{_fmt(r['ttft_added_ms_p99_pg1'], '+,.1f')} | {split} |"
        )
    for name, found in results.get("traces", {}).items():
        if "skipped" in found:
            rows += ["", f"*{name}: no trace ({found['skipped']}).*"]
            continue
        statements = ", ".join(
            f"{k} × {_fmt(v, '.3g')}" for k, v in found["postgres_statements"].items()
        )
        commands = ", ".join(
            f"{k.upper()} × {_fmt(v, '.3g')}" for k, v in list(found["redis_commands"].items())[:6]
        )
        rows += [
            "",
            f"One run on {name} ({found['runs']} runs one at a time, TTFT p50 while traced "
            f"{_fmt(found['ttft_ms_p50'], ',.1f')} ms): "
            f"{_fmt(found['postgres_statements_per_run'], '.3g')} Postgres statements "
            f"(about {_fmt(found['postgres_before_first_token_per_run'], '.3g')} before the "
            f"first token; {_fmt(found['postgres_pool_checks_per_run'], '.3g')} of them the "
            f"connection pool's empty-query checks): {statements}; "
            f"{_fmt(found['redis_commands_per_run'], ',.1f')} Redis commands: {commands}.",
        ]
    for note in results.get("notes", []):
        rows += ["", f"*{note}.*"]
    others = results.get("others_cpu_percent")
    if others:
        rows += [
            "",
            f"*Other processes on the machine used {others['min']:.0f}–{others['max']:.0f} % "
            f"of a core during the cells (median {others['median']:.0f} %).*",
        ]
    return "\n".join(rows)


# ---------------------------------------------------------------- command line


# what each option may be (the rest as server_load takes them)
BOUNDS = {
    "chunks": (1, 10_000),
    "events_per_cell": (1, 1_000_000),
    "rounds": (1, 20),
    "jobs": (1, 1000),
    "trace_runs": (0, 1000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument("--layouts", help=f"comma-separated, of {','.join(LAYOUTS)} (all)")
    parser.add_argument("--concurrency", type=_ints, default=defaults.concurrency)
    helps = {
        "jobs": "runs a pg process executes at once (`streamtap serve --jobs`)",
        "trace_runs": "runs traced per pg layout (Postgres statements, Redis commands); 0: none",
        "timeout": "per cell (s)",
        "delay": "model pause per chunk (s)",
    }
    for name in ("chunks", "events_per_cell", "rounds", "jobs", "trace_runs", "timeout", "delay"):
        value = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value, help=helps.get(name))
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args)
        return 0
    names = [x.strip() for x in (args.layouts or ",".join(LAYOUTS)).split(",") if x.strip()]
    if not names or len(set(names)) != len(names) or set(names) - set(LAYOUTS):
        parser.error(f"--layouts: a comma-separated list of {', '.join(LAYOUTS)}")
    if not args.concurrency or not all(1 <= c <= 1000 for c in args.concurrency):
        parser.error("--concurrency: numbers of clients, each 1..1000")
    for name, (low, high) in BOUNDS.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be {low}..{high}")
    settings = Settings(
        layouts=tuple(name for name in LAYOUTS if name in names),
        concurrency=tuple(args.concurrency),
        model=args.model,
        **{name: getattr(args, name) for name in (*BOUNDS, "timeout", "delay")},
    )
    if args.write and settings != defaults:
        parser.error(
            f"--write records the full default benchmark in {RESULTS.relative_to(ROOT)}; "
            "use --json PATH for other runs"
        )
    try:
        results = measure(settings)
    except Unavailable as exc:
        _progress(f"cluster_load: skipped: {exc}")
        return 0
    return report(results, [RESULTS if args.write else None, args.json], table)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
