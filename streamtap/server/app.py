"""The ASGI app: LangGraph Platform's run-stream API over Starlette, plus the chat page.

Routes (the subset of the Platform API that streaming clients use):

- ``POST /runs/stream``, ``POST /threads/{thread_id}/runs/stream``: start a run, stream it (SSE)
- ``GET /threads/{thread_id}/runs/{run_id}/stream``: join or resume (``Last-Event-ID``)
- ``GET /threads/{thread_id}/runs/{run_id}``, ``POST .../cancel``, ``GET /threads/{thread_id}/runs``
- ``POST /threads``, ``POST /threads/search``, ``GET|DELETE /threads/{thread_id}``,
  ``GET /threads/{thread_id}/state``, ``GET|POST /threads/{thread_id}/history``
- ``POST /assistants/search``, ``GET /assistants/{assistant_id}``, ``GET /ok``, ``GET /info``
- ``GET /ws``: the same runs over a WebSocket
- ``GET /``: the chat page (``/static/...`` its assets)
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from streamtap.graph.checkpoint.serde import UnsafeCheckpointError
from streamtap.server._graphs import GraphEntry
from streamtap.server._guard import RequestGuard
from streamtap.server._records import (
    EventsExpiredError,
    RunRecord,
    ThreadRecord,
    UnknownEventIdError,
)
from streamtap.server._runner import RunManager
from streamtap.server._schema import (
    HistoryQuery,
    RunRequest,
    ThreadCreate,
    ThreadSearch,
    validation_details,
)
from streamtap.server._serde import dumps, loads
from streamtap.server._ws import Pending, websocket_run
from streamtap.server.backend import MemoryBackend, RunBackend

__all__ = ["ApiError", "create_app"]

_STATIC = Path(__file__).parent / "static"
_PUBLIC_PATHS = ("/", "/ok", "/favicon.ico")
_M = TypeVar("_M", bound=BaseModel)


class ApiError(Exception):
    """An HTTP error with a JSON body ``{"detail": ...}`` (plus optional extra keys)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, **extra}


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


def token_ok(api_token: str | None, authorization: str | None, api_key: str | None) -> bool:
    """``Authorization: Bearer <token>`` (or the SDK's ``x-api-key``), compared in constant time."""
    if api_token is None:
        return True
    offered = api_key or ""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            offered = value.strip()
    return bool(offered) and hmac.compare_digest(offered.encode(), api_token.encode())


