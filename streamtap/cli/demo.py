"""``streamtap demo``: watch one question answered by three vendors' wire formats.

Until a live model is configured it replays the recorded fixtures in
``fixtures/`` through the official SDKs (an httpx2 ``MockTransport`` stands in
for the network), paced like a real stream, so the demo needs no key.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
        from streamtap.server.demo import run_web_demo

        print(f"chat page: http://{args.host}:{args.port}/", flush=True)
        return run_web_demo(host=args.host, port=args.port)
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
    parser = sub.add_parser("demo", help="stream a demo answer (recorded fixtures, no key needed)")
    parser.add_argument("--delay", type=float, default=0.03, help="seconds between replayed events")
    parser.add_argument(
        "--web", action="store_true", help="start the local model and the chat page server"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.set_defaults(func=run)
