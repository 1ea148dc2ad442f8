"""Load benchmark for ``streamtap.server``, side by side with a floor and ``langgraph dev``.

Three servers, each in its own child process on 127.0.0.1 under uvicorn, answer the same
``POST /runs/stream`` (``{"assistant_id": "agent", "input": {"messages": [...]},
"stream_mode": "messages-tuple"}``) with the same events:

* ``streamtap``: ``create_app`` serving a one-node graph whose scripted chat model
  streams ``--chunks`` chunks (``--model fake``, the default: streamtap's
  ``FakeChatModel``, streaming as streamtap's vendor models do; ``--model langchain``:
  a plain langchain-core model firing its own token callbacks, each chunk stamped with
  the wall-clock time it was made, for per-event latency);
* ``floor``: the same events sent with no graph: per event one ``AIMessageChunk`` built
  and ``model_dump``-ed with the metadata streamtap sends, ``orjson``, SSE framing
  (``sse-starlette``, as streamtap) and the write; what any server must spend;
* ``langgraph-dev``: LangGraph's own server (``langgraph dev``, from
  ``langgraph-cli[inmem]``, the ``bench`` extra), its defaults kept, on the same graph
  built with ``langgraph.graph`` and the same model. Nothing is installed here.

For each number of concurrent clients C (``--concurrency``), each client starts runs back
to back so that every cell streams about ``--events-per-cell`` events; the servers stay up
for the whole benchmark (retained memory shows as it would in production), and within
each of ``--rounds`` rounds the targets take turns in a rotating order. Every token of
every run is checked (the ids in order where the server sends ids, the contents
``c0 ``..``c{n-1} `` then the closing chunk, a proper start and end); a failure is reported
and makes the exit status 1. Per cell: server CPU per event (user+system time of the
server's process tree over events received), events/s, time to first token (POST sent
to first ``messages`` event) p50/p99, the latency each event had (from its stamp)
p50/p99, peak RSS of the server's process tree (``VmRSS`` sampled every 20 ms, and
``VmHWM``) and RSS after; then the median over rounds and the ratios.

    python -m bench.server_load --write     # the full benchmark: bench/server_load.json
    python -m bench.server_load --concurrency 1,20 --events-per-cell 2000 --rounds 1
    python -m bench.server_load --protocol --write   # bench.protocol_load: the thread streams
    python -m bench.server_load --frontends --write  # bench.frontends_load: AI SDK, AG-UI, OpenAI

Loopback only; every loop is bounded in count and time. ``table(results)`` (stdlib only)
renders a results file; the docs are generated from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "MODELS",
    "TARGETS",
    "LoadResult",
    "SSEReader",
    "ServerProcess",
    "Settings",
    "agent_graph",
    "build_app",
    "build_floor_app",
    "langgraph_agent_graph",
    "measure",
    "run_load",
    "scripted_model",
    "table",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "server_load.json"
TARGETS = ("streamtap", "floor", "langgraph-dev")
# What each server sends around the tokens: ids on every event, a closing ``end`` event.
# ``langgraph dev`` sends neither on a stateless ``/runs/stream`` (checked, not assumed:
# an id or an ``end`` from it would fail the run).
# ``"stream"``: Redis stream ids (``ms-seq``, increasing), as streamtap sends them on its
# Redis and Postgres backends (bench/cluster_load.py).
FRAMING: dict[str, dict[str, Any]] = {
    "streamtap": {"ids": True, "end": True},
    "floor": {"ids": True, "end": True},
    "langgraph-dev": {"ids": False, "end": False},
    "streamtap-redis": {"ids": "stream", "end": True},
}
VERSIONS = (
    "streamtap",
    "langgraph",
    "langgraph-api",
    "langgraph-cli",
    "langgraph-runtime-inmem",
    "langchain-core",
    "pydantic",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "sse-starlette",
    "orjson",
    "httpx",
)
INSTALL_HINT = "pip install 'streamtap[bench]'  (langgraph-cli[inmem])"
MB = 1_000_000
_UVICORN = {"log_level": "warning", "backlog": 4096, "timeout_keep_alive": 30}


def langgraph_dev_available() -> bool:
    """Whether LangGraph's in-memory server (``langgraph-cli[inmem]``) can be imported."""
    return all(importlib.util.find_spec(name) for name in ("langgraph_api", "langgraph_cli"))


# ---------------------------------------------------------------- server side

_MODELS: dict[tuple[int, float], Any] = {}


MODELS = ("fake", "langchain")


