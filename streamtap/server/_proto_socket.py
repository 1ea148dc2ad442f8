"""The Agent Streaming Protocol over a WebSocket: ``GET /threads/{thread_id}/stream/events``.

Every text frame from the client is a command (``{"id", "method", "params"}``): the HTTP
route's commands, and in-band ``subscription.subscribe`` / ``unsubscribe`` /
``reconnect``. The server sends the responses (``{"type": "success" | "error", "id", ...}``)
and the events (the same envelopes as SSE ``data:``) of the thread's log that match any of
the socket's subscriptions, each at most once, in ``seq`` order as they come.

A subscription with ``since`` first gets what it matches after ``since`` that the socket
has not sent yet (LangGraph's server ignores ``since`` here and replays everything, which
its clients drop as duplicates by ``event_id``; nothing is sent twice here). Those are sent
before the subscription's response, as on LangGraph's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from typing import Any, Protocol, cast

from langchain_protocol.protocol import (
    CommandResponse,
    EmptyResult,
    ErrorCode,
    ErrorResponse,
    ResponseMeta,
    SubscribeResult,
)
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from streamtap.server._auth import AuthRefused
from streamtap.server._http import token_ok
from streamtap.server._proto_filter import Subscription, SubscriptionError
from streamtap.server._proto_log import Gap, LoggedEvent, ProtocolLog
from streamtap.server._serde import dumps, loads

__all__ = ["NOT_A_COMMAND", "error_envelope", "protocol_socket"]


class ProtocolRoutes(Protocol):
    """The HTTP routes' side the socket shares (``_proto_routes.ProtocolRoutes``)."""

    manager: Any

    async def _meta(self, thread_id: str) -> dict[str, int]: ...

    api_token: str | None
    max_body_bytes: int

    async def run_command(
        self, conn: HTTPConnection, thread_id: str, method: str, params: Any
    ) -> Mapping[str, Any]: ...

    async def may_read(self, conn: HTTPConnection, thread_id: str) -> None: ...

    async def identify(self, conn: HTTPConnection, authorization: str | None) -> None: ...


