"""``streamtap serve module:attr``: serve compiled graphs over LangGraph Platform's API.

``attr`` is a compiled graph (served under its attribute name), a dict of graph id to
compiled graph, or a zero-argument callable returning either. The server listens on
127.0.0.1 unless ``--host`` says otherwise. The API token is read from the
``STREAMTAP_API_TOKEN`` environment variable so it never shows in ``ps``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve graphs over the LangGraph Platform run-stream API, with a chat page",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("target", metavar="module:attr", help="where the graph(s) live")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8123, help="port (default: 8123)")
    parser.add_argument(
        "--cors-origin", action="append", default=[], help="allow a browser origin (repeatable)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="without a token, also answer this Host name (repeatable; loopback always)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="share runs between processes through Redis"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="keep threads, runs, checkpoints and the store in Postgres (postgresql://...; "
        "needs --redis-url for events): the production layout, any number of processes",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=10,
        help="with --database-url: runs this process executes at once (default 10; more "
        "capacity = more processes)",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --database-url: how long a run stays this process's without a heartbeat "
        "(default 30); then another process retries or fails it",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --database-url: how often a running run's lease is renewed (default 10)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="with --database-url: how many times a run whose process died is retried from "
        "its last checkpoint (default 1)",
    )
    parser.add_argument(
        "--disconnect-grace",
        type=float,
        default=5.0,
        help="seconds a run waits for a dropped client to resume before it is cancelled",
    )
    parser.add_argument(
        "--auth",
        metavar="module:attr",
        default=None,
        help='a langgraph_sdk.Auth object: per-user auth, as langgraph.json\'s "auth"',
    )
    parser.add_argument(
        "--run-log-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="in-memory backend: keep at most this much of each run's events "
        "(default 32 MiB; older ones answer 410)",
    )
    parser.add_argument(
        "--log-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="in-memory backend: all runs' events together (default 64 MiB; "
        "finished runs' logs are dropped first)",
    )
    parser.add_argument(
        "--partial-bound",
        type=int,
        default=16_384,
        metavar="BYTES",
        help="messages mode: past this size a message's messages/partial events are "
        "coalesced (default 16384; 0: never, every chunk as the Platform)",
    )
    parser.add_argument(
        "--partial-interval",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="messages mode: at most one messages/partial per this many seconds for a "
        "message past --partial-bound (default 0.1)",
    )
    parser.add_argument("--no-chat-page", action="store_true", help="serve the API only")
    parser.set_defaults(func=_serve)


def _import_attr(target: str) -> tuple[str, Any]:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"streamtap serve: expected module:attr, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"streamtap serve: cannot import {module_name!r}: {exc}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SystemExit(f"streamtap serve: {module_name!r} has no attribute {attr!r}") from None
    return attr, obj


def load_auth(target: str) -> Any:
    """Import ``module:attr`` naming a ``langgraph_sdk.Auth`` (``--auth``)."""
    from langgraph_sdk import Auth

    _, obj = _import_attr(target)
    if not isinstance(obj, Auth):
        raise SystemExit(
            f"streamtap serve: --auth {target} is a {type(obj).__name__}; expected a "
            "langgraph_sdk.Auth object (auth = Auth(), with @auth.authenticate)"
        )
    return obj


def load_graphs(target: str) -> dict[str, Any]:
    """Import ``module:attr`` and turn it into ``{graph_id: compiled graph}``."""
    attr, obj = _import_attr(target)
    if callable(obj) and not hasattr(obj, "astream"):
        obj = obj()
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "astream"):
        return {attr: obj}
    raise SystemExit(
        f"streamtap serve: {target} is a {type(obj).__name__}; expected a compiled graph "
        "or a dict of them"
    )


def module_transformers(target: str, graphs: Mapping[str, Any]) -> dict[str, Any]:
    """The target module's ``stream_transformers`` export, for each of its graphs (as
    LangGraph's server reads a graph module's)."""
    module = sys.modules.get(target.partition(":")[0])
    factory = getattr(module, "stream_transformers", None)
    if factory is None:
        return {}
    if not callable(factory):
        raise SystemExit(
            f"streamtap serve: {target.partition(':')[0]}.stream_transformers must be a "
            "function returning a list of StreamTransformer classes or instances"
        )
    return {name: factory for name in graphs}


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from streamtap.server import create_app
    except ImportError as exc:
        print(
            f"streamtap serve needs the server extra: pip install 'streamtap[server]' ({exc})",
            file=sys.stderr,
        )
        return 2
    graphs = load_graphs(args.target)
    backend: Any = None
    bounds = {
        name: value
        for name, value in (
            ("max_bytes_per_run", args.run_log_bytes),
            ("max_total_bytes", args.log_bytes),
        )
        if value is not None
    }
    if args.database_url and not args.redis_url:
        raise SystemExit(
            "streamtap serve: --database-url keeps threads and runs in Postgres; each run's "
            "events go through Redis: add --redis-url redis://..."
        )
    if args.redis_url:
        if bounds:
            raise SystemExit(
                "streamtap serve: --run-log-bytes / --log-bytes bound the in-memory backend; "
                "with --redis-url, Redis keeps each run's last 50,000 events (drop them)"
            )
        if args.database_url:
            from streamtap.server.postgres import PostgresBackend

            try:
                backend = PostgresBackend(
                    args.database_url,
                    args.redis_url,
                    lease=args.lease,
                    heartbeat=args.heartbeat,
                    retries=args.retries,
                )
            except ValueError as exc:
                raise SystemExit(f"streamtap serve: {exc}") from None
        else:
            from streamtap.server.redis import RedisBackend

            backend = RedisBackend(args.redis_url)
    elif bounds:
        from streamtap.server import MemoryBackend

        try:
            backend = MemoryBackend(**bounds)
        except ValueError as exc:
            raise SystemExit(f"streamtap serve: --run-log-bytes / --log-bytes: {exc}") from None
    auth = load_auth(args.auth) if args.auth else None
    token = os.environ.get("STREAMTAP_API_TOKEN") or None
    if auth is not None and token is not None:
        raise SystemExit(
            "streamtap serve: give STREAMTAP_API_TOKEN or --auth, not both (an Auth object's "
            "@auth.authenticate can check the token itself)"
        )
    try:
        app = create_app(
            graphs,
            api_token=token,
            auth=auth,
            cors_origins=args.cors_origin,
            allowed_hosts=args.allow_host,
            backend=backend,
            disconnect_grace=args.disconnect_grace,
            chat_page=not args.no_chat_page,
            partial_bound_bytes=args.partial_bound or None,
            partial_interval=args.partial_interval,
            jobs=args.jobs,
            stream_transformers=module_transformers(args.target, graphs),
        )
    except ValueError as exc:
        raise SystemExit(f"streamtap serve: {exc}") from None
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"streamtap: serving {sorted(graphs)} at http://{host}:{args.port}/", flush=True)
    freeze_startup_heap()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now (modules, compiled graphs, the app)
    out of the cyclic collector's generations (``gc.freeze``): they live as long as the
    process, and without this every full collection under load walks them all again.
    About a tenth of the server's CPU per event at 20-100 concurrent streams
    (``python -m bench.server_load``, which starts its servers the same way)."""
    gc.collect()
    gc.freeze()