def scripted_model(chunks: int, delay: float, kind: str = "fake") -> Any:
    """A chat model streaming ``c0 `` .. ``c{chunks-1} `` (``delay`` seconds before each).

    ``fake``: streamtap's ``FakeChatModel``, which streams as streamtap's vendor models do
    (tokens handed straight to the graph's ``messages`` handler). ``langchain``: a plain
    langchain-core model whose ``_astream`` fires ``on_llm_new_token`` itself, each
    chunk's ``additional_kwargs["t"]`` the time it was made (per-event latency), and
    tokens through langchain-core's async callback dispatch, as third-party models do."""
    if kind == "fake":
        from streamtap.testing import FakeChatModel
        from streamtap.testing.fake import Pause, Step

        steps: list[Step] = []
        for i in range(chunks):
            steps += [Pause(delay), f"c{i} "] if delay else [f"c{i} "]
        return FakeChatModel(scripts=[steps], cycle=True, keep_requests=False)
    if kind != "langchain":
        raise ValueError(f"unknown model {kind!r}: one of {', '.join(MODELS)}")
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class Scripted(BaseChatModel):
        n: int
        pause: float

        @property
        def _llm_type(self) -> str:
            return "scripted-load"

        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage("x" * self.n))])

        async def _astream(
            self, messages: list[BaseMessage], *a: Any, run_manager: Any = None, **k: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            for i in range(self.n):
                await asyncio.sleep(self.pause)
                # A string: chunk addition concatenates strings (a float would not merge).
                stamp = repr(time.time())
                chunk = AIMessageChunk(content=f"c{i} ", additional_kwargs={"t": stamp})
                gen = ChatGenerationChunk(message=chunk)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=gen)
                yield gen

    return Scripted(n=chunks, pause=delay)


def build_app(chunks: int, delay: float, model: str = "fake") -> Any:
    """streamtap: a one-node graph whose model streams ``chunks`` chunks."""
    from streamtap.server import create_app

    graph = agent_graph(scripted_model(chunks, delay, model))
    return create_app({"agent": graph}, disconnect_grace=1.0)


def agent_graph(model: Any, engine: str = "streamtap.graph") -> Any:
    """``START -> agent -> END``: the one node asks ``model`` with the thread's messages;
    built with ``engine`` (``streamtap.graph`` or LangGraph's ``langgraph.graph``)."""
    graph = importlib.import_module(engine)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    builder.add_edge("agent", graph.END)
    return builder.compile()


def langgraph_agent_graph(model: Any) -> Any:
    """:func:`agent_graph` built with LangGraph's own ``langgraph.graph``."""
    return agent_graph(model, "langgraph.graph")


def build_floor_app(chunks: int, delay: float, model: str = "fake") -> Any:
    """The floor: streamtap's events for the same answer, sent with no graph and no
    callbacks. Per token: the ``AIMessageChunk`` the model makes (same content, stamp and
    id), ``[chunk.model_dump(), metadata]`` (streamtap's metadata dict) through
    ``orjson``, framed by ``sse-starlette`` as streamtap frames it, then written."""
    import uuid
    from importlib import metadata as dist

    import orjson
    from langchain_core.messages import AIMessageChunk, HumanMessage
    from sse_starlette import EventSourceResponse, ServerSentEvent
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    # streamtap's assistant id for the graph "agent" (uuid5 of its graph id)
    assistant_id = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "agent"))
    lc_versions = {"langchain-core": dist.version("langchain-core")}
    chat = scripted_model(chunks, delay, model)
    ls_params = {k: v for k, v in chat._get_ls_params().items() if v is not None}

    def frame(event: str, n: int, data: bytes) -> bytes:
        return ServerSentEvent(data=data.decode(), event=event, id=str(n), sep="\n").encode()

    async def stream(request: Request) -> Any:
        body = orjson.loads(await request.body())
        if body.get("assistant_id") != "agent" or body.get("stream_mode") != "messages-tuple":
            return JSONResponse({"detail": "the floor serves one request"}, status_code=422)
        thread_id, run_id, task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        message_id = f"lc_run--{uuid.uuid4()}"
        ns = f"agent:{task}"
        meta = {
            "thread_id": str(thread_id),
            "run_id": str(run_id),
            "assistant_id": assistant_id,
            "graph_id": "agent",
            "ls_integration": "langchain_chat_model",
            "langgraph_step": 1,
            "langgraph_node": "agent",
            "langgraph_triggers": ["branch:to:agent"],
            "langgraph_path": ["__pregel_pull", "agent"],
            "langgraph_checkpoint_ns": ns,
            "checkpoint_ns": ns,
            **ls_params,
            "lc_versions": lc_versions,
        }

        async def fake_events() -> AsyncIterator[bytes]:
            # the fake model's own chunks, as its stream makes them: no callbacks, no graph
            yield frame("metadata", 1, orjson.dumps({"run_id": str(run_id), "attempt": 1}))
            stream = chat.open([HumanMessage(str(body["input"]["messages"][0]["content"]))])
            n = 1
            try:
                async for chunk in stream:
                    n += 1
                    yield frame("messages", n, orjson.dumps([chunk.model_dump(), meta]))
            finally:
                await stream.aclose()
            end = {"run_id": str(run_id), "status": "success"}
            yield frame("end", n + 1, orjson.dumps(end))

        async def events() -> AsyncIterator[bytes]:
            yield frame("metadata", 1, orjson.dumps({"run_id": str(run_id), "attempt": 1}))
            for i in range(chunks):
                await asyncio.sleep(delay)
                chunk = AIMessageChunk(
                    content=f"c{i} ", additional_kwargs={"t": repr(time.time())}, id=message_id
                )
                yield frame("messages", i + 2, orjson.dumps([chunk.model_dump(), meta]))
            last = AIMessageChunk(content="", id=message_id, chunk_position="last")
            yield frame("messages", chunks + 2, orjson.dumps([last.model_dump(), meta]))
            end = {"run_id": str(run_id), "status": "success"}
            yield frame("end", chunks + 3, orjson.dumps(end))

        path = f"/threads/{thread_id}/runs/{run_id}"
        return EventSourceResponse(
            fake_events() if model == "fake" else events(),
            headers={"Location": f"{path}/stream", "Content-Location": path},
            ping=5.0,
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep="\n"),
            sep="\n",
        )

    return Starlette(routes=[Route("/runs/stream", stream, methods=["POST"])])


