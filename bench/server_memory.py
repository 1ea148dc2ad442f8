"""Memory benchmark for ``streamtap.server``: what a run costs the server, in bytes and MB.

The two measurements of issue 19, each against a fresh server process on 127.0.0.1
(``bench.server_load.ServerProcess``), once with the old behaviour and once with the
bounds, side by side:

* ``messages``: one answer of ``--tokens`` tokens streamed in ``messages`` mode, read to
  the end: bytes the client received, ``messages/partial`` events, and the server's RSS
  before and after the run (its log is kept, as for any run) and its peak (``VmHWM``).
* ``abandoned``: ``--runs`` runs each streaming ``--chunks`` custom events of
  ``--chunk-bytes`` whose clients leave after the first event (``on_disconnect=
  "continue"``: the runs finish and their logs are kept); the server's RSS once they
  have finished, and what a client resuming one from its start gets (410 once events
  fell out of the log).

Variants: ``unbounded`` is the behaviour before the bounds (every chunk's partial, a
log capped at 50,000 events but not in bytes); ``bounded`` is ``create_app``'s
defaults (``partial_bound_bytes`` 16 KiB, ``MemoryBackend``'s 32 MiB per run and
256 MiB in all) unless ``--partial-bound`` / ``--run-log-bytes`` say otherwise.

    python -m bench.server_memory            # writes bench/server_memory.json

Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.machine import machine, peak_rss_kb, reset_peak_rss, rss_kb, versions
from bench.server_load import ServerProcess, agent_graph

__all__ = ["Settings", "build_app", "measure", "table"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "server_memory.json"
VARIANTS = ("unbounded", "bounded")
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
MB = 1_000_000


@dataclass(frozen=True)
class Settings:
    tokens: int = 5_000
    runs: int = 3
    chunks: int = 3_000
    chunk_bytes: int = 64 * 1024
    partial_bound: int = 16 * 1024
    partial_interval: float = 0.1
    run_log_bytes: int = 32 * 2**20
    total_log_bytes: int = 256 * 2**20

    def flags(self) -> list[str]:
        return [f"--{name.replace('_', '-')}={value}" for name, value in asdict(self).items()]


def _token(i: int) -> str:
    return f"tok{i:05d} "  # 9 bytes: the 5,000-token answer sent 113.8 MB


# ---------------------------------------------------------------- server side


def build_app(variant: str, settings: Settings) -> Any:
    """The server of one variant: ``answer`` streams a long message, ``bulk`` big
    custom events, ``warm`` one token (run first, so imports are not counted)."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from typing_extensions import TypedDict

    from streamtap.graph import END, START, StateGraph, get_stream_writer
    from streamtap.server import MemoryBackend, create_app

    class Scripted(BaseChatModel):
        n: int

        @property
        def _llm_type(self) -> str:
            return "scripted-memory"

        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            text = "".join(_token(i) for i in range(self.n))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

        async def _astream(
            self, messages: list[BaseMessage], *a: Any, run_manager: Any = None, **k: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            for i in range(self.n):
                await asyncio.sleep(0)
                gen = ChatGenerationChunk(message=AIMessageChunk(content=_token(i)))
                if run_manager is not None:
                    await run_manager.on_llm_new_token(gen.text, chunk=gen)
                yield gen

    def answer(n: int) -> Any:
        return agent_graph(Scripted(n=n))

    class Bulk(TypedDict, total=False):
        done: int

    async def produce(state: Bulk) -> Bulk:
        writer = get_stream_writer()
        blob = "x" * settings.chunk_bytes
        for i in range(settings.chunks):
            writer({"i": i, "data": blob})
            await asyncio.sleep(0)
        return {"done": settings.chunks}

    bulk = StateGraph(Bulk)
    bulk.add_node("produce", produce)
    bulk.add_edge(START, "produce")
    bulk.add_edge("produce", END)
    graphs = {"answer": answer(settings.tokens), "bulk": bulk.compile(), "warm": answer(1)}
    if variant == "unbounded":  # before the bounds: 50,000 events a run, any size
        backend = MemoryBackend(max_bytes_per_run=2**50, max_total_bytes=2**50)
        return create_app(graphs, backend=backend, partial_bound_bytes=None)
    backend = MemoryBackend(
        max_bytes_per_run=settings.run_log_bytes, max_total_bytes=settings.total_log_bytes
    )
    return create_app(
        graphs,
        backend=backend,
        partial_bound_bytes=settings.partial_bound,
        partial_interval=settings.partial_interval,
    )


def _serve(port: int, variant: str, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(build_app(variant, settings), host="127.0.0.1", port=port, log_level="warning")


class MemoryServer(ServerProcess):
    """``ServerProcess`` serving one variant of :func:`build_app`; its RSS from /proc."""

    def __init__(self, variant: str, settings: Settings) -> None:
        super().__init__(chunks=1, delay=0.0)
        self.args = [
            sys.executable, "-m", "bench.server_memory", "--serve", f"--port={self.port}",
            f"--variant={variant}", *settings.flags(),
        ]  # fmt: skip

    def __enter__(self) -> MemoryServer:
        super().__enter__()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        return round(rss_kb(self.pid) * 1024 / MB, 1)

    def peak_mb(self) -> float:
        return round(peak_rss_kb(self.pid) * 1024 / MB, 1)


# ---------------------------------------------------------------- client side


async def _stream(client: Any, body: dict[str, Any]) -> tuple[int, list[tuple[str, Any]]]:
    """Bytes received and (event, data) of one run read to its end."""
    from langgraph_sdk.sse import BytesLineDecoder, SSEDecoder

    received = 0
    events: list[tuple[str, Any]] = []
    lines, decoder = BytesLineDecoder(), SSEDecoder()  # one each: events span reads
    async with client.stream("POST", "/runs/stream", json=body) as response:
        response.raise_for_status()
        async for raw in response.aiter_raw():
            received += len(raw)
            for line in lines.decode(raw):
                part = decoder.decode(bytes(line).rstrip(b"\n"))
                if part is not None and part.event:
                    events.append((part.event, part.data))
    return received, events


async def _settle(server: MemoryServer) -> float:
    """The server's RSS once it is idle (a short pause lets the allocator settle)."""
    await asyncio.sleep(0.3)
    return server.rss_mb()


async def _warm(client: Any, server: MemoryServer) -> float:
    await _stream(client, {"assistant_id": "warm", "input": HUMAN, "stream_mode": "messages"})
    before = await _settle(server)
    reset_peak_rss(server.pid)
    return before


async def _messages(server: MemoryServer, settings: Settings) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=server.url, timeout=300) as client:
        before = await _warm(client, server)
        start = time.perf_counter()
        body = {"assistant_id": "answer", "input": HUMAN, "stream_mode": "messages"}
        received, events = await _stream(client, body)
        seconds = time.perf_counter() - start
        after = await _settle(server)
    partials = [data for event, data in events if event == "messages/partial"]
    whole = "".join(_token(i) for i in range(settings.tokens))
    if not partials or partials[-1][0]["content"] != whole or events[-1][0] != "end":
        raise RuntimeError("the client's last messages/partial is not the whole answer")
    return {
        "bytes_received": received,
        "mb_received": round(received / MB, 2),
        "partial_events": len(partials),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_added_mb": round(after - before, 1),
        "peak_mb": server.peak_mb(),
        "seconds": round(seconds, 2),
    }


async def _abandon(client: Any) -> str:
    """Start a ``bulk`` run, read its first custom event, leave; its run path."""
    body = {
        "assistant_id": "bulk",
        "input": {},
        "stream_mode": "custom",
        "on_disconnect": "continue",
        "stream_resumable": True,
    }
    async with client.stream("POST", "/runs/stream", json=body) as response:
        response.raise_for_status()
        path = str(response.headers["content-location"])
        async for line in response.aiter_lines():
            if line.startswith("event: custom"):
                break
    return path


async def _abandoned(server: MemoryServer, settings: Settings) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=server.url, timeout=300) as client:
        before = await _warm(client, server)
        start = time.perf_counter()
        paths = [await _abandon(client) for _ in range(settings.runs)]
        deadline = time.monotonic() + 300
        for path in paths:
            while (await client.get(path)).json()["status"] in ("pending", "running"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run {path} did not finish in 300 s")
                await asyncio.sleep(0.05)
        seconds = time.perf_counter() - start
        after = await _settle(server)
        async with client.stream(
            "GET", f"{paths[0]}/stream", headers={"Last-Event-ID": "0"}
        ) as response:
            resumed = response.status_code
    return {
        "bytes_streamed_per_run": settings.chunks * settings.chunk_bytes,
        "mb_streamed": round(settings.runs * settings.chunks * settings.chunk_bytes / MB, 1),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_added_mb": round(after - before, 1),
        "peak_mb": server.peak_mb(),
        "resume_from_start_status": resumed,
        "seconds": round(seconds, 2),
    }


def measure(settings: Settings) -> dict[str, Any]:
    """Both scenarios, both variants, each on a fresh server process."""
    out: dict[str, Any] = {
        "machine": machine(),
        "versions": versions(),
        "settings": asdict(settings),
        "messages": {},
        "abandoned": {},
    }
    for scenario, run in (("messages", _messages), ("abandoned", _abandoned)):
        for variant in VARIANTS:
            with MemoryServer(variant, settings) as server:
                out[scenario][variant] = asyncio.run(run(server, settings))
    return out


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (also what the docs show)."""
    s = results["settings"]
    rows = [
        "| scenario | variant | MB sent to the client | server RSS before (MB) | after (MB) "
        "| added (MB) | peak (MB) | resume from start |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {
        "messages": f"one {s['tokens']:,}-token answer, `messages` mode",
        "abandoned": f"{s['runs']} abandoned runs × {s['chunks']:,} × "
        f"{s['chunk_bytes'] // 1024} KB (custom)",
    }
    for scenario, label in names.items():
        for variant in VARIANTS:
            r = results[scenario][variant]
            sent = r.get("mb_received")
            rows.append(
                f"| {label} | {variant} | {'—' if sent is None else f'{sent:,.2f}'} | "
                f"{r['rss_before_mb']:,.1f} | {r['rss_after_mb']:,.1f} | "
                f"{r['rss_added_mb']:+,.1f} | {r['peak_mb']:,.1f} | "
                f"{r.get('resume_from_start_status', '—')} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_memory", description=__doc__)
    defaults = Settings()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=VARIANTS, default="bounded", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = Settings(**{name: getattr(args, name) for name in asdict(defaults)})
    if args.serve:
        _serve(args.port, args.variant, settings)
        return 0
    if not (1 <= settings.tokens <= 50_000 and 1 <= settings.runs <= 10):
        parser.error("--tokens must be 1..50000 and --runs 1..10")
    if not (1 <= settings.chunks <= 50_000 and 1 <= settings.chunk_bytes <= 2**20):
        parser.error("--chunks must be 1..50000 and --chunk-bytes 1..1048576")
    results = measure(settings)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\n(written to {args.json})")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
