"""Load benchmark of the Agent Streaming Protocol (thread streams) against the classic run stream.

Issue 22: what a protocol event costs the server. Three cells stream the same scripted
answer (``--chunks`` chunks from the model of :mod:`bench.server_load`, the same graph
``START -> agent -> END``), each server in its own child process on 127.0.0.1 under
uvicorn, started as server_load starts them:

* ``classic``: streamtap serving the classic run stream, server_load's streamtap target:
  ``POST /runs/stream`` (stateless, ``stream_mode`` ``messages-tuple``); an event is one
  SSE event (``metadata``, ``chunks + 1`` ``messages``, ``end``);
* ``protocol``: streamtap serving the protocol, in a process of its own: per run a new
  thread, ``POST /threads/{tid}/stream/events`` opened first with the channels the SDK's
  and ``useStream``'s thread streams read (``messages``, ``lifecycle``, ``values``,
  ``input``; ``since`` 0), then ``run.start`` sent through ``POST
  /threads/{tid}/commands``; the run is read until its root ``lifecycle`` says
  ``completed`` and the stream is closed. An event is one SSE frame, one envelope;
* ``langgraph-dev``: LangGraph's own server (``langgraph dev``, ``langgraph-cli[inmem]``,
  the ``bench`` extra; its defaults kept) serving the same protocol requests on the same
  graph built with ``langgraph.graph``; left out (and said so) when it is not installed.

A protocol run of an ``n``-chunk answer is ``n + 8`` frames: root ``lifecycle running``,
``values`` (the input), ``message-start``, ``content-block-start``, ``n``
``content-block-delta``, ``content-block-finish``, ``message-finish``, ``values`` (the
answer), root ``lifecycle completed``; a classic run is ``n + 3`` events. Every frame of
every run is checked: that exact sequence, the deltas' texts ``c0 ``..``c{n-1} ``, the
SSE ``id`` equal to the envelope's ``seq``, seqs increasing, event ids unique. The last
``seq`` of a run (a fresh thread's log starts at 1) is how many events the server logged
for it, on every channel, read or not.

Cells as in server_load: for each number of concurrent clients C each client starts
runs back to back so that a cell streams about ``--events-per-cell`` events (``langgraph
dev``: ``--langgraph-events-per-cell``; it runs one run at a time by default and its
queue polls every 0.5 s when idle); the servers stay up for the whole benchmark, and
within each of ``--rounds`` rounds the cells take turns in a rotating order; medians over
rounds. Per cell: server CPU per event and per run (user+system time of the server's
process tree), events/s, time to first token (classic: POST sent to the first
``messages`` event; protocol: ``run.start`` sent to the first ``content-block-delta``),
p50/p99, the ``run.start`` round trip, peak RSS. Ratios: protocol ÷ classic on
streamtap, streamtap ÷ ``langgraph dev`` on the protocol. The servers' own logs
(stdout and stderr) go to files; their line counts are reported.

    python -m bench.protocol_load --write       # the full benchmark: bench/protocol_load.json
    python -m bench.server_load --protocol --concurrency 1 --rounds 1   # the same entry

Loopback only; every loop is bounded in count and time. ``table(results)`` (stdlib only)
renders a results file; the docs are generated from it (``<!-- bench: protocol -->``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.server_load import (
    _UVICORN,
    INSTALL_HINT,
    MB,
    MODELS,
    LoadResult,
    RssSampler,
    ServerProcess,
    SSEReader,
    _fmt,
    _ints,
    _progress,
    _ratio,
    _settle,
    _versions,
    langgraph_dev_available,
    langgraph_dev_config,
    medians_of,
    report,
    rotation,
    rounds_line,
    run_load,
    unmeasured_notes,
)

__all__ = [
    "CELLS",
    "CHANNELS",
    "ProtocolResult",
    "Settings",
    "expected_kinds",
    "measure",
    "run_protocol_load",
    "summarize",
    "table",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "protocol_load.json"
CELLS = ("classic", "protocol", "langgraph-dev")
# what serves each cell (server_load's targets) and how its runs are read
SERVER = {"classic": "streamtap", "protocol": "streamtap", "langgraph-dev": "langgraph-dev"}
PROTOCOL = {"classic": False, "protocol": True, "langgraph-dev": True}
LABELS = {
    "classic": "streamtap | `/runs/stream`",
    "protocol": "streamtap | protocol",
    "langgraph-dev": "`langgraph dev` | protocol",
}
# the channels `client.threads.stream(...)` and `useStream` read a run's answer from
CHANNELS = ("messages", "lifecycle", "values", "input")
TERMINAL = ("completed", "failed", "interrupted")
MEDIAN_KEYS = (
    "server_cpu_us_per_event",
    "server_cpu_ms_per_run",
    "events_per_second",
    "events_per_run",
    "logged_per_run",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "command_ms_p50",
    "peak_rss_mb",
)
RATIO_KEYS = (
    "server_cpu_us_per_event",
    "server_cpu_ms_per_run",
    "events_per_second",
    "ttft_ms_p50",
    "ttft_ms_p99",
)
# ratio name: (numerator cell, denominator cell)
RATIOS = {
    "protocol/classic": ("protocol", "classic"),
    "protocol/langgraph-dev": ("protocol", "langgraph-dev"),
}


def expected_kinds(chunks: int) -> list[str]:
    """The frames of one protocol run of a ``chunks``-chunk answer, as ``method`` or
    ``method:data.event`` (every one at the root namespace)."""
    return [
        "lifecycle:running",
        "values",
        "messages:message-start",
        "messages:content-block-start",
        *["messages:content-block-delta"] * chunks,
        "messages:content-block-finish",
        "messages:message-finish",
        "values",
        "lifecycle:completed",
    ]


def events_per_run(cell: str, chunks: int) -> int:
    return len(expected_kinds(chunks)) if PROTOCOL[cell] else chunks + 3


# ---------------------------------------------------------------- client side


@dataclass
class ProtocolResult(LoadResult):
    """A cell's load, with the protocol's own figures: the ``run.start`` round trips and
    the last ``seq`` of each run (events the server logged for it)."""

    commands: list[float] = field(default_factory=list)
    last_seqs: list[int] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        out = super().report()
        out["events_per_run"] = round(self.events / self.runs, 2) if self.runs else None
        out["server_cpu_ms_per_run"] = (
            None
            if self.server_cpu is None or not self.runs
            else round(self.server_cpu / self.runs * 1000, 3)
        )
        out["logged_per_run"] = statistics.median(self.last_seqs) if self.last_seqs else None
        out["command_ms_p50"] = (
            round(self.percentile(0.5, self.commands) * 1000, 2) if self.commands else None
        )
        out["failure_messages"] = self.failures[:20]
        return out


def _kind(envelope: dict[str, Any]) -> str:
    data = envelope.get("params", {}).get("data")
    event = data.get("event") if isinstance(data, dict) else None
    method = str(envelope.get("method"))
    return f"{method}:{event}" if method in ("lifecycle", "messages") and event else method


def check_run(
    frames: list[tuple[str | None, str, Any]], chunks: int, label: str = "run"
) -> str | None:
    """What is wrong with one protocol run's frames (``(id, event, envelope)`` as
    :class:`~bench.server_load.SSEReader` reads them), or ``None``."""
    envelopes = [data for _, _, data in frames]
    if not all(isinstance(e, dict) and e.get("type") == "event" for e in envelopes):
        return f"{label}: a frame that is not an event envelope"
    if any(event != e.get("method") for (_, event, _), e in zip(frames, envelopes, strict=True)):
        return f"{label}: an SSE event name that is not the envelope's method"
    if any(i != str(e.get("seq")) for (i, _, _), e in zip(frames, envelopes, strict=True)):
        return f"{label}: an SSE id that is not the envelope's seq"
    seqs = [e["seq"] for e in envelopes]
    if not all(isinstance(s, int) for s in seqs) or seqs != sorted(set(seqs)):
        return f"{label}: seqs not increasing"
    if len({e.get("event_id") for e in envelopes}) != len(envelopes):
        return f"{label}: an event id sent twice"
    if any(e.get("params", {}).get("namespace") != [] for e in envelopes):
        return f"{label}: an event outside the root namespace"
    kinds = [_kind(e) for e in envelopes]
    wanted = expected_kinds(chunks)
    if kinds != wanted:
        at = next((i for i, (a, b) in enumerate(zip(kinds, wanted, strict=False)) if a != b), None)
        at = min(len(kinds), len(wanted)) if at is None else at
        got = kinds[at] if at < len(kinds) else "the end"
        return f"{label}: {len(kinds)} frames, not {len(wanted)}; frame {at} is {got!r}"
    texts = [
        e["params"]["data"].get("delta", {}).get("text")
        for e, kind in zip(envelopes, kinds, strict=True)
        if kind == "messages:content-block-delta"
    ]
    if texts != [f"c{i} " for i in range(chunks)]:
        return f"{label}: the deltas are not c0 .. c{chunks - 1}"
    return None


async def _one_protocol_run(
    client: Any,
    label: str,
    chunks: int,
    result: ProtocolResult,
    *,
    assistant_id: str = "agent",
    channels: tuple[str, ...] = CHANNELS,
    check: Callable[[list[tuple[str | None, str, Any]]], str | None] | None = None,
) -> list[tuple[str | None, str, Any]]:
    """One run on a new thread: subscribe, ``run.start``, read to the root's terminal
    ``lifecycle``, close; every frame checked (:func:`check_run`, or ``check``); the frames."""
    thread = str(uuid.uuid4())
    body = {"channels": list(channels), "since": 0}
    command = {
        "id": 1,
        "method": "run.start",
        "params": {
            "assistant_id": assistant_id,
            "input": {"messages": [{"role": "user", "content": label}]},
        },
    }
    frames: list[tuple[str | None, str, Any]] = []
    first: float | None = None
    reader = SSEReader()

    async with client.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
        if response.status_code != 200:
            result.failures.append(f"{label}: stream HTTP {response.status_code}")
            return frames

        async def read() -> bool:
            nonlocal first
            async for raw in response.aiter_raw():
                result.wire_bytes += len(raw)
                for part in reader.feed(raw):
                    frames.append(part)
                    kind = _kind(part[2]) if isinstance(part[2], dict) else ""
                    if first is None and kind == "messages:content-block-delta":
                        first = time.perf_counter()
                    params = part[2].get("params", {}) if isinstance(part[2], dict) else {}
                    if (
                        kind.split(":")[-1] in TERMINAL
                        and kind.startswith("lifecycle:")
                        and params.get("namespace") == []
                    ):
                        return True
            return False

        reading = asyncio.create_task(read())
        try:
            sent = time.perf_counter()
            answer = await client.post(f"/threads/{thread}/commands", json=command)
            result.commands.append(time.perf_counter() - sent)
            ok = answer.status_code == 200 and answer.json().get("type") == "success"
            if not ok:
                result.failures.append(f"{label}: run.start answered {answer.text[:200]}")
                return frames
            ended = await reading
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
    result.runs += 1
    result.events += len(frames)
    if first is not None:
        result.ttfts.append(first - sent)
    if frames and isinstance(frames[-1][2], dict) and isinstance(frames[-1][2].get("seq"), int):
        result.last_seqs.append(frames[-1][2]["seq"])
    if not ended:
        wrong: str | None = f"{label}: the stream ended mid-run"
    else:
        wrong = check_run(frames, chunks, label) if check is None else check(frames)
    if wrong is not None:
        result.failures.append(wrong)
    return frames


async def drive_clients(
    url: str,
    clients: int,
    runs: int,
    one_run: Callable[[Any, str], Coroutine[Any, Any, None]],
    result: LoadResult,
    timeout: float,
    connections: int = 1,
) -> None:
    """``clients`` concurrent clients against the server at ``url`` (loopback only), each
    awaiting ``one_run(client, label)`` ``runs`` times one after another, on one httpx
    client with ``connections`` connections per client; wall and client CPU time and what
    went wrong go into ``result``."""
    import httpx

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError("the load benchmark only targets loopback addresses")
    size = connections * clients + 10
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)

    async def one_client(index: int) -> None:
        for n in range(runs):
            await one_run(client, f"client {index} run {n}")

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        start = time.perf_counter()
        cpu = time.process_time()
        tasks = [asyncio.create_task(one_client(i)) for i in range(clients)]
        try:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        result.seconds = time.perf_counter() - start
        result.client_cpu = time.process_time() - cpu
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                result.failures.append(repr(task.exception()))
        if pending:
            result.failures.append(f"{len(pending)} clients did not finish in {timeout}s")


async def run_protocol_load(
    url: str, clients: int, chunks: int, timeout: float = 120.0, *, runs: int = 1
) -> ProtocolResult:
    """``clients`` concurrent thread-stream clients against the server at ``url``
    (loopback only), each running ``runs`` runs one after another, each on a new thread."""
    result = ProtocolResult(clients=clients, chunks=chunks)

    async def one_run(client: Any, label: str) -> None:
        await _one_protocol_run(client, label, chunks, result)

    # two connections per client: its open stream and its command
    await drive_clients(url, clients, runs, one_run, result, timeout, connections=2)
    return result


async def _classic_load(
    url: str, clients: int, chunks: int, timeout: float, *, runs: int
) -> ProtocolResult:
    """server_load's streamtap load (``/runs/stream``), as a :class:`ProtocolResult`."""
    found = await run_load(url, clients, chunks, timeout, runs=runs, target="streamtap")
    fields = {name: getattr(found, name) for name in LoadResult.__dataclass_fields__}
    return ProtocolResult(**fields)