def _serve(target: str, port: int, chunks: int, delay: float, model: str) -> None:
    import uvicorn

    from streamtap.cli.serve import freeze_startup_heap

    build = build_floor_app if target == "floor" else build_app
    app = build(chunks, delay, model)
    freeze_startup_heap()  # as ``streamtap serve`` starts (the floor too: same process setup)
    uvicorn.run(app, host="127.0.0.1", port=port, **_UVICORN)  # type: ignore[arg-type]


# The module ``langgraph dev`` loads (``langgraph.json``: ``"agent": "./graph.py:graph"``).
_LANGGRAPH_GRAPH = """\
from bench.server_load import langgraph_agent_graph, scripted_model

graph = langgraph_agent_graph(scripted_model({chunks}, {delay!r}, {model!r}))
"""
# No version check against PyPI, no tracing, logs at warning; anything else as it comes.
_LANGGRAPH_ENV = {
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LOG_LEVEL": "WARNING",
    "LOG_COLOR": "false",
    # LangGraph warns that `durability` has no effect without a checkpointer (once a process)
    "PYTHONWARNINGS": "ignore:`durability` has no effect:UserWarning",
}


def _langgraph_settings(workdir: str) -> None:
    """Write the settings the server runs with (``langgraph_api.config``, read once
    ``run_server`` has set its environment) to ``workdir/settings.json``."""
    for _ in range(1200):
        config = sys.modules.get("langgraph_api.config")
        if config is not None and hasattr(config, "N_JOBS_PER_WORKER"):
            names = ("N_JOBS_PER_WORKER", "BG_JOB_ISOLATED_LOOPS")
            found = {name.lower(): getattr(config, name, None) for name in names}
            found["file_persistence"] = os.environ.get("LANGGRAPH_DISABLE_FILE_PERSISTENCE")
            found["file_persistence"] = found["file_persistence"] != "true"
            Path(workdir, "settings.json").write_text(json.dumps(found), encoding="utf-8")
            return
        time.sleep(0.1)


