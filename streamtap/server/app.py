"""The ASGI app: LangGraph Platform's run-stream API over Starlette, plus the chat page.

Routes (the subset of the Platform API that streaming clients use):

- ``POST /runs/stream``, ``POST /threads/{thread_id}/runs/stream``: start a run, stream it (SSE)
- ``GET /threads/{thread_id}/runs/{run_id}/stream``: join or resume (``Last-Event-ID``)
- ``GET /threads/{thread_id}/runs/{run_id}``, ``POST .../cancel``, ``GET /threads/{thread_id}/runs``
- ``POST /threads``, ``POST /threads/search``, ``GET|DELETE /threads/{thread_id}``,
  ``GET /threads/{thread_id}/state``, ``GET|POST /threads/{thread_id}/history``
- ``POST /assistants``, ``POST /assistants/search|count``, ``GET|PATCH|DELETE
  /assistants/{assistant_id}``, ``POST .../versions|latest``, ``GET /ok``, ``GET /info``
- ``GET /ws``: the same runs over a WebSocket
- ``GET /``: the chat page (``/static/...`` its assets)
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from streamtap.server._assistants_api import AssistantRoutes
from streamtap.server._auth import (
    AUTH_SCOPE_KEY,
    AuthGate,
    AuthMiddleware,
    filter_matches,
)
from streamtap.server._errors import error_handlers
from streamtap.server._graphs import GraphEntry, attach_transformers
from streamtap.server._guard import RequestGuard
from streamtap.server._http import (
    PUBLIC_PATHS,
    ApiError,
    ClosingResponse,
    TokenGuard,
    json_response,
    token_ok,
)
from streamtap.server._layout import choose_backend, open_shared_state, shared_protocol_logs
from streamtap.server._logs import mask_logs
from streamtap.server._proto_routes import ProtocolRoutes
from streamtap.server._records import (
    EventsExpiredError,
    RunRecord,
    UnknownEventIdError,
)
from streamtap.server._routes import PROTOCOLS, api_routes
from streamtap.server._runner import (
    PARTIAL_BOUND_BYTES,
    PARTIAL_INTERVAL,
    RunManager,
    ThreadBusy,
)
from streamtap.server._schema import (
    RunRequest,
)
from streamtap.server._serde import loads
from streamtap.server._store_api import StoreRoutes
from streamtap.server._threads_api import ThreadRoutes
from streamtap.server._ws import websocket_run
from streamtap.server.backend import RunBackend

__all__ = ["ApiError", "create_app"]

_STATIC = Path(__file__).parent / "static"

log = logging.getLogger("streamtap.server")


class _Api(ThreadRoutes, StoreRoutes, AssistantRoutes, ProtocolRoutes):
    """Route handlers; one instance per app (runs, assistants, sockets; threads in
    ``ThreadRoutes``)."""

    async def _run(self, request: Request, action: str = "read") -> RunRecord:
        params = request.path_params
        return await self.readable_run(request, params["run_id"], params["thread_id"], action)

    async def readable_run(
        self, conn: HTTPConnection, run_id: str, thread_id: str | None, action: str = "read"
    ) -> RunRecord:
        """The run, if the caller may ``action`` it (custom auth: its thread's filter, or
        for a stateless run its own metadata); hidden ones answer as missing ones."""
        run = await self.backend.get_run(run_id)
        missing = ApiError(404, "Run not found (unknown id, or its events have expired)")
        if run is None or (thread_id is not None and run.thread_id != thread_id):
            raise missing
        if self.auth is not None:
            value = {"thread_id": None if run.stateless else run.thread_id, "run_id": run_id}
            filters = await self._authorize(conn, "threads", action, value)
            owner = run.metadata
            if not run.stateless:
                thread = await self.backend.get_thread(run.thread_id)
                owner = thread.metadata if thread is not None else {}
            if filters and not filter_matches(owner, filters):
                raise missing
        return run

    async def identify(self, conn: HTTPConnection, authorization: str | None) -> None:
        """A socket's custom-auth identity, from its headers or its first frame."""
        if self.auth is not None:
            conn.scope[AUTH_SCOPE_KEY] = await self.auth.authenticate(
                conn.scope, authorization=authorization
            )

    def _stream(self, request: Request, run: RunRecord, after: str | None) -> Any:
        """SSE of the run's log after ``after``, with the Platform's run headers."""
        base = request.scope.get("root_path", "")
        run_path = f"{base}/threads/{run.thread_id}/runs/{run.run_id}"
        backend = self.backend

        response = EventSourceResponse(
            backend.read_sse(run.run_id, after),
            headers={"Location": f"{run_path}/stream", "Content-Location": run_path},
            ping=self.ping_interval,
            # the Platform's idle comment, on which the JS SDK arms its reconnect timer
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep="\n"),
            sep="\n",
        )

        async def detach() -> None:
            await self.manager.detach(run)

        return ClosingResponse(response, detach)

    # ------------------------------------------------------------------ runs

    async def _admit(self, request: Request, *, wait: bool = False) -> RunRecord:
        """Start the run a request asks for: its graph known, its thread there, the runs
        already going on it handled by the request's multitask strategy."""
        thread_id: str | None = request.path_params.get("thread_id")
        req = self._validate(RunRequest, await self._body(request))
        if wait and "values" not in req.modes:  # runs.wait answers the last values
            req = req.model_copy(update={"stream_mode": [*req.modes, "values"]})
        return await self.launch(request, req, thread_id)

    async def launch(
        self, conn: HTTPConnection, req: RunRequest, thread_id: str | None
    ) -> RunRecord:
        """Admit a run (HTTP or WebSocket alike): its graph known, the caller allowed
        (custom auth may stamp its metadata and hides others' threads), its thread there,
        the runs already going on it handled by the request's multitask strategy."""
        req, entry = await self.run_assistant(req, conn)  # its config / context under the run's
        if self.auth is not None:
            req = await self._authorize_run(conn, req, thread_id)
        if thread_id is not None:
            thread = await self.manager.ensure_thread(
                thread_id, create=req.if_not_exists == "create", metadata=req.metadata
            )
            if thread is None:
                raise ApiError(
                    404,
                    f"Thread {thread_id!r} not found; create it with POST /threads "
                    "or pass if_not_exists='create'",
                )
        return await self._start(req, entry, thread_id)

    async def _authorize_run(
        self, conn: HTTPConnection, req: RunRequest, thread_id: str | None
    ) -> RunRequest:
        """``threads:create_run`` as the Platform asks it; the user then rides in the
        run's ``configurable`` (``langgraph_auth_user``...), where ``runtime.server_info``
        and nodes read it. A client cannot set those keys: they are overwritten."""
        value: dict[str, Any] = {
            "thread_id": thread_id,
            "assistant_id": req.assistant_id,
            "run_id": None,
            "status": "pending",
            "metadata": dict(req.metadata or {}),
            "prevent_insert_if_inflight": True,
            "multitask_strategy": req.multitask_strategy or "enqueue",
            "if_not_exists": req.if_not_exists or "reject",
            "after_seconds": None,
            "kwargs": req.model_dump(include={"input", "command", "config", "context"}),
        }
        filters = await self._authorize(conn, "threads", "create_run", value)
        if thread_id is not None and filters:
            existing = await self.backend.get_thread(thread_id)
            if existing is not None and not filter_matches(existing.metadata, filters):
                raise ApiError(404, f"Thread {thread_id!r} not found; create it with POST /threads")
        who = conn.scope[AUTH_SCOPE_KEY]
        config = dict(req.config or {})
        config["configurable"] = {
            **(config.get("configurable") or {}),
            "langgraph_auth_user": who,
            "langgraph_auth_user_id": who.identity,
            "langgraph_auth_permissions": list(who.permissions),
        }
        return req.model_copy(update={"metadata": value["metadata"], "config": config})

    async def _start(self, req: RunRequest, entry: GraphEntry, thread_id: str | None) -> RunRecord:
        after: list[str] = []
        start: str | None = None
        try:
            if thread_id is not None and self.manager.queued is None:
                after, start = await self.manager.make_room(
                    thread_id, req.multitask_strategy, entry
                )
            return await self.manager.start(
                req, entry, thread_id, after=after, from_checkpoint=start
            )
        except ThreadBusy as exc:  # reject: the thread has a run going
            raise ApiError(409, str(exc)) from None

    async def run_stream(self, request: Request) -> Any:
        run = await self._admit(request)
        await self.manager.attach(run.run_id)
        return self._stream(request, run, None)

    async def create_run(self, request: Request) -> Response:
        """``POST /threads/{id}/runs``, ``POST /runs``: a background run; its events stay
        readable (``join_stream``) and its end awaitable (``join``)."""
        run = await self._admit(request)
        return json_response(run.to_json(), headers=_run_headers(request, run))

    async def wait_run(self, request: Request) -> Response:
        """``POST .../runs/wait``: run to the end; answer its last ``values`` (interrupts
        included), or ``{"__error__": {...}}`` for a failed run, as the Platform does."""
        run = await self._admit(request, wait=True)
        return json_response(await self._outcome(run), headers=_run_headers(request, run))

    async def join_run(self, request: Request) -> Response:
        """``GET .../runs/{run_id}/join``: wait for the run; the thread's values then."""
        run = await self._run(request)
        outcome = await self._outcome(run)
        if not run.stateless and not (isinstance(outcome, dict) and "__error__" in outcome):
            thread = await self._thread(run.thread_id)
            if (graph := self._thread_graph(thread)) is not None:
                state = await graph.state(run.thread_id, secrets=self.manager.secrets)
                return json_response(state["values"])
        return json_response(outcome)

    async def _outcome(self, run: RunRecord) -> Any:
        """The run's last ``values`` (or error) once it has ended."""
        last: Any = None
        try:
            async for batch in self.backend.read(run.run_id, None):
                for event in batch:
                    if event.event == "values":
                        last = loads(event.data)
                    elif event.event == "error":
                        last = {"__error__": loads(event.data)}
        except LookupError:  # its events expired: a thread's values still answer a join
            await self.manager.wait(run.run_id)
        return last

    async def join_stream(self, request: Request) -> Any:
        run = await self._run(request)
        last = request.headers.get("last-event-id") or None
        if last is None and not run.stream_resumable:
            last = await self.backend.last_event_id(run.run_id)
        try:
            await self.backend.check_cursor(run.run_id, last)
        except UnknownEventIdError as exc:
            raise ApiError(400, str(exc)) from None
        except EventsExpiredError as exc:
            raise ApiError(410, str(exc)) from None
        await self.manager.attach(run.run_id)
        return self._stream(request, run, last)

    async def get_run(self, request: Request) -> Response:
        return json_response((await self._run(request)).to_json())

    async def list_runs(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        await self._owned_thread(request, thread_id, "search", {"thread_id": thread_id})
        runs = await self.backend.list_runs(thread_id)
        return json_response(
            [r.to_json() for r in sorted(runs, key=lambda r: r.created_at, reverse=True)]
        )

    async def cancel_run(self, request: Request) -> Response:
        """Stop a run: ``action=interrupt`` (the default) keeps what it saved, ``rollback``
        puts the thread back where the run started; ``wait=1`` answers once it stopped
        (202, no body, either way)."""
        run = await self._run(request, "update")
        action = request.query_params.get("action", "interrupt")
        if action not in ("interrupt", "rollback"):
            raise ApiError(422, "action must be 'interrupt' or 'rollback'", fields=["action"])
        wait = request.query_params.get("wait") in ("1", "true", "True")
        if not run.done:
            await self.manager.cancel(run.run_id, action)
            if wait or action == "rollback":
                await self.manager.wait(run.run_id)
        if action == "rollback" and not run.stateless:
            entry = self._entry(run.graph_id)
            await entry.roll_back(run.thread_id, [run.run_id], fork=True)
            await self.backend.update_thread(run.thread_id, status="idle")
        return Response(status_code=202)

    async def create_batch(self, request: Request) -> Response:
        """``POST /runs/batch``: several stateless background runs at once."""
        body = await self._raw_json(request)
        if not isinstance(body, list) or not all(isinstance(b, dict) for b in body):
            raise ApiError(422, "The body must be a list of run objects", fields=["body"])
        runs = []
        for item in body:
            runs.append(await self.launch(request, self._validate(RunRequest, item), None))
        return json_response([r.to_json() for r in runs])

    async def crons(self, request: Request) -> Response:
        raise ApiError(
            501,
            "Crons are not served: streamtap serve has no scheduler. Call POST /runs/wait "
            "(or /threads/{thread_id}/runs/wait) from your own scheduler (cron, systemd timers, "
            "a task queue) instead.",
        )

    # ------------------------------------------------------------------ assistants

    async def ok(self, request: Request) -> Response:
        return json_response({"ok": True})

    async def ready(self, request: Request) -> Response:
        """Readiness, for a load balancer or an orchestrator: 200 while every part the
        backend needs answers, else 503 naming the part that does not (``/ok`` is
        liveness only: the process answers)."""
        parts = await self.backend.check()
        failing = {name: why for name, why in parts.items() if why is not None}
        body: dict[str, Any] = {
            "ok": not failing,
            "parts": {name: why or "ok" for name, why in parts.items()},
        }
        if failing:
            body["error"] = "; ".join(f"{name}: {why}" for name, why in failing.items())
        return json_response(body, 503 if failing else 200)

    async def info(self, request: Request) -> Response:
        from streamtap import __version__

        return json_response(
            {"version": __version__, "server": "streamtap", "flags": {"assistants": True}}
        )

    async def index(self, request: Request) -> Response:
        return FileResponse(_STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def websocket(self, websocket: WebSocket) -> None:
        await websocket_run(
            websocket,
            self.manager,
            api_token=self.api_token,
            max_message_bytes=self.max_body_bytes,
            token_ok=token_ok,
            door=self,
            pending=self.pending_sockets,
            first_frame_timeout=self.first_frame_timeout,
        )


def _run_headers(request: Request, run: RunRecord) -> dict[str, str]:
    """Where the SDK re-asks for a run it lost the answer to (``request_reconnect``)."""
    base = request.scope.get("root_path", "")
    path = f"{base}/threads/{run.thread_id}/runs/{run.run_id}"
    return {"Location": f"{path}/join", "Content-Location": path}


def _check_partials(bound: int | None, interval: float) -> None:
    """``create_app``'s ``messages/partial`` bound, refused with what to pass instead."""
    if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 1):
        raise ValueError(
            f"partial_bound_bytes must be a whole number of bytes >= 1 (e.g. 16_384), or None "
            f"to send the whole message with every chunk as the Platform does; got {bound!r}"
        )
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval < 0
    ):
        raise ValueError(
            "partial_interval must be a finite number of seconds >= 0 (e.g. 0.1; 0 sends "
            f"every partial); got {interval!r}"
        )


