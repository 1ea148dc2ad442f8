"""Load benchmark for ``streamtap.server``: many concurrent SSE clients, one server process.

Starts the server (``create_app`` + uvicorn) in a child process on 127.0.0.1, then
``--clients`` concurrent clients each start a stateless run whose scripted model
streams ``--chunks`` chunks, and read it to the end. Each chunk carries the
wall-clock time it was produced, so the client can report the latency the server
adds per event (graph, serialisation, SSE, loopback, client parsing) as p50/p99,
and the total events per second. Every client must get every event, in order.

    python -m bench.server_load --clients 200 --chunks 200

Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadResult", "ServerProcess", "agent_graph", "build_app", "run_load"]


# ---------------------------------------------------------------- server side


def build_app(chunks: int, delay: float) -> Any:
    """A one-node graph whose model streams ``chunks`` time-stamped chunks per run."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    from streamtap.server import create_app

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

    return create_app({"agent": agent_graph(Scripted(n=chunks, pause=delay))}, disconnect_grace=1.0)


def agent_graph(model: Any) -> Any:
    """``START -> agent -> END``: the one node asks ``model`` with the thread's messages."""
    from streamtap.graph import END, START, MessagesState, StateGraph

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile()


def _serve(port: int, chunks: int, delay: float) -> None:
    import uvicorn

    uvicorn.run(
        build_app(chunks, delay),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=4096,
        timeout_keep_alive=30,
    )


class ServerProcess:
    """The server in a child process (so clients and server use separate cores)."""

    def __init__(self, chunks: int, delay: float) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "bench.server_load", "--serve", "--port", str(self.port),
            "--chunks", str(chunks), "--delay", str(delay),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(self.args, cwd=root)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """User+system CPU the server process has used so far (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# ---------------------------------------------------------------- client side


@dataclass
class LoadResult:
    clients: int
    chunks: int
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    client_cpu: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def report(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "chunks_per_answer": self.chunks,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
            "latency_ms_p50": round(self.percentile(0.50) * 1000, 2),
            "latency_ms_p99": round(self.percentile(0.99) * 1000, 2),
            "latency_ms_mean": round(statistics.fmean(self.latencies) * 1000, 2)
            if self.latencies
            else None,
            "server_cpu_seconds": None if self.server_cpu is None else round(self.server_cpu, 2),
            "client_cpu_seconds": round(self.client_cpu, 2),
            "server_cpu_us_per_event": None
            if self.server_cpu is None or not self.events
            else round(self.server_cpu / self.events * 1e6, 1),
            "failures": len(self.failures),
        }


def _sse(lines: Iterator[bytes]) -> Iterator[tuple[str | None, str, Any]]:
    from langgraph_sdk.sse import SSEDecoder

    decoder = SSEDecoder()
    for line in lines:
        part = decoder.decode(line)
        if part is not None and part.event:
            yield part.id, part.event, part.data


async def _one_client(client: Any, index: int, chunks: int, result: LoadResult) -> None:
    """Read one run to the end and check that every event arrived, in order."""
    from langgraph_sdk.sse import BytesLineDecoder

    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": f"client {index}"}]},
        "stream_mode": "messages-tuple",
    }
    ids: list[int] = []
    contents: list[str] = []
    lines = BytesLineDecoder()
    async with client.stream("POST", "/runs/stream", json=body) as response:
        if response.status_code != 200:
            result.failures.append(f"client {index}: HTTP {response.status_code}")
            return
        events: list[str] = []
        async for raw in response.aiter_raw():
            now = time.time()
            for event_id, event, data in _sse(bytes(x).rstrip(b"\n") for x in lines.decode(raw)):
                ids.append(int(event_id or 0))
                events.append(event)
                if event == "messages":
                    chunk = data[0]
                    contents.append(chunk["content"])
                    stamp = chunk.get("additional_kwargs", {}).get("t")
                    if stamp is not None:
                        result.latencies.append(now - float(stamp))
    expected = [f"c{i} " for i in range(chunks)] + [""]
    if ids != list(range(1, len(ids) + 1)):
        result.failures.append(f"client {index}: ids out of order or missing")
    elif contents != expected:
        result.failures.append(f"client {index}: got {len(contents)} chunks, not {len(expected)}")
    elif events[0] != "metadata" or events[-1] != "end" or "error" in events:
        result.failures.append(f"client {index}: stream did not start/end properly")
    result.events += len(ids)


async def run_load(url: str, clients: int, chunks: int, timeout: float = 120.0) -> LoadResult:
    """``clients`` concurrent SSE readers against the server at ``url`` (loopback only)."""
    import httpx

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError("the load benchmark only targets loopback addresses")
    result = LoadResult(clients=clients, chunks=chunks)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        start = time.perf_counter()
        cpu = time.process_time()
        tasks = [
            asyncio.create_task(_one_client(client, i, chunks, result)) for i in range(clients)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_load", description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0, help="model pause per chunk (s)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.port, args.chunks, args.delay)
        return 0
    if not 1 <= args.clients <= 1000 or not 1 <= args.chunks <= 10_000:
        parser.error("--clients must be 1..1000 and --chunks 1..10000")
    with ServerProcess(args.chunks, args.delay) as server:
        before = server.cpu_seconds()
        result = asyncio.run(run_load(server.url, args.clients, args.chunks, args.timeout))
        after = server.cpu_seconds()
        if before is not None and after is not None:
            result.server_cpu = after - before
    print(json.dumps(result.report(), indent=2))
    for failure in result.failures[:10]:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if result.failures else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