def _serve_langgraph(port: int, workdir: str, jobs: int | None) -> None:
    """What ``langgraph dev --no-browser --no-reload --config langgraph.json`` runs,
    in this process: its config validated by the CLI, then ``run_server``."""
    import logging

    from langgraph_api.cli import run_server  # type: ignore[import-untyped, import-not-found]
    from langgraph_cli.config import validate_config_file  # type: ignore[import-not-found]

    logging.getLogger("langgraph_api.cli").setLevel(logging.WARNING)  # its banner
    threading.Thread(target=_langgraph_settings, args=(workdir,), daemon=True).start()
    os.chdir(workdir)
    sys.path.append(workdir)
    config = dict(validate_config_file(Path(workdir) / "langgraph.json"))
    run_server(
        "127.0.0.1",
        port,
        False,  # --no-reload
        config.get("graphs", {}),
        n_jobs_per_worker=jobs,
        open_browser=False,
        env=config.get("env"),
        store=config.get("store"),
        auth=config.get("auth"),
        http=config.get("http"),
        ui=config.get("ui"),
        ui_config=config.get("ui_config"),
        webhooks=config.get("webhooks"),
        checkpointer=config.get("checkpointer"),
        disable_persistence=config.get("disable_persistence", False),
        server_level="WARNING",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                found += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (all its threads)
    except (OSError, ValueError, IndexError):
        return 0


def _status_kb(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class ServerProcess:
    """One target's server in a child process (clients and server use separate cores);
    its CPU and RSS read from /proc over its process tree (Linux)."""

    def __init__(
        self,
        chunks: int,
        delay: float,
        target: str = "streamtap",
        jobs: int | None = None,
        model: str = "fake",
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}: one of {', '.join(TARGETS)}")
        self.target, self.chunks, self.delay = target, chunks, delay
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "bench.server_load", "--serve", "--target", target,
            "--port", str(self.port), "--chunks", str(chunks), "--delay", str(delay),
            "--model", model,
        ]  # fmt: skip
        self.env: dict[str, str] = {}
        self.output: Any = None  # where the child's stdout and stderr go (None: this process's)
        self.workdir: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        if target == "langgraph-dev":
            self.workdir = tempfile.mkdtemp(prefix="streamtap-bench-langgraph-")
            Path(self.workdir, "graph.py").write_text(
                _LANGGRAPH_GRAPH.format(chunks=int(chunks), delay=float(delay), model=model),
                encoding="utf-8",
            )
            config = {"graphs": {"agent": "./graph.py:graph"}, "dependencies": ["."]}
            Path(self.workdir, "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
            self.args += ["--workdir", self.workdir]
            if jobs is not None:
                self.args += ["--langgraph-jobs", str(jobs)]
            self.env = dict(_LANGGRAPH_ENV)

    def start(self) -> None:
        """Start the child (returns at once; :meth:`wait_ready` waits for its port)."""
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=env, stdout=self.output, stderr=self.output
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError(f"the {self.target} server did not start") from None
                time.sleep(0.05)

    def __enter__(self) -> ServerProcess:
        self.start()
        self.wait_ready()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        """The server process and its descendants."""
        if self.proc is None:
            return []
        out: list[int] = []
        todo = [self.proc.pid]
        while todo and len(out) < 256:
            pid = todo.pop()
            out.append(pid)
            todo += _children(pid)
        return out

    def cpu_seconds(self, pids: Sequence[int] | None = None) -> float | None:
        """User+system CPU the server's process tree has used so far (Linux /proc)."""
        if self.proc is None or not os.path.exists(f"/proc/{self.proc.pid}/stat"):
            return None
        ticks = sum(_cpu_ticks(pid) for pid in (pids if pids is not None else self.pids()))
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_kb(self, pids: Sequence[int] | None = None) -> int:
        return sum(_status_kb(p, "VmRSS:") for p in (pids if pids is not None else self.pids()))

    def hwm_kb(self, pids: Sequence[int] | None = None) -> int:
        return sum(_status_kb(p, "VmHWM:") for p in (pids if pids is not None else self.pids()))

    def reset_peak(self, pids: Sequence[int]) -> None:
        for pid in pids:  # VmHWM starts again from the current RSS (clear_refs 5)
            with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class RssSampler:
    """The peak of a process tree's summed ``VmRSS``, sampled every ``interval`` s."""

    def __init__(self, server: ServerProcess, pids: Sequence[int], interval: float = 0.02):
        self.server, self.pids, self.interval = server, list(pids), interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, self.server.rss_kb(self.pids))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak_kb = max(self.peak_kb, self.server.rss_kb(self.pids))


# ---------------------------------------------------------------- client side


@dataclass
class LoadResult:
    clients: int
    chunks: int
    runs: int = 0
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    client_cpu: float = 0.0
    peak_rss_kb: int | None = None
    rss_after_kb: int | None = None
    # response body bytes read (not in :meth:`report`: bench.frontends_load reports them)
    wire_bytes: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def report(self) -> dict[str, Any]:
        def ms(q: float, values: list[float]) -> float | None:
            return round(self.percentile(q, values) * 1000, 2) if values else None

        return {
            "clients": self.clients,
            "chunks_per_answer": self.chunks,
            "runs": self.runs,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
            "ttft_ms_p50": ms(0.50, self.ttfts),
            "ttft_ms_p99": ms(0.99, self.ttfts),
            "latency_ms_p50": ms(0.50, self.latencies),
            "latency_ms_p99": ms(0.99, self.latencies),
            "latency_ms_mean": round(statistics.fmean(self.latencies) * 1000, 2)
            if self.latencies
            else None,
            "server_cpu_seconds": None if self.server_cpu is None else round(self.server_cpu, 3),
            "client_cpu_seconds": round(self.client_cpu, 2),
            "server_cpu_us_per_event": None
            if self.server_cpu is None or not self.events
            else round(self.server_cpu / self.events * 1e6, 1),
            "peak_rss_mb": None
            if self.peak_rss_kb is None
            else round(self.peak_rss_kb * 1024 / MB, 1),
            "rss_after_mb": None
            if self.rss_after_kb is None
            else round(self.rss_after_kb * 1024 / MB, 1),
            "failures": len(self.failures),
        }


class SSEReader:
    """Network reads of one response in, whole SSE events out: ``(id, event, data)``.

    One line decoder and one ``SSEDecoder`` for the whole response: an event split
    across reads (or a line split mid-way) is completed by the next read."""

    def __init__(self) -> None:
        from langgraph_sdk.sse import BytesLineDecoder, SSEDecoder

        self.lines, self.decoder = BytesLineDecoder(), SSEDecoder()

    def _events(self, lines: Iterator[bytes]) -> list[tuple[str | None, str, Any]]:
        out = []
        for line in lines:
            part = self.decoder.decode(line)
            if part is not None and part.event:
                out.append((part.id, part.event, part.data))
        return out

    def feed(self, raw: bytes) -> list[tuple[str | None, str, Any]]:
        return self._events(bytes(x).rstrip(b"\r\n") for x in self.lines.decode(raw))

    def close(self) -> list[tuple[str | None, str, Any]]:
        """What the last read left: an unterminated line, an event without its blank line."""
        return self._events(iter([*(bytes(x) for x in self.lines.flush()), b""]))


def _in_order(seen: Sequence[str | None], ids: bool | str) -> bool:
    """``True``: ``1``, ``2``, ... with none missing; ``"stream"``: increasing ``ms-seq``."""
    if ids != "stream":
        return list(seen) == [str(i) for i in range(1, len(seen) + 1)]
    try:
        keys = [tuple(int(x) for x in str(i).split("-")) for i in seen]
    except ValueError:
        return False
    return all(len(k) == 2 for k in keys) and all(a < b for a, b in itertools.pairwise(keys))


async def _one_run(
    client: Any, label: str, chunks: int, result: LoadResult, ids: bool | str, end: bool
) -> None:
    """Read one run to the end and check that every event arrived, once, in order."""
    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": label}]},
        "stream_mode": "messages-tuple",
    }
    seen: list[str | None] = []
    events: list[str] = []
    contents: list[str] = []
    last_position: Any = None
    reader = SSEReader()
    sent = time.perf_counter()
    first: float | None = None

    def take(parts: list[tuple[str | None, str, Any]], now: float) -> None:
        nonlocal first, last_position
        for event_id, event, data in parts:
            seen.append(event_id)
            events.append(event)
            if event == "messages":
                if first is None:
                    first = time.perf_counter()
                chunk = data[0]
                contents.append(chunk["content"])
                last_position = chunk.get("chunk_position")
                stamp = chunk.get("additional_kwargs", {}).get("t")
                if stamp is not None:
                    result.latencies.append(now - float(stamp))

    async with client.stream("POST", "/runs/stream", json=body) as response:
        if response.status_code != 200:
            result.failures.append(f"{label}: HTTP {response.status_code}")
            return
        async for raw in response.aiter_raw():
            result.wire_bytes += len(raw)
            take(reader.feed(raw), time.time())
        take(reader.close(), time.time())
    result.runs += 1
    result.events += len(events)
    if first is not None:
        result.ttfts.append(first - sent)
    expected = [f"c{i} " for i in range(chunks)] + [""]
    wanted = ["metadata"] + ["messages"] * (chunks + 1) + (["end"] if end else [])
    if ids and not _in_order(seen, ids):
        result.failures.append(f"{label}: ids out of order or missing")
    elif not ids and any(x is not None for x in seen):
        result.failures.append(f"{label}: ids where none were expected")
    elif contents != expected:
        result.failures.append(f"{label}: got {len(contents)} chunks, not {len(expected)}")
    elif events != wanted or last_position != "last":
        tail = events[-1] if events else None
        result.failures.append(f"{label}: stream did not start/end properly (last {tail!r})")