# ---------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Settings:
    cells: tuple[str, ...] = CELLS
    concurrency: tuple[int, ...] = (1, 20)
    chunks: int = 200
    # 20,000 events: a streamtap cell lasts a second or two (CPU is read in 10 ms ticks);
    # langgraph dev, slower per event and one run at a time, on fewer
    events_per_cell: int = 20_000
    langgraph_events_per_cell: int = 3_000
    rounds: int = 5  # the shared VM moves a cell by +-10 % and more: a median of five
    delay: float = 0.0
    model: str = "fake"
    timeout: float = 300.0
    langgraph_jobs: int | None = None

    def runs_per_client(self, clients: int, cell: str) -> int:
        events = self.events_per_cell
        if cell == "langgraph-dev":
            events = min(events, self.langgraph_events_per_cell)
        return max(1, round(events / (clients * events_per_run(cell, self.chunks))))


class _Server(ServerProcess):
    """server_load's server process with its output in a file (``langgraph dev`` logs
    two warnings a protocol run at ``LOG_LEVEL=WARNING``)."""

    def __init__(self, cell: str, settings: Settings, logdir: str) -> None:
        super().__init__(
            settings.chunks,
            settings.delay,
            SERVER[cell],
            settings.langgraph_jobs,
            settings.model,
        )
        self.cell = cell
        self.log = Path(logdir, f"{cell}.log")

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.output = log
            super().start()

    def log_lines(self) -> int:
        with contextlib.suppress(OSError):
            return len(self.log.read_bytes().splitlines())
        return 0

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        return ""


