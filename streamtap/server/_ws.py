"""``GET /ws``: the run-stream protocol over a WebSocket.

The first text frame is a run request: the same JSON body as ``POST /runs/stream``
plus an optional ``thread_id`` (a stateful run), or a join request
``{"thread_id", "run_id", "last_event_id"?}`` to resume a run. Every event then
arrives as one frame ``{"id", "event", "data"}``, ending with the ``end`` frame,
after which the server closes with code 1000. A client may send
``{"action": "cancel"}`` at any time to stop the run. Browsers cannot set headers
on a WebSocket, so with an API token the first frame may carry
``"authorization": "Bearer <token>"`` instead of the header.

Errors close the socket after an ``error`` frame, with 4000 + the HTTP status
the same request would get over HTTP (4401, 4404, 4409, 4413, 4422). A socket that
sends no first frame within ``first_frame_timeout`` is closed with 4408; while
``max_pending`` sockets are waiting for theirs, a new one is closed at once (1013).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import anyio
from pydantic import ValidationError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from streamtap.server._auth import AuthRefused
from streamtap.server._http import ApiError, Pending
from streamtap.server._records import EventsExpiredError, RunRecord, UnknownEventIdError
from streamtap.server._runner import RunManager
from streamtap.server._schema import RunRequest, validation_details
from streamtap.server._serde import dumps, loads

__all__ = ["websocket_run"]


def _frame(event_id: str | None, event: str, data: bytes) -> str:
    head = dumps({"id": event_id, "event": event})[:-1]
    return (head + b',"data":' + data + b"}").decode()


class RunDoor(Protocol):
    """How a socket gets its run: the same admission the HTTP routes use (graph, thread,
    custom auth, multitask strategy), so the two transports cannot drift apart."""

    async def launch(
        self, conn: HTTPConnection, req: RunRequest, thread_id: str | None
    ) -> RunRecord: ...

    async def readable_run(
        self, conn: HTTPConnection, run_id: str, thread_id: str | None
    ) -> RunRecord: ...

    async def identify(self, conn: HTTPConnection, authorization: str | None) -> None: ...


async def _open(
    websocket: WebSocket, first: dict[str, Any], manager: RunManager, door: RunDoor
) -> tuple[RunRecord, str | None]:
    """Start or join the run the first frame asks for; returns it and the read cursor."""
    thread_id = first.get("thread_id")
    if thread_id is not None and not isinstance(thread_id, str):
        raise ApiError(422, "thread_id must be a string", fields=["thread_id"])
    if "run_id" in first and "assistant_id" not in first:
        run = await door.readable_run(websocket, str(first["run_id"]), thread_id)
        last = first.get("last_event_id")
        after = str(last) if last is not None else None
        if after is None and not run.stream_resumable:
            after = await manager.backend.last_event_id(run.run_id)
        try:
            await manager.backend.check_cursor(run.run_id, after)
        except UnknownEventIdError as exc:
            raise ApiError(400, str(exc)) from None
        except EventsExpiredError as exc:
            raise ApiError(410, str(exc)) from None
        return run, after
    first.pop("thread_id", None)
    try:
        req = RunRequest.model_validate(first)
    except ValidationError as exc:
        raise ApiError(422, **validation_details(exc)) from None
    return await door.launch(websocket, req, thread_id), None


async def websocket_run(
    websocket: WebSocket,
    manager: RunManager,
    *,
    api_token: str | None,
    max_message_bytes: int,
    token_ok: Callable[[str | None, str | None, str | None], bool],
    door: RunDoor,
    first_frame_timeout: float = 10.0,
    pending: Pending | None = None,
) -> None:
    pending = pending if pending is not None else Pending(100)
    await websocket.accept()
    if pending.count >= pending.limit:
        await websocket.close(code=1013, reason="too many sockets waiting to start")
        return
    pending.count += 1
    try:
        text = await asyncio.wait_for(websocket.receive_text(), first_frame_timeout)
    except TimeoutError:
        await websocket.close(code=4408, reason="no first frame in time")
        return
    except (WebSocketDisconnect, KeyError):
        return
    finally:
        pending.count -= 1
    try:
        if len(text.encode()) > max_message_bytes:
            raise ApiError(413, f"Message is larger than {max_message_bytes} bytes")
        try:
            first = loads(text)
        except ValueError:
            raise ApiError(422, "First frame is not valid JSON", fields=["body"]) from None
        if not isinstance(first, dict):
            raise ApiError(422, "First frame must be a JSON object", fields=["body"])
        auth = websocket.headers.get("authorization") or first.pop("authorization", None)
        if auth is not None and not isinstance(auth, str):
            raise ApiError(422, "authorization must be a string", fields=["authorization"])
        if not token_ok(api_token, auth, websocket.headers.get("x-api-key")):
            raise ApiError(401, "Missing or invalid token")
        await door.identify(websocket, auth)
        run, after = await _open(websocket, first, manager, door)
    except (ApiError, AuthRefused) as refused:
        await websocket.send_text(_frame(None, "error", dumps(refused.body)))
        await websocket.close(code=4000 + refused.status)
        return

    await manager.attach(run.run_id)
    try:
        await _pump(websocket, manager, run, after)
    finally:
        with anyio.CancelScope(shield=True):
            await manager.detach(run)


async def _pump(
    websocket: WebSocket, manager: RunManager, run: RunRecord, after: str | None
) -> None:
    """Send events until ``end``; meanwhile honour ``cancel`` frames and notice hang-ups."""

    async def listen() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            with contextlib.suppress(ValueError, TypeError):
                frame = loads(message.get("text") or message.get("bytes") or b"")
                if isinstance(frame, dict) and frame.get("action") == "cancel":
                    await manager.cancel(run.run_id)

    async def send() -> None:
        async for batch in manager.backend.read(run.run_id, after):
            for event in batch:
                await websocket.send_text(_frame(event.id, event.event, event.data))
        await websocket.close(code=1000)

    tasks = [asyncio.create_task(listen()), asyncio.create_task(send())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
