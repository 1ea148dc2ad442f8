"""The server's HTTP plumbing: JSON errors and responses, the token check, the shared
state and request helpers every route module builds on (``ApiBase``)."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from streamtap.server._auth import AUTH_SCOPE_KEY, AuthGate, AuthRefused, filter_matches
from streamtap.server._graphs import GraphEntry
from streamtap.server._records import ThreadRecord
from streamtap.server._runner import RunManager
from streamtap.server._schema import validation_details
from streamtap.server._serde import dumps, loads

__all__ = [
    "PUBLIC_PATHS",
    "ApiBase",
    "ApiError",
    "AuthRefused",
    "ClosingResponse",
    "Pending",
    "TokenGuard",
    "json_response",
    "token_ok",
]

#: answered without a token: the chat page, liveness and readiness probes, the icon
PUBLIC_PATHS = ("/", "/ok", "/ready", "/favicon.ico")
_M = TypeVar("_M", bound=BaseModel)


class ApiError(Exception):
    """An HTTP error with a JSON body ``{"detail": ...}`` (plus optional extra keys)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, **extra}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
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


class TokenGuard:
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
        if path in PUBLIC_PATHS or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if token_ok(self.api_token, headers.get("authorization"), headers.get("x-api-key")):
            await self.app(scope, receive, send)
            return
        message = "Missing or invalid token: send 'Authorization: Bearer <token>'"
        body: dict[str, Any] = {"detail": message}
        if path.startswith("/v1/"):  # the OpenAI-compatible routes answer in OpenAI's shape
            body = {
                "error": {
                    "message": message,
                    "type": "authentication_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        response = json_response(body, 401, {"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


class ClosingResponse:
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


class Pending:
    """Sockets accepted but not yet past their first frame (unauthenticated, unbounded
    otherwise): a cap, so idle sockets cannot exhaust the server."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0


class ApiBase:
    """What every route module reads: the run manager, its backend and the limits."""

    def __init__(
        self,
        manager: RunManager,
        *,
        max_body_bytes: int,
        ping_interval: float,
        api_token: str | None,
        first_frame_timeout: float = 10.0,
        max_pending_sockets: int = 100,
        auth: AuthGate | None = None,
    ) -> None:
        self.manager = manager
        self.backend = manager.backend
        self.max_body_bytes = max_body_bytes
        self.ping_interval = ping_interval
        self.api_token = api_token
        self.pending_sockets = Pending(max_pending_sockets)
        self.first_frame_timeout = first_frame_timeout
        self.auth = auth

    # ------------------------------------------------------------------ helpers

    async def _body(self, request: Request) -> dict[str, Any]:
        body = await self._raw_json(request)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(422, "Request body must be a JSON object", fields=["body"])
        return body

    async def _raw_json(self, request: Request) -> Any:
        """The request's JSON body, size-capped (``None`` when empty)."""
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
            return None
        try:
            return loads(raw)
        except ValueError:
            raise ApiError(422, "Request body is not valid JSON", fields=["body"]) from None

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

    async def _thread(self, thread_id: str) -> ThreadRecord:
        thread = await self.backend.get_thread(thread_id)
        if thread is None:
            raise ApiError(404, f"Thread {thread_id!r} not found; create it with POST /threads")
        return thread

    async def _authorize(
        self, request: HTTPConnection, resource: str, action: str, value: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The custom auth handler's verdict on ``value`` (which it may edit): ``None``
        when all is allowed (or there is no custom auth), else the filter reads must pass."""
        if self.auth is None:
            return None
        return await self.auth.authorize(request.scope[AUTH_SCOPE_KEY], resource, action, value)

    async def _forget_thread(self, thread_id: str) -> None:
        """Delete a thread: its state in every graph's saver, its record, its protocol
        log (``DELETE /threads/{id}``, an assistant's ``delete_threads``, a stateless
        frontend request's thread)."""
        for entry in self.manager.graphs.values():
            with contextlib.suppress(Exception):
                await entry.delete_thread(thread_id)
        await self.backend.delete_thread(thread_id)
        await self.manager.protocol.drop(thread_id)

    async def _owned_thread(
        self,
        request: HTTPConnection,
        thread_id: str,
        action: str = "read",
        value: dict[str, Any] | None = None,
    ) -> ThreadRecord:
        """The thread, if the caller may ``action`` it: one the auth filter hides answers
        404 exactly as a missing one does, so ids of others' threads reveal nothing."""
        filters = await self._authorize(
            request, "threads", action, value if value is not None else {"thread_id": thread_id}
        )
        thread = await self._thread(thread_id)
        if filters and not filter_matches(thread.metadata, filters):
            raise ApiError(404, f"Thread {thread_id!r} not found; create it with POST /threads")
        return thread

    def _thread_graph(self, thread: ThreadRecord) -> GraphEntry | None:
        graph_id = thread.metadata.get("graph_id")
        if isinstance(graph_id, str) and graph_id in self.manager.graphs:
            return self.manager.graphs[graph_id]
        if len(self.manager.graphs) == 1:
            return next(iter(self.manager.graphs.values()))
        return None