class _TokenGuard:
    """Rejects unauthenticated HTTP requests before any route (and so any run) is reached.

    The chat page and its assets stay public so a browser can load them and then
    send the token with its API calls; WebSockets authenticate in their handler
    because browsers cannot set headers on them.
    """

    def __init__(self, app: ASGIApp, api_token: str | None) -> None:
        self.app = app
        self.api_token = api_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.api_token is None or scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in _PUBLIC_PATHS or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if token_ok(self.api_token, headers.get("authorization"), headers.get("x-api-key")):
            await self.app(scope, receive, send)
            return
        response = _json(
            {"detail": "Missing or invalid token: send 'Authorization: Bearer <token>'"},
            401,
            {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


class _ClosingResponse:
    """Runs ``on_close`` after the wrapped response ends, however it ends (shielded)."""

    def __init__(self, response: ASGIApp, on_close: Callable[[], Awaitable[None]]) -> None:
        self.response = response
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.on_close()


class _Api:
    """Route handlers; one instance per app, holding its run manager and limits."""

    def __init__(
        self,
        manager: RunManager,
        *,
        max_body_bytes: int,
        ping_interval: float,
        api_token: str | None,
        first_frame_timeout: float = 10.0,
        max_pending_sockets: int = 100,
    ) -> None:
        self.manager = manager
        self.backend = manager.backend
        self.max_body_bytes = max_body_bytes
        self.ping_interval = ping_interval
        self.api_token = api_token
        self.pending_sockets = Pending(max_pending_sockets)
        self.first_frame_timeout = first_frame_timeout

    # ------------------------------------------------------------------ helpers

    async def _body(self, request: Request) -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise ApiError(413, f"Request body is larger than {self.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ApiError(413, f"Request body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            return {}
        try:
            body = loads(raw)
        except ValueError:
            raise ApiError(422, "Request body is not valid JSON", fields=["body"]) from None
        if not isinstance(body, dict):
            raise ApiError(422, "Request body must be a JSON object", fields=["body"])
        return body

    @staticmethod
    def _validate(model: type[_M], body: dict[str, Any]) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ApiError(422, **validation_details(exc)) from None

    def _entry(self, assistant_id: str) -> GraphEntry:
        entry = self.manager.resolve(assistant_id)
        if entry is None:
            raise ApiError(
                404,
                f"Assistant {assistant_id!r} not found; this server serves "
                f"{sorted(self.manager.graphs)}",
            )
        return entry

    async def _run(self, request: Request) -> RunRecord:
        run = await self.backend.get_run(request.path_params["run_id"])
        if run is None or run.thread_id != request.path_params["thread_id"]:
            raise ApiError(404, "Run not found (unknown id, or its events have expired)")
        return run

    async def _thread(self, thread_id: str) -> ThreadRecord:
        thread = await self.backend.get_thread(thread_id)
        if thread is None:
            raise ApiError(404, f"Thread {thread_id!r} not found; create it with POST /threads")
        return thread

    def _stream(self, request: Request, run: RunRecord, after: str | None) -> Any:
        """SSE of the run's log after ``after``, with the Platform's run headers."""
        base = request.scope.get("root_path", "")
        run_path = f"{base}/threads/{run.thread_id}/runs/{run.run_id}"
        backend = self.backend

        async def events() -> AsyncIterator[bytes]:
            async for batch in backend.read(run.run_id, after):
                yield b"".join(
                    ServerSentEvent(data=e.data.decode(), event=e.event, id=e.id, sep="\n").encode()
                    for e in batch
                )

        response = EventSourceResponse(
            events(),
            headers={"Location": f"{run_path}/stream", "Content-Location": run_path},
            ping=self.ping_interval,
            sep="\n",
        )

        async def detach() -> None:
            await self.manager.detach(run)

        return _ClosingResponse(response, detach)

    # ------------------------------------------------------------------ runs

    async def run_stream(self, request: Request) -> Any:
        thread_id: str | None = request.path_params.get("thread_id")
        req = self._validate(RunRequest, await self._body(request))
        entry = self._entry(req.assistant_id)
        if thread_id is not None:
            thread = await self.manager.ensure_thread(
                thread_id, create=req.if_not_exists == "create"
            )
            if thread is None:
                raise ApiError(
                    404,
                    f"Thread {thread_id!r} not found; create it with POST /threads "
                    "or pass if_not_exists='create'",
                )
            if any(not r.done for r in await self.backend.list_runs(thread_id)):
                raise ApiError(409, f"Thread {thread_id!r} is busy with another run")
        run = await self.manager.start(req, entry, thread_id)
        await self.manager.attach(run.run_id)
        return self._stream(request, run, None)

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
        return _json((await self._run(request)).to_json())

    async def list_runs(self, request: Request) -> Response:
        runs = await self.backend.list_runs(request.path_params["thread_id"])
        return _json([r.to_json() for r in sorted(runs, key=lambda r: r.created_at, reverse=True)])

    async def cancel_run(self, request: Request) -> Response:
        run = await self._run(request)
        if not run.done:
            await self.manager.cancel(run.run_id)
            if request.query_params.get("wait") in ("1", "true", "True"):
                await self.manager.wait(run.run_id)
        return Response(status_code=202)

    # ------------------------------------------------------------------ threads

    async def create_thread(self, request: Request) -> Response:
        spec = self._validate(ThreadCreate, await self._body(request))
        if spec.thread_id is not None:
            existing = await self.backend.get_thread(spec.thread_id)
            if existing is not None:
                if spec.if_exists == "do_nothing":
                    return _json(existing.to_json())
                raise ApiError(409, f"Thread {spec.thread_id!r} already exists")
        thread = ThreadRecord(thread_id=spec.thread_id or _new_id(), metadata=spec.metadata or {})
        await self.backend.put_thread(thread)
        return _json(thread.to_json())

    async def search_threads(self, request: Request) -> Response:
        spec = self._validate(ThreadSearch, await self._body(request))
        found = [
            t
            for t in await self.backend.list_threads()
            if (spec.status is None or t.status == spec.status)
            and all(t.metadata.get(k) == v for k, v in (spec.metadata or {}).items())
        ]
        return _json([t.to_json() for t in found[spec.offset : spec.offset + spec.limit]])

    async def get_thread(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if entry is None:
            return _json(thread.to_json())
        state = await entry.state(thread.thread_id, secrets=self.manager.secrets)
        # the Platform's thread interrupts: task id -> the interrupts that task raised
        interrupts = {t["id"]: t["interrupts"] for t in state["tasks"] if t["interrupts"]}
        return _json(thread.to_json(values=state["values"], interrupts=interrupts))

    async def delete_thread(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        for entry in self.manager.graphs.values():
            with contextlib.suppress(Exception):
                entry.delete_thread(thread.thread_id)
        await self.backend.delete_thread(thread.thread_id)
        return Response(status_code=204)

    def _thread_graph(self, thread: ThreadRecord) -> GraphEntry | None:
        graph_id = thread.metadata.get("graph_id")
        if isinstance(graph_id, str) and graph_id in self.manager.graphs:
            return self.manager.graphs[graph_id]
        if len(self.manager.graphs) == 1:
            return next(iter(self.manager.graphs.values()))
        return None

    async def thread_state(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if entry is None:
            raise ApiError(
                422,
                "This server serves several graphs; create the thread with "
                "metadata.graph_id to read its state",
                fields=["metadata.graph_id"],
            )
        subgraphs = request.query_params.get("subgraphs") in ("1", "true", "True")
        secrets = self.manager.secrets
        return _json(await entry.state(thread.thread_id, subgraphs=subgraphs, secrets=secrets))

    async def thread_history(self, request: Request) -> Response:
        """``POST`` (body) or ``GET`` (query ``limit`` / ``before``) the thread's states,
        newest first: what ``useStream`` loads to show a thread and branch from it."""
        thread = await self._thread(request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if request.method == "GET":
            params = dict(request.query_params)
            query = self._validate(HistoryQuery, params)
        else:
            query = self._validate(HistoryQuery, await self._body(request))
        if entry is None:
            return _json([])  # no run yet on a thread of a several-graph server: no states
        states = await entry.history(
            thread.thread_id,
            limit=query.limit,
            before=query.before_id,
            metadata=query.metadata,
            checkpoint=query.checkpoint,
            secrets=self.manager.secrets,
        )
        return _json(states)

    # ------------------------------------------------------------------ assistants

    def _assistant(self, entry: GraphEntry) -> dict[str, Any]:
        return {
            "assistant_id": entry.assistant_id,
            "graph_id": entry.graph_id,
            "name": entry.graph_id,
            "config": {},
            "metadata": {"created_by": "system"},
            "version": 1,
        }

    async def search_assistants(self, request: Request) -> Response:
        await self._body(request)
        return _json([self._assistant(e) for e in self.manager.graphs.values()])

    async def get_assistant(self, request: Request) -> Response:
        return _json(self._assistant(self._entry(request.path_params["assistant_id"])))

    async def ok(self, request: Request) -> Response:
        return _json({"ok": True})

    async def info(self, request: Request) -> Response:
        from streamtap import __version__

        return _json({"version": __version__, "server": "streamtap", "flags": {"assistants": True}})

    async def index(self, request: Request) -> Response:
        return FileResponse(_STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def websocket(self, websocket: WebSocket) -> None:
        await websocket_run(
            websocket,
            self.manager,
            api_token=self.api_token,
            max_message_bytes=self.max_body_bytes,
            token_ok=token_ok,
            pending=self.pending_sockets,
            first_frame_timeout=self.first_frame_timeout,
        )


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json(exc.body, exc.status)


async def _unsafe_checkpoint(request: Request, exc: Exception) -> Response:
    # a store that names code to run is a server-side fault the client can't fix;
    # the message says which type was refused and how an operator allows it
    return _json({"detail": f"The thread's stored state was refused: {exc}"}, 500)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _json({"detail": exc.detail}, exc.status_code, exc.headers)


def create_app(
    graphs: Mapping[str, Any],
    *,
    checkpointer: Any | None = None,
    api_token: str | None = None,
    cors_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    backend: RunBackend | None = None,
    disconnect_grace: float = 5.0,
    max_body_bytes: int = 1_048_576,
    ping_interval: float = 15.0,
    chat_page: bool = True,
    ws_first_frame_timeout: float = 10.0,
    max_pending_sockets: int = 100,
) -> Starlette:
    r"""Serve compiled graphs (``streamtap.graph`` or LangGraph) over the Platform's API.

    ``graphs`` maps a graph id (what clients pass as ``assistant_id``) to a compiled
    graph. ``checkpointer`` keeps thread state for every graph (default: the graph's
    own, or an in-memory saver of the graph's library). ``backend`` stores runs and
    their events (default: :class:`MemoryBackend`; use ``RedisBackend`` to share runs
    between processes). A reader that disconnects cancels its run after
    ``disconnect_grace`` seconds unless the run asked for ``on_disconnect="continue"``
    or a reader resumed it meanwhile.

    Without ``api_token`` the server answers only loopback ``Host`` names (plus
    ``allowed_hosts``) and browser ``Origin``\ s of its own pages (plus ``cors_origins``);
    a POST body must be JSON either way (``_guard``).
    """
    if not graphs:
        raise ValueError("create_app needs at least one graph: create_app({'agent': graph})")
    for name in graphs:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"graph id {name!r} must be a non-empty string without '/'")
    if api_token is not None and len(api_token) < 8:
        raise ValueError("api_token must be at least 8 characters")
    if max_body_bytes < 1 or disconnect_grace < 0 or ping_interval < 0:
        raise ValueError("max_body_bytes must be >= 1, disconnect_grace and ping_interval >= 0")
    entries = {name: GraphEntry(name, graph, checkpointer) for name, graph in graphs.items()}
    store = backend if backend is not None else MemoryBackend()
    manager = RunManager(
        store,
        entries,
        disconnect_grace=disconnect_grace,
        secrets=(api_token,) if api_token else (),
    )
    api = _Api(
        manager,
        max_body_bytes=max_body_bytes,
        ping_interval=ping_interval,
        api_token=api_token,
        first_frame_timeout=ws_first_frame_timeout,
        max_pending_sockets=max_pending_sockets,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.start()
        try:
            yield
        finally:
            await manager.shutdown()
            await store.close()

    run_path = "/threads/{thread_id}/runs/{run_id}"
    routes: list[Any] = [
        Route("/ok", api.ok),
        Route("/info", api.info),
        Route("/assistants/search", api.search_assistants, methods=["POST"]),
        Route("/assistants/{assistant_id}", api.get_assistant),
        Route("/runs/stream", api.run_stream, methods=["POST"]),
        Route("/threads", api.create_thread, methods=["POST"]),
        Route("/threads/search", api.search_threads, methods=["POST"]),
        Route("/threads/{thread_id}", api.get_thread, methods=["GET"]),
        Route("/threads/{thread_id}", api.delete_thread, methods=["DELETE"]),
        Route("/threads/{thread_id}/state", api.thread_state),
        Route("/threads/{thread_id}/history", api.thread_history, methods=["GET", "POST"]),
        Route("/threads/{thread_id}/runs", api.list_runs),
        Route("/threads/{thread_id}/runs/stream", api.run_stream, methods=["POST"]),
        Route(run_path, api.get_run),
        Route(f"{run_path}/stream", api.join_stream),
        Route(f"{run_path}/cancel", api.cancel_run, methods=["POST"]),
        WebSocketRoute("/ws", api.websocket),
    ]
    if chat_page:
        routes += [Route("/", api.index), Mount("/static", StaticFiles(directory=_STATIC))]
    middleware = [
        Middleware(
            RequestGuard,
            open_server=api_token is None,
            allowed_hosts=allowed_hosts,
            cors_origins=cors_origins,
        ),
        Middleware(_TokenGuard, api_token=api_token),
    ]
    if cors_origins:
        middleware.insert(
            1,
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "x-api-key"],
                expose_headers=["Location", "Content-Location"],
            ),
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            UnsafeCheckpointError: _unsafe_checkpoint,
        },
    )
    app.state.manager = manager
    return app