def _one_run(settings: Settings) -> Settings:
    """``settings`` for a warm-up: one run per client."""
    return replace(settings, events_per_cell=1, langgraph_events_per_cell=1)


def _load(
    cell: str, url: str, clients: int, settings: Settings
) -> Coroutine[Any, Any, ProtocolResult]:
    runs = settings.runs_per_client(clients, cell)
    if PROTOCOL[cell]:
        return run_protocol_load(url, clients, settings.chunks, settings.timeout, runs=runs)
    return _classic_load(url, clients, settings.chunks, settings.timeout, runs=runs)


Load = Callable[[str, str, int, Any], Coroutine[Any, Any, ProtocolResult]]


async def _cell(server: _Server, clients: int, settings: Any, load: Load = _load) -> dict[str, Any]:
    """One cell: ``clients`` clients against one server, its CPU and RSS around it."""
    pids = server.pids()
    server.reset_peak(pids)
    before = server.cpu_seconds(pids)
    with RssSampler(server, pids) as sampler:
        result = await load(server.cell, server.url, clients, settings)
        after = await _settle(server, pids)
    if before is not None and after is not None:
        result.server_cpu = after - before
    result.peak_rss_kb = max(sampler.peak_kb, server.hwm_kb(pids))
    result.rss_after_kb = server.rss_kb(pids)
    return {"cell": server.cell, **result.report()}