async def _one_client(
    client: Any, index: int, chunks: int, result: LoadResult, runs: int, ids: bool | str, end: bool
) -> None:
    for n in range(runs):
        await _one_run(client, f"client {index} run {n}", chunks, result, ids, end)


async def run_load(
    url: str,
    clients: int,
    chunks: int,
    timeout: float = 120.0,
    *,
    runs: int = 1,
    target: str = "streamtap",
) -> LoadResult:
    """``clients`` concurrent SSE readers against the server at ``url`` (loopback only),
    each starting ``runs`` runs one after another; every event checked as ``target``
    frames it (:data:`FRAMING`)."""
    import httpx

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError("the load benchmark only targets loopback addresses")
    framing = FRAMING[target]
    result = LoadResult(clients=clients, chunks=chunks)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        start = time.perf_counter()
        cpu = time.process_time()
        tasks = [
            asyncio.create_task(
                _one_client(client, i, chunks, result, runs, framing["ids"], framing["end"])
            )
            for i in range(clients)
        ]
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
    return result


# ---------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Settings:
    targets: tuple[str, ...] = TARGETS
    concurrency: tuple[int, ...] = (1, 20, 100)
    chunks: int = 200
    # CPU time is read in clock ticks (10 ms): 60,000 events make a streamtap or floor
    # cell last a couple of seconds; langgraph dev, ~15x their CPU per event and one run
    # at a time, is measured as precisely on fewer (its C = 1 cell alone takes minutes)
    events_per_cell: int = 60_000
    langgraph_events_per_cell: int = 20_000
    rounds: int = 5  # the VM moves a cell by +-10 %: a median of five
    delay: float = 0.0
    model: str = "fake"
    timeout: float = 300.0
    langgraph_jobs: int | None = None

    def runs_per_client(self, clients: int, target: str = "streamtap") -> int:
        per_run = self.chunks + 3
        events = self.events_per_cell
        if target == "langgraph-dev":
            events = min(events, self.langgraph_events_per_cell)
        return max(1, round(events / (clients * per_run)))


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    from bench.machine import versions

    out = versions(VERSIONS)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "streamtap"], capture_output=True, text=True
        )
        if head.returncode == 0:
            changed = " + uncommitted changes" if dirty.stdout.strip() else ""
            out["streamtap_commit"] = head.stdout.strip() + changed
    return out


async def _settle(server: ServerProcess, pids: Sequence[int]) -> float | None:
    """The server's CPU once it has stopped working on the cell (two equal reads 50 ms
    apart, at most 1 s): a run's teardown after its last event is its cost too."""
    last = server.cpu_seconds(pids)
    for _ in range(20):
        await asyncio.sleep(0.05)
        now = server.cpu_seconds(pids)
        if now == last:
            break
        last = now
    return last


async def _cell(server: ServerProcess, clients: int, settings: Settings) -> LoadResult:
    """One cell: ``clients`` clients against one server, its CPU and RSS around it."""
    pids = server.pids()
    server.reset_peak(pids)
    before = server.cpu_seconds(pids)
    with RssSampler(server, pids) as sampler:
        result = await run_load(
            server.url,
            clients,
            settings.chunks,
            settings.timeout,
            runs=settings.runs_per_client(clients, server.target),
            target=server.target,
        )
        after = await _settle(server, pids)
    if before is not None and after is not None:
        result.server_cpu = after - before
    result.peak_rss_kb = max(sampler.peak_kb, server.hwm_kb(pids))
    result.rss_after_kb = server.rss_kb(pids)
    return result


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in rows if isinstance(row.get(key), (int, float))]
    return round(statistics.median(values), 2) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


