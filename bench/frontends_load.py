"""Load benchmark of the chat-frontend protocols against the classic run stream (issue 23).

``streamtap serve`` answers the same run on five routes; this measures what each costs the
server and how many bytes it puts on the wire, for the same scripted answer (``--chunks``
chunks from the model of :mod:`bench.server_load`, the graph ``START -> agent -> END``),
each cell's server in its own child process on 127.0.0.1 under uvicorn (the same app in
every one: ``create_app`` with that graph as ``agent`` and :func:`rich_graph` as ``rich``):

* ``classic``: ``POST /runs/stream`` (stateless, ``messages-tuple``), as
  :mod:`bench.protocol_load` reads it; an event is one SSE event;
* ``protocol``: the Agent Streaming Protocol's thread stream, as :mod:`bench.protocol_load`
  reads it (``POST /threads/{tid}/stream/events`` then ``run.start``); an event is one frame;
* ``ai-sdk``: ``POST /ai-sdk/agent/chat`` (``DefaultChatTransport``'s body, a new chat id
  per run): ``start``, ``start-step``, ``text-start``, one ``text-delta`` per chunk,
  ``text-end``, ``finish-step``, ``finish``, ``[DONE]``;
* ``ag-ui``: ``POST /ag-ui/agent`` (a ``RunAgentInput``, a new thread per run):
  ``RUN_STARTED``, ``STATE_SNAPSHOT``, ``STEP_STARTED``, ``TEXT_MESSAGE_START``, one
  ``TEXT_MESSAGE_CONTENT`` per chunk, ``TEXT_MESSAGE_END``, ``STEP_FINISHED``,
  ``RUN_FINISHED``;
* ``openai``: ``POST /v1/chat/completions`` (``stream: true``): the role chunk, one
  ``content`` chunk per chunk, the ``finish_reason`` chunk, ``[DONE]``.

An event of the three frontends is one SSE frame (a ``data:`` line; ``[DONE]`` counts).
Every frame of every run is checked: that exact sequence, the deltas ``c0 ``..``c{n-1} ``
once each and in order, the ids that must stay the same doing so, the proper end
(``finish`` ``stop``, ``RUN_FINISHED`` ``success``, ``finish_reason`` ``stop`` then
``[DONE]``); classic and protocol runs are checked as :mod:`bench.server_load` and
:mod:`bench.protocol_load` check them. Per cell: server CPU per event and **per run** (the
fairer figure: the protocols send different numbers of events for the same answer),
events and response-body bytes per run, events/s, time to first token (the request sent
to the first text delta; protocol: ``run.start`` sent), p50/p99, peak RSS; each cell runs
the same number of runs (``--events-per-cell`` classic events' worth); medians over
``--rounds`` rounds in rotating order; ratios to classic.

Then, while the servers are up, one **content-rich answer** per route, bytes only: the
``rich`` graph's node writes a custom progress item, its model streams reasoning, text and
two parallel tool calls with usage, a ``ToolNode`` runs both; the response body's bytes
against the content's (reasoning, texts, tool arguments, tool results, the custom item as
compact JSON), each route's stream checked for every piece it carries. classic reads
``stream_mode`` ``["messages-tuple", "custom"]``, protocol the channels of
:data:`bench.protocol_load.CHANNELS` and ``custom``; OpenAI-compatible chat completions
carry no tool calls the graph ran and no custom items (``docs/openai-compatible.md``); its
client asks for usage (``stream_options.include_usage``), which the other routes send anyway.

    python -m bench.server_load --frontends --write   # the full benchmark: bench/frontends_load.json
    python -m bench.frontends_load --concurrency 1 --rounds 1 --events-per-cell 2000

Loopback only; every loop is bounded in count and time. ``table(results)`` (stdlib only)
renders a results file; the docs are generated from it (``<!-- bench: frontends -->``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.protocol_load import (
    CHANNELS,
    ProtocolResult,
    _classic_load,
    _one_protocol_run,
    _Server,
    drive_clients,
    run_protocol_load,
    run_servers,
)
from bench.protocol_load import expected_kinds as protocol_kinds
from bench.server_load import (
    _UVICORN,
    MODELS,
    ServerProcess,
    _fmt,
    _ints,
    _progress,
    _ratio,
    _versions,
    agent_graph,
    medians_of,
    report,
    rounds_line,
    scripted_model,
)

__all__ = [
    "CELLS",
    "FrontendResult",
    "Settings",
    "check_run",
    "events_per_run",
    "expected_kinds",
    "measure",
    "rich_graph",
    "summarize",
    "table",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "frontends_load.json"
CELLS = ("classic", "protocol", "ai-sdk", "ag-ui", "openai")
FRONTENDS = ("ai-sdk", "ag-ui", "openai")
LABELS = {
    "classic": "`/runs/stream` (classic)",
    "protocol": "Agent Streaming Protocol",
    "ai-sdk": "Vercel AI SDK `/ai-sdk/…/chat`",
    "ag-ui": "AG-UI `/ag-ui/…`",
    "openai": "OpenAI `/v1/chat/completions`",
}
DONE = "[DONE]"
#: the frame that carries a text delta, per frontend
TEXT = {"ai-sdk": "text-delta", "ag-ui": "TEXT_MESSAGE_CONTENT", "openai": "content"}
MEDIAN_KEYS = (
    "server_cpu_us_per_event",
    "server_cpu_ms_per_run",
    "events_per_run",
    "bytes_per_run",
    "events_per_second",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "peak_rss_mb",
)
RATIO_KEYS = (
    "server_cpu_us_per_event",
    "server_cpu_ms_per_run",
    "events_per_run",
    "bytes_per_run",
    "events_per_second",
    "ttft_ms_p50",
    "ttft_ms_p99",
)


def expected_kinds(cell: str, chunks: int) -> list[str]:
    """The frames of one frontend run of a ``chunks``-chunk answer (``type`` of each part
    or event; ``openai``: ``role``, ``content``, ``finish``), ``[DONE]`` included."""
    if cell == "ai-sdk":
        head = ["start", "start-step", "text-start"]
        return [*head, *["text-delta"] * chunks, "text-end", "finish-step", "finish", DONE]
    if cell == "ag-ui":
        head = ["RUN_STARTED", "STATE_SNAPSHOT", "STEP_STARTED", "TEXT_MESSAGE_START"]
        tail = ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_FINISHED"]
        return [*head, *["TEXT_MESSAGE_CONTENT"] * chunks, *tail]
    if cell == "openai":
        return ["role", *["content"] * chunks, "finish", DONE]
    raise ValueError(f"not a frontend: {cell!r}")


def events_per_run(cell: str, chunks: int) -> int:
    if cell == "classic":
        return chunks + 3
    if cell == "protocol":
        return len(protocol_kinds(chunks))
    return len(expected_kinds(cell, chunks))


# ---------------------------------------------------------------- server side

#: the content-rich answer's pieces (what a frontend shows), in UTF-8
REASONING, TEXTS = "think", ("Let ", "me.")
ARGS = {"call_1": ('{"q":', ' "x"}'), "call_2": ('{"city":', ' "Paris"}')}
RESULTS_TEXT = {"call_1": "found x", "call_2": "sunny in Paris"}
PROGRESS = {"progress": 50}
#: what the rich answer is read with on the classic route and on the protocol
CLASSIC_MODES = ("messages-tuple", "custom")
RICH_CHANNELS = (*CHANNELS, "custom")


def _rich_script() -> list[Any]:
    from streamtap.testing.fake import Reasoning, ToolCall, Usage

    one, two = ARGS["call_1"], ARGS["call_2"]
    return [
        Reasoning(REASONING),
        *TEXTS,
        ToolCall(0, "call_1", "search", one[0]),
        ToolCall(1, "call_2", "weather", two[0]),
        ToolCall(0, args=one[1]),
        ToolCall(1, args=two[1]),
        Usage(3, 4),
    ]


async def _search(q: str) -> str:
    """Look it up."""
    return f"found {q}"


async def _weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def rich_graph(engine: str = "streamtap.graph") -> Any:
    """``agent`` (writes :data:`PROGRESS`, then a ``FakeChatModel`` streams reasoning, text
    and two parallel tool calls with usage) -> ``tools`` (a ``ToolNode`` running both) ->
    END; the answer of ``tests/server/_ai_sdk_graphs.py``'s ``answer``."""
    from langchain_core.tools import tool
    from langgraph.prebuilt import ToolNode

    from streamtap.testing import FakeChatModel

    graph = importlib.import_module(engine)
    config = importlib.import_module("langgraph.config" if engine == "langgraph.graph" else engine)
    tools = [tool("search")(_search), tool("weather")(_weather)]

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        config.get_stream_writer()(dict(PROGRESS))
        model = FakeChatModel(scripts=[_rich_script()])
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(graph.START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_edge("tools", graph.END)
    return builder.compile()


def build_app(chunks: int, delay: float, model: str = "fake") -> Any:
    """server_load's streamtap app (``agent``, ``disconnect_grace=1.0``) with ``rich`` too."""
    from streamtap.server import create_app

    graphs = {"agent": agent_graph(scripted_model(chunks, delay, model)), "rich": rich_graph()}
    return create_app(graphs, disconnect_grace=1.0)


def _serve(port: int, chunks: int, delay: float, model: str) -> None:
    import uvicorn

    from streamtap.cli.serve import freeze_startup_heap

    app = build_app(chunks, delay, model)
    freeze_startup_heap()  # as ``streamtap serve`` starts
    uvicorn.run(app, host="127.0.0.1", port=port, **_UVICORN)  # type: ignore[arg-type]


class _FrontendServer(_Server):
    """protocol_load's server process, serving :func:`build_app` (this module's ``--serve``)."""

    def __init__(self, cell: str, settings: Settings, logdir: str) -> None:
        ServerProcess.__init__(
            self, settings.chunks, settings.delay, "streamtap", None, settings.model
        )
        self.args[self.args.index("bench.server_load")] = "bench.frontends_load"
        self.cell = cell
        self.log = Path(logdir, f"{cell}.log")


# ---------------------------------------------------------------- client side


class DataReader:
    """Network reads of one response in, whole SSE frames' ``data`` out (comments and
    frames without data skipped; ``[DONE]`` as the string). ``event:`` / ``id:`` fields
    are kept in :attr:`fields` (none of the frontends sends them)."""

    _BLANK = re.compile(rb"\r?\n\r?\n")

    def __init__(self) -> None:
        self.buffer = b""
        self.fields = 0

    def feed(self, raw: bytes) -> list[Any]:
        self.buffer += raw
        *frames, self.buffer = self._BLANK.split(self.buffer)
        return [d for d in map(self._frame, frames) if d is not None]

    def close(self) -> list[Any]:
        rest, self.buffer = self.buffer, b""
        return [d for d in map(self._frame, self._BLANK.split(rest)) if d is not None]

    def _frame(self, frame: bytes) -> Any:
        data = []
        for line in frame.splitlines():
            name, _, value = line.partition(b":")
            if name == b"data":
                data.append(value[1:] if value.startswith(b" ") else value)
            elif name:
                self.fields += 1
        if not data:
            return None
        body = b"\n".join(data)
        return DONE if body == b"[DONE]" else json.loads(body)


def _kind(cell: str, frame: Any) -> str:
    if frame == DONE:
        return DONE
    if not isinstance(frame, dict):
        return "?"
    if cell != "openai":
        return str(frame.get("type"))
    choices = frame.get("choices") or [{}]
    delta, finish = choices[0].get("delta") or {}, choices[0].get("finish_reason")
    if finish is not None:
        return "finish"
    return "role" if "role" in delta else ("content" if "content" in delta else "?")


def _delta(cell: str, frame: Any) -> Any:
    if cell == "openai":
        return frame["choices"][0]["delta"].get("content")
    return frame.get("delta")


def check_run(cell: str, frames: list[Any], chunks: int, label: str = "run") -> str | None:
    """What is wrong with one frontend run's frames (as :class:`DataReader` reads them), or
    ``None``: the exact sequence, the deltas, the ids that stay, the proper end."""
    kinds = [_kind(cell, f) for f in frames]
    wanted = expected_kinds(cell, chunks)
    if kinds != wanted:
        at = next((i for i, (a, b) in enumerate(zip(kinds, wanted, strict=False)) if a != b), None)
        at = min(len(kinds), len(wanted)) if at is None else at
        got = kinds[at] if at < len(kinds) else "the end"
        return f"{label}: {len(kinds)} frames, not {len(wanted)}; frame {at} is {got!r}"
    deltas = [_delta(cell, f) for f, k in zip(frames, kinds, strict=True) if k == TEXT[cell]]
    if deltas != [f"c{i} " for i in range(chunks)]:
        return f"{label}: the deltas are not c0 .. c{chunks - 1}"
    body = frames[:-1] if frames[-1] == DONE else frames
    if cell == "ai-sdk":
        ids = {f["id"] for f in body if f["type"].startswith("text-")}
        if len(ids) != 1 or body[-1].get("finishReason") != "stop":
            return f"{label}: text parts under {len(ids)} ids, or a finish that is not stop"
    elif cell == "ag-ui":
        ids = {f["messageId"] for f in body if f["type"].startswith("TEXT_MESSAGE")}
        ends = (body[0].get("runId"), body[-1].get("runId"), body[-1].get("outcome"))
        if len(ids) != 1 or ends[0] != ends[1] or ends[2] != {"type": "success"}:
            return f"{label}: text events under {len(ids)} ids, or not a successful end"
    else:
        ids = {(f.get("id"), f.get("object"), f.get("model")) for f in body}
        role = body[0]["choices"][0]["delta"].get("role")
        if (
            len(ids) != 1
            or role != "assistant"
            or body[-1]["choices"][0]["finish_reason"] != "stop"
        ):
            return f"{label}: chunks under {len(ids)} ids, or not a proper start and stop"
    return None


def request(
    cell: str, label: str, graph: str = "agent", usage: bool = False
) -> tuple[str, dict[str, Any]]:
    """The route and body a frontend client sends to start one answer (a new chat / thread
    per run, as the tests in ``tests/server`` send them; ``usage``: the OpenAI client asks
    for the usage chunk, which the other routes always send)."""
    key = uuid.uuid4().hex
    body: dict[str, Any]
    if cell == "ai-sdk":
        message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": label}]}
        body = {"id": key, "messages": [message], "trigger": "submit-message"}
        return f"/ai-sdk/{graph}/chat", body
    if cell == "ag-ui":
        body = {
            "threadId": key,
            "runId": "r1",
            "messages": [{"id": "u1", "role": "user", "content": label}],
            "state": {},
            "tools": [],
            "context": [],
            "forwardedProps": {},
        }
        return f"/ag-ui/{graph}", body
    if cell == "openai":
        body = {"model": graph, "messages": [{"role": "user", "content": label}], "stream": True}
        if usage:
            body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", body
    raise ValueError(f"not a frontend: {cell!r}")


@dataclass
class FrontendResult(ProtocolResult):
    """A cell's load with its response bytes per run."""

    def report(self) -> dict[str, Any]:
        out = super().report()
        out["bytes_per_run"] = round(self.wire_bytes / self.runs) if self.runs else None
        return out


def _as_frontend(found: ProtocolResult) -> FrontendResult:
    return FrontendResult(**{n: getattr(found, n) for n in ProtocolResult.__dataclass_fields__})


async def _one_frontend_run(
    client: Any, cell: str, label: str, chunks: int, result: FrontendResult
) -> None:
    """One answer on its route: POST, read to the end of the body, every frame checked."""
    path, body = request(cell, label)
    reader, frames = DataReader(), []
    first: float | None = None
    text = TEXT[cell]
    sent = time.perf_counter()
    async with client.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            result.failures.append(f"{label}: HTTP {response.status_code}")
            return
        async for raw in response.aiter_raw():
            result.wire_bytes += len(raw)
            for frame in reader.feed(raw):
                if first is None and _kind(cell, frame) == text:
                    first = time.perf_counter()
                frames.append(frame)
        frames += reader.close()
    result.runs += 1
    result.events += len(frames)
    if first is not None:
        result.ttfts.append(first - sent)
    wrong = check_run(cell, frames, chunks, label)
    if wrong is None and reader.fields:
        wrong = f"{label}: SSE fields other than data"
    if wrong is not None:
        result.failures.append(wrong)


async def run_frontend_load(
    url: str, cell: str, clients: int, chunks: int, timeout: float = 120.0, *, runs: int = 1
) -> FrontendResult:
    """``clients`` concurrent clients of one frontend route at ``url`` (loopback only), each
    running ``runs`` answers one after another."""
    result = FrontendResult(clients=clients, chunks=chunks)

    async def one_run(client: Any, label: str) -> None:
        await _one_frontend_run(client, cell, label, chunks, result)

    await drive_clients(url, clients, runs, one_run, result, timeout)
    return result


# ---------------------------------------------------------------- the content-rich answer


def rich_content() -> dict[str, int]:
    """The rich answer's content in UTF-8 bytes, by piece, and what the OpenAI route carries."""
    pieces = {
        "reasoning": len(REASONING.encode()),
        "text": len("".join(TEXTS).encode()),
        "tool arguments": sum(len("".join(a).encode()) for a in ARGS.values()),
        "tool results": sum(len(r.encode()) for r in RESULTS_TEXT.values()),
        "custom item": len(json.dumps(PROGRESS, separators=(",", ":")).encode()),
    }
    return {**pieces, "all": sum(pieces.values())}


def _pieces(cell: str) -> list[str]:
    """What the rich answer's stream must carry on ``cell``'s route, JSON-escaped."""
    texts = [REASONING, *TEXTS]
    if cell == "openai":  # tool calls the graph ran and custom items are not sent
        return [json.dumps(t)[1:-1] for t in texts]
    args = [a for pair in ARGS.values() for a in pair]
    return [json.dumps(t)[1:-1] for t in [*texts, *args, *RESULTS_TEXT.values()]] + [
        '"progress":50'
    ]


async def _rich_run(url: str, cell: str) -> dict[str, Any]:
    """One content-rich answer on ``cell``'s route: its response bytes and events, checked
    for every piece the route carries and for its proper end."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        if cell == "protocol":
            result = ProtocolResult(clients=1, chunks=0)
            found = await _one_protocol_run(
                client, "rich", 0, result, assistant_id="rich", channels=RICH_CHANNELS,
                check=lambda frames: None,
            )  # fmt: skip
            text = json.dumps([data for _, _, data in found], separators=(",", ":"))
            size, events = result.wire_bytes, result.events
            problem = "; ".join(result.failures) or None
        else:
            if cell == "classic":
                path, body = (
                    "/runs/stream",
                    {
                        "assistant_id": "rich",
                        "input": {"messages": [{"role": "user", "content": "rich"}]},
                        "stream_mode": list(CLASSIC_MODES),
                    },
                )
            else:
                path, body = request(cell, "rich", "rich", usage=True)
            wire = b""
            async with client.stream("POST", path, json=body) as response:
                async for raw in response.aiter_raw():
                    wire += raw
            size, text = len(wire), wire.decode()
            if cell == "classic":
                events = len(re.findall(r"^event: ", text, re.M))
                ended = re.search(r"event: end\r?\ndata: .*\"success\"", text) is not None
            else:
                reader = DataReader()
                frames = reader.feed(wire) + reader.close()
                events = len(frames)
                last = frames[-1] if frames else None
                ended = (
                    (last == DONE)
                    if cell != "ag-ui"
                    else (isinstance(last, dict) and last.get("type") == "RUN_FINISHED")
                )
            problem = None if ended else f"{cell} rich answer: the stream did not end properly"
    missing = [p for p in _pieces(cell) if p not in text]
    if missing and problem is None:
        problem = f"{cell} rich answer: {missing} not on the wire"
    return {"bytes": size, "events": events, "problem": problem}


def measure_rich(urls: dict[str, str]) -> dict[str, Any]:
    """The content-rich answer once on each cell's server (``{cell: url}``): bytes and
    events per route, against the content."""
    import asyncio

    content = rich_content()
    carried = sum(len(p.encode()) for p in (REASONING, *TEXTS))
    rows = {cell: asyncio.run(_rich_run(url, cell)) for cell, url in urls.items()}
    for cell, row in rows.items():
        row["content_bytes"] = carried if cell == "openai" else content["all"]
        row["bytes_per_content_byte"] = round(row["bytes"] / row["content_bytes"], 2)
    return {
        "content": content,
        "classic_stream_mode": list(CLASSIC_MODES),
        "protocol_channels": list(RICH_CHANNELS),
        "cells": rows,
    }


# ---------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Settings:
    cells: tuple[str, ...] = CELLS
    concurrency: tuple[int, ...] = (1, 20)
    chunks: int = 200
    # classic events' worth of runs per cell (every cell runs as many): ~100 runs
    events_per_cell: int = 20_000
    rounds: int = 5  # the shared VM moves a cell by +-10 % and more: a median of five
    delay: float = 0.0
    model: str = "fake"
    timeout: float = 300.0
    rich: bool = True

    def runs_per_client(self, clients: int, cell: str = "classic") -> int:
        return max(
            1, round(self.events_per_cell / (clients * events_per_run("classic", self.chunks)))
        )


def _load(cell: str, url: str, clients: int, settings: Settings) -> Coroutine[Any, Any, Any]:
    runs, chunks, timeout = settings.runs_per_client(clients), settings.chunks, settings.timeout

    async def load() -> FrontendResult:
        if cell == "classic":
            return _as_frontend(await _classic_load(url, clients, chunks, timeout, runs=runs))
        if cell == "protocol":
            return _as_frontend(await run_protocol_load(url, clients, chunks, timeout, runs=runs))
        return await run_frontend_load(url, cell, clients, chunks, timeout, runs=runs)

    return load()


def summarize(results: dict[str, Any]) -> None:
    """Medians over rounds per (cell, C) and each cell's ratios to classic, in place."""
    config = results["config"]
    cells = [cell for rnd in results["rounds"] for cell in rnd["cells"]]
    medians = medians_of(cells, "cell", config["cells"], config["concurrency"], MEDIAN_KEYS)
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    if "classic" in medians:
        for name in config["cells"]:
            if name == "classic":
                continue
            ratios[f"{name}/classic"] = {
                str(c): {
                    key: _ratio(medians[name][str(c)][key], medians["classic"][str(c)][key])
                    for key in RATIO_KEYS
                }
                for c in config["concurrency"]
            }
    results["medians"], results["ratios"] = medians, ratios


def measure(settings: Settings, progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """The whole benchmark: one server per cell, a warm-up run each, ``rounds`` rounds of
    every (C, cell) in rotating order, then the content-rich answer on each; results as
    JSON data."""
    from bench.machine import load_average, machine, versions

    began = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": {**_versions(), **versions(("ag-ui-protocol",))},
        "config": {
            **asdict(settings),
            "runs_per_client": {str(c): settings.runs_per_client(c) for c in settings.concurrency},
            "events_per_run": {cell: events_per_run(cell, settings.chunks) for cell in CELLS},
            "channels": list(CHANNELS),
            "uvicorn": dict(_UVICORN),
        },
        "notes": [],
        "warmup": {},
        "rounds": [],
        "failures": [],
    }
    size = f"{settings.runs_per_client(1)} runs at C = 1"
    progress(rounds_line("frontends_load", settings.cells, settings, size))

    def rich(servers: dict[str, Any]) -> None:
        if settings.rich:
            found = measure_rich({cell: server.url for cell, server in servers.items()})
            results["rich"] = found
            results["failures"] += [r["problem"] for r in found["cells"].values() if r["problem"]]
            progress(
                "  rich answer: "
                + ", ".join(f"{c} {r['bytes']:,} B" for c, r in found["cells"].items())
            )

    warm = replace(settings, events_per_cell=1)
    make = lambda cell, logdir: _FrontendServer(cell, settings, logdir)  # noqa: E731
    run_servers(settings, make, _load, warm, results, progress, after=rich)
    results["machine"]["load_average_end"] = load_average()
    results["seconds"] = round(time.perf_counter() - began, 1)
    summarize(results)
    return results


# ---------------------------------------------------------------- report (stdlib only)


def table(results: dict[str, Any]) -> str:
    """The medians, the ratios to classic and the content-rich answer's bytes, as Markdown
    (what the docs show)."""
    config, medians = results["config"], results["medians"]
    rows = [
        "| clients | route | events/run | bytes/run | server CPU µs/event "
        "| server CPU ms/run | events/s | TTFT p50 (ms) | TTFT p99 (ms) | peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in config["concurrency"]:
        for cell in config["cells"]:
            m = medians[cell][str(clients)]
            rows.append(
                f"| {clients} | {LABELS.get(cell, cell)} | {_fmt(m['events_per_run'], ',.0f')} | "
                f"{_fmt(m['bytes_per_run'], ',.0f')} | "
                f"{_fmt(m['server_cpu_us_per_event'], ',.1f')} | "
                f"{_fmt(m['server_cpu_ms_per_run'], ',.2f')} | "
                f"{_fmt(m['events_per_second'])} | {_fmt(m['ttft_ms_p50'], ',.1f')} | "
                f"{_fmt(m['ttft_ms_p99'], ',.1f')} | {_fmt(m['peak_rss_mb'], ',.1f')} |"
            )
    ratios = results.get("ratios", {})
    if ratios:
        rows += [
            "",
            "| clients | ÷ classic | CPU/event | CPU/run | events/run | bytes/run | events/s "
            "| TTFT p50 | TTFT p99 |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients in map(str, config["concurrency"]):
            for name, per_c in ratios.items():
                r = per_c[clients]
                rows.append(
                    f"| {clients} | {LABELS.get(name.split('/')[0], name)} | "
                    + " | ".join(
                        _fmt(r[key], ".2f" if (r[key] or 1) >= 0.1 else ".3f") for key in RATIO_KEYS
                    )
                    + " |"
                )
    per_run = config["events_per_run"]
    rows += [
        "",
        f"*One {config['chunks']}-chunk answer (`c0 ` … `c{config['chunks'] - 1} `, "
        f"{sum(len(f'c{i} ') for i in range(config['chunks'])):,} bytes of text) is "
        + ", ".join(f"{per_run[c]:,} events on {LABELS.get(c, c)}" for c in config["cells"])
        + "; an event is one SSE event or frame, `data: [DONE]` included. Every cell runs "
        "the same number of runs; bytes are the response body's (the protocol's: its event "
        "stream's, not the `run.start` command's).*",
    ]
    rich = results.get("rich")
    if rich:
        content = rich["content"]
        rows += [
            "",
            "| content-rich answer | events | bytes on the wire | content bytes carried "
            "| wire ÷ content |",
            "|---|---:|---:|---:|---:|",
        ]
        for cell, r in rich["cells"].items():
            rows.append(
                f"| {LABELS.get(cell, cell)} | {r['events']:,} | {r['bytes']:,} | "
                f"{r['content_bytes']:,} | {_fmt(r['bytes_per_content_byte'], '.1f')} |"
            )
        pieces = ", ".join(f"{k} {v}" for k, v in content.items() if k != "all")
        rows += [
            "",
            f"*The content-rich answer: a custom progress item, reasoning, text, two parallel "
            f"tool calls a `ToolNode` runs, usage; {content['all']} bytes of content ({pieces}). "
            f"Classic reads `stream_mode` {', '.join(f'`{m}`' for m in rich['classic_stream_mode'])}; "
            f"the protocol the channels {', '.join(f'`{c}`' for c in rich['protocol_channels'])}. "
            "The OpenAI route carries only the reasoning and the text (the graph's own tool "
            "calls and custom items are not sent to an OpenAI client).*",
        ]
    for note in results.get("notes", []):
        rows += ["", f"*{note}.*"]
    return "\n".join(rows)


# ---------------------------------------------------------------- command line

BOUNDS = {"chunks": (1, 10_000), "events_per_cell": (1, 1_000_000), "rounds": (1, 20)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.frontends_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument("--cells", help=f"comma-separated, of {','.join(CELLS)} (default: all)")
    parser.add_argument("--concurrency", type=_ints, default=defaults.concurrency)
    for name in BOUNDS:
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=getattr(defaults, name)
        )
    parser.add_argument("--delay", type=float, default=0.0, help="model pause per chunk (s)")
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="per cell (s)")
    parser.add_argument("--no-rich", action="store_true", help="skip the content-rich answer")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", default="streamtap", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.port, args.chunks, args.delay, args.model)
        return 0
    cells: tuple[str, ...] = CELLS
    if args.cells:
        names = [x.strip() for x in args.cells.split(",") if x.strip()]
        if not names or len(set(names)) != len(names) or set(names) - set(CELLS):
            parser.error(f"--cells: a comma-separated list of {', '.join(CELLS)}")
        cells = tuple(name for name in CELLS if name in names)
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
        rich=not args.no_rich,
        **{name: getattr(args, name) for name in BOUNDS},
    )
    if args.write and settings != defaults:
        parser.error(
            f"--write records the full default benchmark in {RESULTS.relative_to(ROOT)}; "
            "use --json PATH for other runs"
        )
    return report(measure(settings), [RESULTS if args.write else None, args.json], table)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