class _Socket:
    def __init__(self, websocket: WebSocket, routes: ProtocolRoutes, thread_id: str) -> None:
        self.websocket = websocket
        self.routes = routes
        self.thread_id = thread_id
        self.log: ProtocolLog = routes.manager.protocol.log(thread_id)
        self.subscriptions: dict[str, Subscription] = {}
        #: the last seq the live loop looked at (``None``: nothing subscribed yet)
        self.cursor: int | None = None
        self.send_lock = asyncio.Lock()
        self.subscribed = asyncio.Event()
        #: the caller may read the thread (checked once it has events: custom auth)
        self.readable = False

    async def send(self, payload: bytes) -> None:
        async with self.send_lock:
            await self.websocket.send_text(payload.decode())

    async def send_event(self, event: LoggedEvent) -> None:
        if not self.readable:  # the thread exists once it has events: whose is it?
            await self.routes.may_read(self.websocket, self.thread_id)
            self.readable = True
        await self.send(event.frame)

    def _wanted(self, event: LoggedEvent, subs: list[Subscription]) -> bool:
        return any(s.matches(event.method, event.namespace, event.data) for s in subs)

    async def live(self) -> None:
        """Send what any subscription takes, from the cursor on, as the log grows; a
        thread the caller may not read closes the socket (4404, or 4403)."""
        try:
            await self._live()
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code not in ("no_such_run", "permission_denied"):
                raise
            close = 4403 if code == "permission_denied" else 4404
            with contextlib.suppress(Exception):
                await self.websocket.close(code=close, reason=str(exc)[:120])

    async def _live(self) -> None:
        await self.subscribed.wait()
        assert self.cursor is not None
        async for found in self.log.batches(self.cursor):
            if isinstance(found, Gap):
                meta = await self.routes._meta(self.thread_id)
                await self.send(dumps(_gap_error(None, found, meta)))
                self.cursor = found.min_available_seq - 1
                continue
            for event in found:
                self.cursor = event.seq
                # the subscriptions as they are now: one added while this batch is sent
                # takes the rest of it
                if self._wanted(event, list(self.subscriptions.values())):
                    await self.send_event(event)

    async def subscribe(self, params: dict[str, Any]) -> SubscribeResult:
        subscription = Subscription.parse(params)  # SubscriptionError: invalid_argument
        since = params.get("since")
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            since = 0
        replayed = 0
        if self.cursor is None:  # the first subscription: the live loop starts at since
            self.cursor = since
        elif since < self.cursor:  # what it takes that the socket has not sent
            found = await self.log.read(since)
            if isinstance(found, Gap):
                raise _GapError(found)
            before = list(self.subscriptions.values())
            for event in found:
                if event.seq > self.cursor:
                    break
                if subscription.matches(event.method, event.namespace, event.data) and not (
                    self._wanted(event, before)
                ):
                    await self.send_event(event)
                    replayed += 1
        subscription_id = str(params.get("subscription_id") or uuid.uuid4())
        self.subscriptions[subscription_id] = subscription
        self.subscribed.set()
        return SubscribeResult(subscription_id=subscription_id, replayed_events=replayed)

    async def handle(self, raw: str) -> None:
        limit = self.routes.max_body_bytes
        if len(raw) > limit and len(raw.encode()) > limit:  # the HTTP routes' body limit
            message = f"Commands are limited to {limit} bytes"
            await self.send(dumps(error_envelope(None, "invalid_argument", message)))
            return
        try:
            command = loads(raw)
        except ValueError:
            await self.send(dumps(error_envelope(None, "invalid_argument", _NOT_JSON)))
            return
        command_id = command.get("id") if isinstance(command, dict) else None
        method = command.get("method") if isinstance(command, dict) else None
        if (
            not isinstance(command_id, int)
            or isinstance(command_id, bool)
            or not isinstance(method, str)
        ):
            await self.send(dumps(error_envelope(command_id, "invalid_argument", NOT_A_COMMAND)))
            return
        params = command.get("params") or {}
        meta = await self.routes._meta(self.thread_id)
        result: Mapping[str, Any]
        try:
            if method in ("subscription.subscribe", "subscription.reconnect"):
                result = await self.subscribe(params)
            elif method == "subscription.unsubscribe":
                if self.subscriptions.pop(str(params.get("subscription_id")), None) is None:
                    raise _CommandError("no_such_subscription", "No such subscription")
                result = EmptyResult()
            else:
                result = await self.routes.run_command(
                    self.websocket, self.thread_id, method, params
                )
        except _GapError as gap:
            await self.send(dumps(_gap_error(command_id, gap.gap, meta)))
            return
        except SubscriptionError as exc:
            await self.send(dumps(error_envelope(command_id, "invalid_argument", str(exc), meta)))
            return
        except Exception as exc:
            code = getattr(exc, "code", None)
            if not isinstance(code, str):
                raise
            await self.send(dumps(error_envelope(command_id, code, str(exc), meta)))
            return
        response = CommandResponse(
            type="success",
            id=command_id,
            result=cast(Any, result),
            meta=ResponseMeta(applied_through_seq=meta["applied_through_seq"]),
        )
        await self.send(dumps(response))


_NOT_JSON = "Protocol commands must be valid JSON."
NOT_A_COMMAND = "Protocol commands must include an integer id and string method."


class _CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _GapError(Exception):
    def __init__(self, gap: Gap) -> None:
        super().__init__(gap.message)
        self.gap = gap


def error_envelope(
    command_id: Any, code: str, message: str, meta: dict[str, int] | None = None
) -> ErrorResponse:
    """A command's error response (HTTP body or WebSocket frame alike). ``code``: one of
    the protocol's ``ErrorCode`` or langgraph-api's ``resume_gap`` / ``unsupported``."""
    body = ErrorResponse(type="error", id=command_id, error=cast(ErrorCode, code), message=message)
    if meta is not None:
        body["meta"] = ResponseMeta(applied_through_seq=meta["applied_through_seq"])
    return body


def _gap_error(command_id: Any, gap: Gap, meta: dict[str, int]) -> dict[str, Any]:
    return {
        **error_envelope(command_id, "resume_gap", gap.message, meta),
        "since": gap.since,
        "min_available_seq": gap.min_available_seq,
    }


async def protocol_socket(websocket: WebSocket, routes: ProtocolRoutes) -> None:
    thread_id = websocket.path_params["thread_id"]
    # refused before the handshake completes (the client sees 4000 + the HTTP status):
    # the token, or a custom-auth identity, from the handshake's headers
    authorization = websocket.headers.get("authorization")
    if not token_ok(routes.api_token, authorization, websocket.headers.get("x-api-key")):
        await websocket.close(code=4401, reason="Missing or invalid token")
        return
    try:
        await routes.identify(websocket, authorization)
    except AuthRefused as refused:
        await websocket.close(code=4000 + refused.status, reason=refused.detail[:120])
        return
    await websocket.accept()
    socket = _Socket(websocket, routes, thread_id)
    live = asyncio.create_task(socket.live())
    try:
        while True:
            message = await websocket.receive_text()
            await socket.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await live