def summarize(results: dict[str, Any]) -> None:
    """Medians over rounds per (cell, C) and the ratios, in place."""
    config = results["config"]
    cells = [cell for rnd in results["rounds"] for cell in rnd["cells"]]
    medians = medians_of(cells, "cell", config["cells"], config["concurrency"], MEDIAN_KEYS)
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for name, (top, bottom) in RATIOS.items():
        if top not in medians or bottom not in medians:
            continue
        ratios[name] = {
            str(c): {
                key: _ratio(medians[top][str(c)][key], medians[bottom][str(c)][key])
                for key in RATIO_KEYS
            }
            for c in config["concurrency"]
        }
    # what each server kept per run over the whole benchmark (its threads, their logs):
    # RSS at the end over RSS after the warm-up, per run measured
    growth: dict[str, float | None] = {}
    for name in config["cells"]:
        runs = sum(c["runs"] for c in cells if c["cell"] == name)
        start = results.get("warmup", {}).get(name, {}).get("rss_mb")
        end = results.get("final_rss_mb", {}).get(name)
        growth[name] = (
            None
            if start is None or end is None or not runs
            else round((end - start) * 1000 / runs, 1)
        )
    results["medians"], results["ratios"] = medians, ratios
    results["rss_growth_kb_per_run"] = growth


