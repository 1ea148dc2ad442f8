"""``streamtap chat "prompt"``: one streamed answer, live, with a usage line at the end.

The prompt runs through a one-node graph, so ``--stream-mode`` takes the graph's modes
(``messages`` for tokens, ``updates``, ``values``, ``custom``, ``tasks``, ``debug``).
Without ``--model`` it talks to the local model: the ``streamtap local`` server when one
runs, else a server started for this one call.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_EXIT_ERROR = 1
_EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "chat",
        help="one streamed answer with live tokens and a usage line (default: the local model)",
        description=(
            "Stream one answer to PROMPT and print it as it arrives, then a usage line. "
            "Without --model the local llama.cpp model answers: the 'streamtap local' server "
            "if one runs, else a server started for this call."
        ),
    )
    parser.add_argument("prompt", help="the user message")
    parser.add_argument(
        "--model",
        default=None,
        metavar="SPEC",
        help="model spec, e.g. anthropic:claude-sonnet-4-6 or llamacpp-anthropic:smollm2 "
        "(default: llamacpp:smollm2)",
    )
    parser.add_argument(
        "--stream-mode",
        default="messages",
        metavar="MODES",
        help="comma-separated graph stream modes to show: messages (tokens), updates, values, "
        "custom, tasks, debug (default: messages)",
    )
    parser.add_argument("--system", default=None, help="a system message")
    parser.add_argument("--max-tokens", type=int, default=256, help="answer length cap (256)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    parser.add_argument("--base-url", default=None, help="override the model's base URL")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from rich.console import Console
    except ModuleNotFoundError:
        print(
            "streamtap chat: error: rich is not installed; pip install rich "
            "(it comes with streamtap[local])",
            file=sys.stderr,
        )
        return _EXIT_ERROR

    from streamtap.cli._model import run_model_command
    from streamtap.cli._view import parse_stream_modes

    try:
        modes = parse_stream_modes(args.stream_mode)
    except ValueError as exc:
        print(f"streamtap chat: error: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    console = Console(highlight=False, soft_wrap=True)
    return run_model_command("chat", lambda: _chat(args, console, modes))


def _chat(args: argparse.Namespace, console: Any, modes: list[str]) -> int:
    from streamtap.cli._demo_graph import chat_graph
    from streamtap.cli._model import open_model_for
    from streamtap.cli._view import StreamView

    with open_model_for(args) as opened:
        if opened.started:
            console.print(f"local model: {opened.where}", style="dim")
        view = StreamView(console, show=modes)
        graph = chat_graph(opened.model, system=args.system)
        asked = [*modes, "values"] if "values" not in modes else modes
        for mode, payload in graph.stream({"messages": [("user", args.prompt)]}, stream_mode=asked):
            view.handle(mode, payload)
        view.end_line()
        console.print(view.usage_line(), style="dim")
    return 0