def create_app(
    graphs: Mapping[str, Any],
    *,
    checkpointer: Any | None = None,
    store: Any | None = None,
    api_token: str | None = None,
    cors_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    backend: RunBackend | None = None,
    disconnect_grace: float = 5.0,
    max_body_bytes: int = 1_048_576,
    ping_interval: float = 5.0,
    chat_page: bool = True,
    ws_first_frame_timeout: float = 10.0,
    max_pending_sockets: int = 100,
    auth: Any | None = None,
    partial_bound_bytes: int | None = PARTIAL_BOUND_BYTES,
    partial_interval: float = PARTIAL_INTERVAL,
    database_url: str | None = None,
    redis_url: str | None = None,
    jobs: int = 10,
    stream_transformers: Mapping[str, Callable[[], Sequence[Any]]] | None = None,
    protocols: Sequence[str] = PROTOCOLS,
) -> Starlette:
    r"""Serve compiled graphs (``streamtap.graph`` or LangGraph) over the Platform's API.

    ``graphs`` maps a graph id (what clients pass as ``assistant_id``) to a compiled
    graph. ``checkpointer`` keeps thread state for every graph (default: the graph's
    own, or an in-memory saver of the graph's library). ``store`` (a LangGraph ``BaseStore``,
    default an ``InMemoryStore``) serves ``/store/...`` and is the store of every graph
    compiled without its own. ``backend`` stores runs and
    their events (default: :class:`MemoryBackend`; use ``RedisBackend`` to share runs
    between processes).

    ``database_url`` (``postgresql://...``, with ``redis_url``) is the production layout:
    threads, runs and the run queue in Postgres (``PostgresBackend``), checkpoints and the
    store with LangGraph's Postgres libraries (for graphs and an app without their own),
    run events, cancels and wake-ups through Redis; each process executes up to ``jobs``
    queued runs at once, and more processes behind a load balancer add capacity.
    ``redis_url`` alone shares run events between processes (``RedisBackend``). A reader that disconnects cancels its run after
    ``disconnect_grace`` seconds unless the run asked for ``on_disconnect="continue"``
    or a reader resumed it meanwhile.

    Without ``api_token`` the server answers only loopback ``Host`` names (plus
    ``allowed_hosts``) and browser ``Origin``\ s of its own pages (plus ``cors_origins``);
    a POST body must be JSON either way (``_guard``).

    ``auth`` takes LangGraph's custom auth object (``langgraph_sdk.Auth``) as
    ``langgraph.json``'s ``"auth"`` would: its ``@auth.authenticate`` names the user of
    every request, its ``@auth.on...`` handlers allow, stamp and filter threads, runs and
    store items per user (``_auth``). It replaces ``api_token``; give one or the other.

    ``messages`` mode sends, as the Platform does, the whole message so far with every
    chunk (``messages/partial``): quadratic in bytes. Once that event's data reaches
    ``partial_bound_bytes`` (default 16 KiB; ``None``: never, every chunk as the Platform),
    a message gets at most one partial per ``partial_interval`` seconds (default 0.1),
    and always its newest state before any other event of the run and at its end.
    The in-memory run logs are bounded by ``MemoryBackend(max_events_per_run=,
    max_bytes_per_run=, max_total_bytes=, ttl=)`` (pass it as ``backend``).

    ``stream_transformers`` maps a graph id to what a graph module's
    ``stream_transformers()`` export is on LangGraph's server: a callable returning
    LangGraph ``StreamTransformer`` classes, factories or instances, added to the graph's
    Agent Streaming Protocol runs (a named channel's items reach ``custom:<name>``).

    ``protocols`` picks what is served (default: all): ``"langgraph"`` (the Platform's API
    and the Agent Streaming Protocol), ``"ai-sdk"`` (Vercel AI SDK UI message streams),
    ``"ag-ui"``, ``"openai"`` (Chat Completions); ``create_app(graphs, protocols=["ai-sdk"],
    chat_page=False)`` is an app of the AI SDK's routes alone, to mount in your own.
    """
    if not graphs:
        raise ValueError("create_app needs at least one graph: create_app({'agent': graph})")
    for name in graphs:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"graph id {name!r} must be a non-empty string without '/'")
    if api_token is not None and len(api_token) < 8:
        raise ValueError("api_token must be at least 8 characters")
    if auth is not None and api_token is not None:
        raise ValueError(
            "Give api_token (one shared token) or auth (a langgraph_sdk.Auth), not both: "
            "an Auth object's @auth.authenticate can check the token itself"
        )
    gate = AuthGate(auth) if auth is not None else None
    _check_partials(partial_bound_bytes, partial_interval)
    if max_body_bytes < 1 or disconnect_grace < 0 or ping_interval < 0:
        raise ValueError("max_body_bytes must be >= 1, disconnect_grace and ping_interval >= 0")
    runs = choose_backend(backend, database_url, redis_url)
    own_store = store is not None
    if store is None:
        from langgraph.store.memory import InMemoryStore

        store = InMemoryStore()
    mask_logs((api_token,) if api_token else ())
    entries = {name: GraphEntry(name, graph, checkpointer, store) for name, graph in graphs.items()}
    attach_transformers(entries, stream_transformers or {})
    manager = RunManager(
        runs,
        entries,
        disconnect_grace=disconnect_grace,
        secrets=(api_token,) if api_token else (),
        partial_bound_bytes=partial_bound_bytes,
        partial_interval=partial_interval,
        jobs=jobs,
    )
    api = _Api(
        manager,
        max_body_bytes=max_body_bytes,
        ping_interval=ping_interval,
        api_token=api_token,
        first_frame_timeout=ws_first_frame_timeout,
        max_pending_sockets=max_pending_sockets,
        auth=gate,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runs.start()
        try:
            manager.protocol = shared_protocol_logs(runs) or manager.protocol
            await open_shared_state(runs, manager, api, checkpointer, own_store)
            await manager.open()
            try:
                yield
            finally:
                await manager.shutdown()
        finally:
            await runs.close()

    routes = api_routes(api, protocols)
    if chat_page and "langgraph" in protocols:  # the page talks to LangGraph's API
        routes += [Route("/", api.index), Mount("/static", StaticFiles(directory=_STATIC))]
    middleware = [
        Middleware(
            RequestGuard,
            open_server=api_token is None and auth is None,
            allowed_hosts=allowed_hosts,
            cors_origins=cors_origins,
        ),
        Middleware(TokenGuard, api_token=api_token),
    ]
    if gate is not None:
        middleware.append(Middleware(AuthMiddleware, gate=gate, public_paths=PUBLIC_PATHS))
    if cors_origins:
        middleware.insert(
            1,
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "x-api-key"],
                expose_headers=["Location", "Content-Location"],
            ),
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers=error_handlers(runs.unavailable_errors),
    )
    api.store = store
    app.state.manager = manager
    app.state.api = api  # what a frontend route module builds on (``_chat_runs``)
    return app