def run_servers(
    settings: Any,
    make_server: Callable[[str, str], _Server],
    load: Load,
    warm: Any,
    results: dict[str, Any],
    progress: Callable[[str], None] = _progress,
    after: Callable[[dict[str, _Server]], None] | None = None,
) -> None:
    """Start one server per cell of ``settings.cells`` (``make_server(cell, logdir)``), a
    warm-up of each (``load`` with the settings ``warm``), then ``settings.rounds`` rounds
    of every (C, cell) in rotating order (:func:`_cell` with ``load``), ``after(servers)``
    while they are still up; each server's final RSS and log lines. Into ``results``
    (``warmup``, ``rounds``, ``failures``, ``final_rss_mb``, ``server_log_lines``)."""
    total = len(settings.cells) * len(settings.concurrency) * settings.rounds
    with contextlib.ExitStack() as stack:
        logdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="streamtap-protocol-"))
        servers: dict[str, _Server] = {}
        for cell in settings.cells:
            server = make_server(cell, logdir)
            stack.callback(server.__exit__)
            server.start()
            servers[cell] = server
        for cell, server in servers.items():
            try:
                server.wait_ready(timeout=120)
            except RuntimeError:
                progress(server.log_tail())
                raise
            found = asyncio.run(load(cell, server.url, 1, warm))
            results["warmup"][cell] = {
                "failures": found.failures,
                "rss_mb": round(server.rss_kb() * 1024 / MB, 1),
            }
            results["failures"] += [f"{cell} warm-up: {f}" for f in found.failures]
            progress(f"  {cell} up (pid {server.pid}), warm-up run done")
        done = 0
        for rnd in range(settings.rounds):
            record: dict[str, Any] = {"round": rnd + 1, "order": {}, "cells": []}
            for clients, order in rotation(rnd, settings.concurrency, settings.cells):
                record["order"][str(clients)] = order
                for cell in order:
                    row = asyncio.run(_cell(servers[cell], clients, settings, load))
                    record["cells"].append(row)
                    label = f"round {rnd + 1} C={clients} {cell}"
                    results["failures"] += [f"{label}: {f}" for f in row["failure_messages"]]
                    done += 1
                    progress(
                        f"  [{done}/{total}] {label}: {row['runs']} runs, {row['events']:,} "
                        f"events in {row['seconds']:.1f} s, {row['events_per_second']:,} "
                        f"events/s, {row['server_cpu_us_per_event']} µs CPU/event, TTFT p50 "
                        f"{row['ttft_ms_p50']} ms"
                        + (f", {row['failures']} FAILED" if row["failures"] else "")
                    )
            results["rounds"].append(record)
        if after is not None:
            after(servers)
        results["final_rss_mb"] = {
            cell: round(server.rss_kb() * 1024 / MB, 1) for cell, server in servers.items()
        }
        results["server_log_lines"] = {cell: s.log_lines() for cell, s in servers.items()}