MEDIAN_KEYS = (
    "server_cpu_us_per_event",
    "events_per_second",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "latency_ms_p50",
    "latency_ms_p99",
    "peak_rss_mb",
    "rss_after_mb",
)
RATIO_KEYS = ("server_cpu_us_per_event", "events_per_second", "ttft_ms_p50", "ttft_ms_p99")
CPU_TARGET = 1.3  # streamtap CPU per event over the floor's, at every C
RSS_TARGET = 2.0  # streamtap peak RSS over langgraph dev's, at the largest C


def medians_of(
    cells: list[dict[str, Any]],
    by: str,
    names: Sequence[str],
    concurrency: Sequence[int],
    keys: Sequence[str] = MEDIAN_KEYS,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: {C: medians}}`` over the rounds' cells (``cell[by]`` the name), each with
    its number of rounds and failures."""
    medians: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        medians[name] = {}
        for clients in concurrency:
            rows = [c for c in cells if c[by] == name and c["clients"] == clients]
            med = {key: _median(rows, key) for key in keys}
            med["rounds"] = len(rows)
            med["failures"] = sum(row["failures"] for row in rows)
            medians[name][str(clients)] = med
    return medians


def rotation(
    rnd: int, concurrency: Sequence[int], names: Sequence[str]
) -> list[tuple[int, list[str]]]:
    """Round ``rnd``'s cells: for each C the names in turn, starting one further along
    with each round and each C."""
    out = []
    for index, clients in enumerate(concurrency):
        shift = (rnd + index) % len(names)
        out.append((clients, [*names[shift:], *names[:shift]]))
    return out


def summarize(results: dict[str, Any]) -> None:
    """Medians over rounds per (target, C), ratios and the two targets' checks, in place."""
    settings = results["config"]
    cells = [cell for rnd in results["rounds"] for cell in rnd["cells"]]
    medians = medians_of(cells, "target", settings["targets"], settings["concurrency"])
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for other in settings["targets"]:
        if other == "streamtap" or "streamtap" not in medians:
            continue
        ratios[f"streamtap/{other}"] = {
            str(c): {
                key: _ratio(medians["streamtap"][str(c)][key], medians[other][str(c)][key])
                for key in (*RATIO_KEYS, "peak_rss_mb")
            }
            for c in settings["concurrency"]
        }
    checks = []
    for c in settings["concurrency"]:
        value = ratios.get("streamtap/floor", {}).get(str(c), {}).get("server_cpu_us_per_event")
        checks.append(
            {
                "what": f"streamtap / floor server CPU per event, C = {c}",
                "value": value,
                "limit": CPU_TARGET,
                "met": None if value is None else value <= CPU_TARGET,
            }
        )
    top = str(max(settings["concurrency"]))
    value = ratios.get("streamtap/langgraph-dev", {}).get(top, {}).get("peak_rss_mb")
    checks.append(
        {
            "what": f"streamtap / langgraph dev peak RSS, C = {top}",
            "value": value,
            "limit": RSS_TARGET,
            "met": None if value is None else value <= RSS_TARGET,
        }
    )
    results["medians"], results["ratios"], results["checks"] = medians, ratios, checks


def langgraph_dev_config(jobs: int) -> dict[str, Any]:
    """How the ``langgraph dev`` peer is run, for a results file's ``config``."""
    return {
        "command": "langgraph dev --no-browser --no-reload (run_server in process)",
        "n_jobs_per_worker": jobs,
        "env": dict(_LANGGRAPH_ENV),
    }


def unmeasured_notes(measured: Sequence[str]) -> list[str]:
    """A results file's note when the ``langgraph dev`` peer was left out, and why."""
    if "langgraph-dev" in measured:
        return []
    why = "" if langgraph_dev_available() else f" (not installed: {INSTALL_HINT})"
    return ["langgraph dev was not measured" + why]


def rounds_line(name: str, cells: Sequence[str], settings: Any, size: str) -> str:
    """The progress line a benchmark starts with: its cells, concurrencies and rounds."""
    total = len(cells) * len(settings.concurrency) * settings.rounds
    return (
        f"{name}: {', '.join(cells)} x C = {', '.join(map(str, settings.concurrency))} x "
        f"{settings.rounds} rounds ({total} cells of {size})"
    )


