"""``streamtap local start|status|stop``: a background llama.cpp server for other tools.

Anything that speaks the OpenAI or Anthropic API can then point at the printed base URLs
until ``streamtap local stop``. ``streamtap.local`` is imported only when a subcommand
runs, so ``streamtap --help`` works without the ``local`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamtap.local import LocalServer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the local model server (llama.cpp + SmolLM2) in the background",
        description=(
            "Run llama.cpp's server with SmolLM2-135M on 127.0.0.1 in the background. "
            "Point OpenAI or Anthropic clients at the printed base URLs (any API key); "
            "the server runs until 'streamtap local stop'."
        ),
    )
    actions = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")

    start = actions.add_parser("start", help="start the server and print its base URLs")
    start.add_argument(
        "--model", default="smollm2", help="model name (smollm2) or path to a .gguf file"
    )
    start.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: free)")
    start.add_argument("--json", action="store_true", help="print the server as JSON")
    start.set_defaults(func=_start)

    status = actions.add_parser("status", help="show the running server; exit 1 if none")
    status.add_argument("--json", action="store_true", help="print the server as JSON")
    status.set_defaults(func=_status)

    stop = actions.add_parser("stop", help="stop the running server")
    stop.set_defaults(func=_stop)


def _as_json(server: LocalServer | None) -> str:
    if server is None:
        return json.dumps({"running": False})
    record: dict[str, Any] = {
        "running": True,
        "pid": server.pid,
        "port": server.port,
        "model": server.model,
        "alias": server.alias,
        "base_url": server.base_url,
        "anthropic_base_url": server.anthropic_base_url,
        "log_path": str(server.log_path),
    }
    return json.dumps(record, indent=2)


def _describe(server: LocalServer) -> str:
    return (
        f"local server running: pid {server.pid}, model {server.alias}\n"
        f"  OpenAI base URL:    {server.base_url}\n"
        f"  Anthropic base URL: {server.anthropic_base_url}\n"
        f"  log:                {server.log_path}"
    )


def _fail(exc: Exception) -> int:
    print(f"streamtap local: error: {exc}", file=sys.stderr)
    return 1


def _start(args: argparse.Namespace) -> int:
    from streamtap import local

    try:
        server = local.start(args.model, port=args.port)
    except local.LocalServerError as exc:
        return _fail(exc)
    print(_as_json(server) if args.json else _describe(server))
    return 0


def _status(args: argparse.Namespace) -> int:
    from streamtap import local

    server = local.status()
    if args.json:
        print(_as_json(server))
    else:
        print(_describe(server) if server else "no local server running")
    return 0 if server else 1


def _stop(args: argparse.Namespace) -> int:
    from streamtap import local

    server = local.stop()
    print(f"stopped local server (pid {server.pid})" if server else "no local server running")
    return 0
