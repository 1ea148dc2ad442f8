"""The server's route table: the LangGraph Platform API, the Agent Streaming Protocol,
and the chat frontends' protocols (each in its own module, mounted beside the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from streamtap.server.ai_sdk import routes as ai_sdk_routes
from streamtap.server.openai_compat import routes as openai_routes

__all__ = ["PROTOCOLS", "api_routes"]

RUN_PATH = "/threads/{thread_id}/runs/{run_id}"


PROTOCOLS = ("langgraph", "ai-sdk", "ag-ui", "openai")
"""What ``create_app(protocols=...)`` can serve: LangGraph's API (the Platform's routes and
the Agent Streaming Protocol, with ``/ok`` and ``/ready``), and each chat frontend's."""


def api_routes(api: Any, protocols: Sequence[str] = PROTOCOLS) -> list[BaseRoute]:
    """The routes of ``api`` (``app._Api``) for ``protocols``: what ``create_app`` serves."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ValueError(f"protocols must name some of {list(PROTOCOLS)}; got {list(protocols)}")
    routes: list[BaseRoute] = [Route("/ok", api.ok), Route("/ready", api.ready)]
    if "langgraph" in protocols:
        routes += _langgraph(api)
    if "ai-sdk" in protocols:
        routes += ai_sdk_routes(api)
    if "ag-ui" in protocols:
        routes += _ag_ui(api)
    if "openai" in protocols:
        routes += openai_routes(api)
    return routes


def _ag_ui(api: Any) -> list[BaseRoute]:
    """AG-UI's route; it needs the ``ag-ui`` extra (``ag-ui-protocol``): without it the
    route answers 501 saying what to install, and the rest of the server is unaffected."""
    try:
        from streamtap.server.ag_ui import routes
    except ImportError as exc:
        missing = f"{exc}"

        async def not_installed(request: Request) -> Response:
            return JSONResponse(
                {
                    "detail": "AG-UI needs the ag-ui extra: pip install 'streamtap[ag-ui]' "
                    f"({missing})"
                },
                status_code=501,
            )

        return [Route("/ag-ui/{graph_id}", not_installed, methods=["POST"])]
    return routes(api)


def _langgraph(api: Any) -> list[BaseRoute]:
    run_path = RUN_PATH
    return [
        Route("/store/items", api.put_item, methods=["PUT"]),
        Route("/store/items", api.get_item, methods=["GET"]),
        Route("/store/items", api.delete_item, methods=["DELETE"]),
        Route("/store/items/search", api.search_items, methods=["POST"]),
        Route("/store/namespaces", api.list_namespaces, methods=["POST"]),
        Route("/info", api.info),
        Route("/assistants", api.create_assistant, methods=["POST"]),
        Route("/assistants/search", api.search_assistants, methods=["POST"]),
        Route("/assistants/count", api.count_assistants, methods=["POST"]),
        Route("/assistants/{assistant_id}", api.get_assistant, methods=["GET"]),
        Route("/assistants/{assistant_id}", api.update_assistant, methods=["PATCH"]),
        Route("/assistants/{assistant_id}", api.delete_assistant, methods=["DELETE"]),
        Route("/assistants/{assistant_id}/versions", api.assistant_versions, methods=["POST"]),
        Route("/assistants/{assistant_id}/latest", api.set_latest_version, methods=["POST"]),
        Route("/assistants/{assistant_id}/graph", api.assistant_graph),
        Route("/assistants/{assistant_id}/schemas", api.assistant_schemas),
        Route("/assistants/{assistant_id}/subgraphs", api.assistant_subgraphs),
        Route("/assistants/{assistant_id}/subgraphs/{namespace}", api.assistant_subgraphs),
        Route("/runs", api.create_run, methods=["POST"]),
        Route("/runs/stream", api.run_stream, methods=["POST"]),
        Route("/runs/wait", api.wait_run, methods=["POST"]),
        Route("/runs/batch", api.create_batch, methods=["POST"]),
        Route("/runs/crons", api.crons, methods=["POST"]),
        Route("/runs/crons/{rest:path}", api.crons, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/threads/{thread_id}/runs/crons", api.crons, methods=["POST"]),
        Route("/threads", api.create_thread, methods=["POST"]),
        Route("/threads/search", api.search_threads, methods=["POST"]),
        Route("/threads/{thread_id}", api.get_thread, methods=["GET"]),
        Route("/threads/{thread_id}", api.delete_thread, methods=["DELETE"]),
        Route("/threads/{thread_id}", api.patch_thread, methods=["PATCH"]),
        Route("/threads/{thread_id}/state", api.thread_state, methods=["GET"]),
        Route("/threads/{thread_id}/state", api.update_thread_state, methods=["POST"]),
        Route("/threads/{thread_id}/state/checkpoint", api.thread_state_at, methods=["POST"]),
        Route("/threads/{thread_id}/state/{checkpoint_id}", api.thread_state, methods=["GET"]),
        Route("/threads/{thread_id}/copy", api.copy_thread, methods=["POST"]),
        Route("/threads/{thread_id}/history", api.thread_history, methods=["GET", "POST"]),
        Route("/threads/{thread_id}/runs", api.list_runs, methods=["GET"]),
        Route("/threads/{thread_id}/runs", api.create_run, methods=["POST"]),
        Route("/threads/{thread_id}/runs/stream", api.run_stream, methods=["POST"]),
        Route("/threads/{thread_id}/runs/wait", api.wait_run, methods=["POST"]),
        Route(run_path, api.get_run),
        Route(f"{run_path}/stream", api.join_stream),
        Route(f"{run_path}/join", api.join_run),
        Route(f"{run_path}/cancel", api.cancel_run, methods=["POST"]),
        Route("/threads/{thread_id}/commands", api.thread_commands, methods=["POST"]),
        Route("/threads/{thread_id}/stream/events", api.thread_events, methods=["POST"]),
        Route("/threads/{thread_id}/stream", api.thread_events, methods=["POST"]),
        WebSocketRoute("/ws", api.websocket),
        WebSocketRoute("/threads/{thread_id}/stream/events", api.thread_socket),
        WebSocketRoute("/threads/{thread_id}/stream", api.thread_socket),
    ]