def measure(settings: Settings, progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """The whole benchmark: one server per cell, a warm-up run each, then ``rounds`` rounds
    of every (C, cell) in rotating order; results as JSON data."""
    from bench.machine import load_average, machine

    began = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": _versions(),
        "config": {
            **asdict(settings),
            "runs_per_client": {
                cell: {str(c): settings.runs_per_client(c, cell) for c in settings.concurrency}
                for cell in settings.cells
            },
            "events_per_run": {cell: events_per_run(cell, settings.chunks) for cell in CELLS},
            "channels": list(CHANNELS),
            "servers": {cell: SERVER[cell] for cell in settings.cells},
            "uvicorn": dict(_UVICORN),
            "langgraph_dev": langgraph_dev_config(settings.langgraph_jobs),
        },
        "notes": [],
        "warmup": {},
        "rounds": [],
        "failures": [],
    }
    results["notes"] += unmeasured_notes(settings.cells)
    progress(
        rounds_line(
            "protocol_load", settings.cells, settings, f"~{settings.events_per_cell:,} events"
        )
    )
    run_servers(
        settings,
        lambda cell, logdir: _Server(cell, settings, logdir),
        _load,
        _one_run(settings),
        results,
        progress,
    )
    results["machine"]["load_average_end"] = load_average()
    results["seconds"] = round(time.perf_counter() - began, 1)
    if "langgraph-dev" in settings.cells:
        results["notes"].append(
            "`langgraph dev` runs one run at a time by default (N_JOBS_PER_WORKER); the "
            "others wait in its queue, which looks for pending runs every 0.5 s when idle: "
            "its TTFT and events/s include that"
        )
    summarize(results)
    return results


# ---------------------------------------------------------------- report (stdlib only)