def measure(settings: Settings, progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """The whole benchmark: one server per target, a warm-up run each, then ``rounds``
    rounds of every (C, target) cell, targets in rotating order; results as JSON data."""
    from bench.machine import load_average, machine

    began = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": _versions(),
        "config": {
            **asdict(settings),
            "runs_per_client": {str(c): settings.runs_per_client(c) for c in settings.concurrency},
            "langgraph_runs_per_client": {
                str(c): settings.runs_per_client(c, "langgraph-dev") for c in settings.concurrency
            },
            "events_per_run": {t: settings.chunks + 2 + FRAMING[t]["end"] for t in TARGETS},
            "uvicorn": dict(_UVICORN),
            "langgraph_dev": langgraph_dev_config(settings.langgraph_jobs),
        },
        "notes": [],
        "warmup": {},
        "rounds": [],
        "failures": [],
    }
    results["notes"] += unmeasured_notes(settings.targets)
    total = len(settings.targets) * len(settings.concurrency) * settings.rounds
    progress(
        rounds_line(
            "server_load", settings.targets, settings, f"~{settings.events_per_cell:,} events"
        )
    )
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}
        for target in settings.targets:
            server = ServerProcess(
                settings.chunks, settings.delay, target, settings.langgraph_jobs, settings.model
            )
            stack.callback(server.__exit__)
            server.start()
            servers[target] = server
        for target, server in servers.items():
            server.wait_ready(timeout=120)
            warm = asyncio.run(
                run_load(server.url, 1, settings.chunks, settings.timeout, target=target)
            )
            results["warmup"][target] = {
                "failures": warm.failures,
                "rss_mb": round(server.rss_kb() * 1024 / MB, 1),
            }
            results["failures"] += [f"{target} warm-up: {f}" for f in warm.failures]
            if server.workdir is not None:
                with contextlib.suppress(OSError, ValueError):
                    path = Path(server.workdir, "settings.json")
                    seen = json.loads(path.read_text(encoding="utf-8"))
                    results["config"]["langgraph_dev"]["running_with"] = seen
                    results["notes"].append(
                        f"`langgraph dev` ran at most {seen['n_jobs_per_worker']} run(s) at a time "
                        "(N_JOBS_PER_WORKER; 1 is its default without --n-jobs-per-worker, "
                        "`--langgraph-jobs N` here); the others wait in its queue, which "
                        "looks for pending runs every 0.5 s when idle: its TTFT includes that"
                    )
            progress(f"  {target} up (pid {server.pid}), warm-up run done")
        done = 0
        for rnd in range(settings.rounds):
            record: dict[str, Any] = {"round": rnd + 1, "order": {}, "cells": []}
            for clients, order in rotation(rnd, settings.concurrency, settings.targets):
                record["order"][str(clients)] = order
                for target in order:
                    result = asyncio.run(_cell(servers[target], clients, settings))
                    row = {"target": target, **result.report()}
                    record["cells"].append(row)
                    label = f"round {rnd + 1} C={clients} {target}"
                    results["failures"] += [f"{label}: {f}" for f in result.failures[:20]]
                    done += 1
                    progress(
                        f"  [{done}/{total}] {label}: {row['events']:,} events in "
                        f"{row['seconds']:.1f} s, {row['server_cpu_us_per_event']} µs CPU/event, "
                        f"peak {row['peak_rss_mb']} MB"
                        + (f", {row['failures']} FAILED" if row["failures"] else "")
                    )
            results["rounds"].append(record)
        results["final_rss_mb"] = {
            target: round(server.rss_kb() * 1024 / MB, 1) for target, server in servers.items()
        }
        for server in servers.values():  # what langgraph dev wrote to disk (its persistence)
            if server.workdir is not None:
                files = sorted(Path(server.workdir).rglob("*"))
                results["config"]["langgraph_dev"]["files_at_end"] = {
                    str(f.relative_to(server.workdir)): f.stat().st_size
                    for f in files
                    if f.is_file() and f.name not in ("graph.py", "langgraph.json", "settings.json")
                }
    results["machine"]["load_average_end"] = load_average()
    results["seconds"] = round(time.perf_counter() - began, 1)
    summarize(results)
    return results


# ---------------------------------------------------------------- report (stdlib only)

LABELS = {"streamtap": "streamtap", "floor": "floor", "langgraph-dev": "`langgraph dev`"}