def table(results: dict[str, Any]) -> str:
    """The medians, the ratios and what one run yields, as Markdown (what the docs show)."""
    config, medians = results["config"], results["medians"]
    rows = [
        "| clients | server | stream | events/run | server CPU µs/event | server CPU ms/run "
        "| events/s | TTFT p50 (ms) | TTFT p99 (ms) | `run.start` p50 (ms) | peak RSS (MB) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in config["concurrency"]:
        for cell in config["cells"]:
            m = medians[cell][str(clients)]
            rows.append(
                f"| {clients} | {LABELS.get(cell, cell + ' |')} | "
                f"{_fmt(m['events_per_run'], ',.0f')} | "
                f"{_fmt(m['server_cpu_us_per_event'], ',.1f')} | "
                f"{_fmt(m['server_cpu_ms_per_run'], ',.2f')} | "
                f"{_fmt(m['events_per_second'])} | {_fmt(m['ttft_ms_p50'], ',.1f')} | "
                f"{_fmt(m['ttft_ms_p99'], ',.1f')} | {_fmt(m['command_ms_p50'], ',.1f')} | "
                f"{_fmt(m['peak_rss_mb'], ',.1f')} |"
            )
    ratios = results.get("ratios", {})
    if ratios:
        heads = {
            "protocol/classic": "streamtap protocol ÷ classic",
            "protocol/langgraph-dev": "protocol: streamtap ÷ `langgraph dev`",
        }
        rows += [
            "",
            "| clients | ratio | CPU/event | CPU/run | events/s | TTFT p50 | TTFT p99 |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for clients in map(str, config["concurrency"]):
            for name, per_c in ratios.items():
                r = per_c[clients]
                rows.append(
                    f"| {clients} | {heads.get(name, name)} | "
                    + " | ".join(
                        _fmt(r[key], ".2f" if (r[key] or 1) >= 0.1 else ".3f") for key in RATIO_KEYS
                    )
                    + " |"
                )
    chunks, per_run = config["chunks"], config["events_per_run"]

    def logged(cell: str) -> str:
        values = [m.get("logged_per_run") for m in medians.get(cell, {}).values()]
        found = [v for v in values if v is not None]
        return _fmt(max(found), ",.0f") if found else "—"

    rows += [
        "",
        f"*One {chunks}-chunk answer is {per_run['classic']:,} classic events (`metadata`, "
        f"{chunks + 1} `messages`, `end`) and {per_run['protocol']:,} protocol frames on "
        f"{', '.join(f'`{c}`' for c in config['channels'])} (root `lifecycle` running and "
        "completed, `values` twice, `message-start`, `content-block-start`, one "
        "`content-block-delta` per chunk, `content-block-finish`, `message-finish`). "
        f"Events logged per run, every channel (the run's last `seq`): streamtap "
        f"{logged('protocol')}, `langgraph dev` {logged('langgraph-dev')}.*",
    ]
    growth = results.get("rss_growth_kb_per_run", {})
    if any(v is not None for v in growth.values()):
        rows += [
            "",
            "*RSS each server gained per run over the benchmark (its RSS at the end over its RSS "
            "after the warm-up, per run measured; a protocol run leaves its thread and the "
            "thread's log behind): "
            + ", ".join(
                f"{LABELS.get(c, c).replace(' | ', ', ')} {_fmt(v, ',.0f')} KB"
                for c, v in growth.items()
            )
            + ".*",
        ]
    lines = results.get("server_log_lines", {})
    if lines.get("langgraph-dev"):
        rows += [
            "",
            f"*`langgraph dev` wrote {lines['langgraph-dev']:,} log lines (at "
            "`LOG_LEVEL=WARNING`) over the benchmark; streamtap "
            f"{lines.get('protocol', 0):,} (protocol) and {lines.get('classic', 0):,} "
            "(classic).*",
        ]
    for note in results.get("notes", []):
        rows += ["", f"*{note}.*"]
    return "\n".join(rows)


# ---------------------------------------------------------------- command line

BOUNDS = {
    "chunks": (1, 10_000),
    "events_per_cell": (1, 1_000_000),
    "langgraph_events_per_cell": (1, 1_000_000),
    "rounds": (1, 20),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.protocol_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument(
        "--cells",
        help=f"comma-separated, of {','.join(CELLS)} (default: all three when langgraph-api "
        "is installed, else classic,protocol)",
    )
    parser.add_argument("--concurrency", type=_ints, default=defaults.concurrency)
    for name in ("chunks", "events_per_cell", "langgraph_events_per_cell", "rounds"):
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=getattr(defaults, name)
        )
    parser.add_argument("--delay", type=float, default=0.0, help="model pause per chunk (s)")
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="per cell (s)")
    parser.add_argument(
        "--langgraph-jobs",
        type=int,
        default=None,
        help="langgraph dev's --n-jobs-per-worker (default: its own default)",
    )
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    available = langgraph_dev_available()
    if args.cells:
        names = [x.strip() for x in args.cells.split(",") if x.strip()]
        if not names or len(set(names)) != len(names) or set(names) - set(CELLS):
            parser.error(f"--cells: a comma-separated list of {', '.join(CELLS)}")
        cells = tuple(name for name in CELLS if name in names)
    else:
        cells = CELLS if available else CELLS[:2]
    if "langgraph-dev" in cells and not available:
        parser.error(f"langgraph dev (langgraph-api) is not installed: {INSTALL_HINT}")
    if not args.concurrency or not all(1 <= c <= 1000 for c in args.concurrency):
        parser.error("--concurrency: numbers of clients, each 1..1000")
    for name, (low, high) in BOUNDS.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be {low}..{high}")
    settings = Settings(
        cells=cells,
        concurrency=tuple(args.concurrency),
        delay=args.delay,
        model=args.model,
        timeout=args.timeout,
        langgraph_jobs=args.langgraph_jobs,
        **{name: getattr(args, name) for name in BOUNDS},
    )
    if args.write and not (settings == defaults and available):
        parser.error(
            f"--write records the full default benchmark in {RESULTS.relative_to(ROOT)} "
            "(langgraph dev included); use --json PATH for other runs"
        )
    return report(measure(settings), [RESULTS if args.write else None, args.json], table)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