def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def table(results: dict[str, Any]) -> str:
    """The medians as a Markdown table, then the targets' checks (what the docs show)."""
    config, medians = results["config"], results["medians"]
    floor = medians.get("floor", {})
    rows = [
        "| clients | server | CPU µs/event | ÷ floor | events/s | TTFT p50 (ms) | TTFT p99 (ms) "
        "| latency p50 / p99 (ms) | peak RSS (MB) | RSS after (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in config["concurrency"]:
        for target in config["targets"]:
            m = medians[target][str(clients)]
            base = floor.get(str(clients), {}).get("server_cpu_us_per_event")
            cpu = m["server_cpu_us_per_event"]
            over = _fmt(round(cpu / base, 2), ".2f") if cpu is not None and base else "—"
            rows.append(
                f"| {clients} | {LABELS.get(target, target)} | {_fmt(cpu)} | {over} | "
                f"{_fmt(m['events_per_second'])} | {_fmt(m['ttft_ms_p50'], ',.1f')} | "
                f"{_fmt(m['ttft_ms_p99'], ',.1f')} | {_fmt(m['latency_ms_p50'], ',.1f')} / "
                f"{_fmt(m['latency_ms_p99'], ',.1f')} | {_fmt(m['peak_rss_mb'], ',.1f')} | "
                f"{_fmt(m['rss_after_mb'], ',.1f')} |"
            )
    rows += ["", "| target | measured | limit | met |", "|---|---:|---:|---|"]
    for check in results["checks"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[check["met"]]
        rows.append(
            f"| {check['what']} | {_fmt(check['value'], '.2f')} | ≤ {check['limit']} | {met} |"
        )
    final = results.get("final_rss_mb", {})
    if final:
        rows += [
            "",
            "RSS of each server at the end (MB): "
            + ", ".join(f"{LABELS.get(t, t)} {_fmt(v, ',.1f')}" for t, v in final.items())
            + ".",
        ]
    for note in results.get("notes", []):
        rows += ["", f"*{note}.*"]
    return "\n".join(rows)


# ---------------------------------------------------------------- command line


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.server_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument(
        "--targets",
        help=f"comma-separated, of {','.join(TARGETS)} (default: all three when "
        "langgraph-api is installed, else streamtap,floor)",
    )
    parser.add_argument(
        "--against",
        choices=["langgraph-dev"],
        help="also run LangGraph's own server; fails when langgraph-cli[inmem] is missing",
    )
    parser.add_argument("--concurrency", type=_ints, default=defaults.concurrency)
    parser.add_argument("--chunks", type=int, default=defaults.chunks)
    parser.add_argument(
        "--events-per-cell",
        type=int,
        default=defaults.events_per_cell,
        help=f"events per cell (langgraph dev: at most {defaults.langgraph_events_per_cell:,})",
    )
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--delay", type=float, default=0.0, help="model pause per chunk (s)")
    parser.add_argument(
        "--model",
        choices=MODELS,
        default=defaults.model,
        help="fake: streamtap's FakeChatModel; langchain: a model firing its own callbacks",
    )
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="per cell (s)")
    parser.add_argument(
        "--langgraph-jobs",
        type=int,
        default=None,
        help="langgraph dev's --n-jobs-per-worker (default: its own default)",
    )
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", default="streamtap", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run bench.cluster_load instead (in memory vs Postgres + Redis, one process vs "
        "three); the other options are its own: python -m bench.cluster_load --help",
    )
    parser.add_argument(
        "--protocol",
        action="store_true",
        help="run bench.protocol_load instead (the Agent Streaming Protocol's thread streams "
        "against the classic run stream, and against langgraph dev); the other options are "
        "its own: python -m bench.protocol_load --help",
    )
    parser.add_argument(
        "--frontends",
        action="store_true",
        help="run bench.frontends_load instead (the AI SDK, AG-UI and OpenAI-compatible "
        "routes against the classic run stream and the protocol: CPU, events and bytes per "
        "answer); the other options are its own: python -m bench.frontends_load --help",
    )
    argv = sys.argv[1:] if argv is None else argv
    if "--frontends" in argv:
        from bench.frontends_load import main as frontends_main

        return frontends_main([arg for arg in argv if arg != "--frontends"])
    if "--cluster" in argv:
        from bench.cluster_load import main as cluster_main

        return cluster_main([arg for arg in argv if arg != "--cluster"])
    if "--protocol" in argv:
        from bench.protocol_load import main as protocol_main

        return protocol_main([arg for arg in argv if arg != "--protocol"])
    args = parser.parse_args(argv)
    if args.serve:
        if args.target == "langgraph-dev":
            _serve_langgraph(args.port, args.workdir, args.langgraph_jobs)
        else:
            _serve(args.target, args.port, args.chunks, args.delay, args.model)
        return 0

    available = langgraph_dev_available()
    if args.targets:
        targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        unknown = [t for t in targets if t not in TARGETS]
        if unknown or len(set(targets)) != len(targets) or not targets:
            parser.error(f"--targets: a comma-separated list of {', '.join(TARGETS)}")
        if args.against and args.against not in targets:
            targets += (args.against,)
    else:
        targets = TARGETS if available or args.against else TARGETS[:2]
    if "langgraph-dev" in targets and not available:
        parser.error(f"langgraph dev (langgraph-api) is not installed: {INSTALL_HINT}")
    if not args.concurrency or not all(1 <= c <= 1000 for c in args.concurrency):
        parser.error("--concurrency: numbers of clients, each 1..1000")
    if not 1 <= args.chunks <= 10_000 or not 1 <= args.rounds <= 20:
        parser.error("--chunks must be 1..10000 and --rounds 1..20")
    if not 1 <= args.events_per_cell <= 1_000_000:
        parser.error("--events-per-cell must be 1..1000000")
    settings = Settings(
        targets=targets,
        concurrency=tuple(args.concurrency),
        chunks=args.chunks,
        events_per_cell=args.events_per_cell,
        rounds=args.rounds,
        delay=args.delay,
        model=args.model,
        timeout=args.timeout,
        langgraph_jobs=args.langgraph_jobs,
    )
    full = replace(settings, targets=defaults.targets) == defaults
    if args.write and not (full and targets == (TARGETS if available else TARGETS[:2])):
        parser.error(
            f"--write records the full default benchmark in {RESULTS.relative_to(ROOT)}; "
            "use --json PATH for other runs"
        )
    return report(measure(settings), [RESULTS if args.write else None, args.json])


def report(
    results: dict[str, Any],
    paths: Sequence[Path | None],
    render: Callable[[dict[str, Any]], str] = table,
) -> int:
    """Write the results to ``paths`` (``None`` skipped), print the table and the first
    failures; the exit status: 1 when anything failed."""
    for path in filter(None, paths):
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        _progress(f"(written to {path})")
    print(render(results))
    for failure in results["failures"][:20]:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
