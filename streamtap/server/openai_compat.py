"""OpenAI-compatible chat completions: ``POST /v1/chat/completions`` and ``GET /v1/models``
(issue 23; docs/openai-compatible.md).

A frontend protocol over the runs of ``_chat_runs.ChatRuns``: each request starts a run
of the graph named by ``model`` on a new thread, with the request's ``messages`` (OpenAI's
message dicts, which LangChain reads as they are) as the input ``{"messages": [...]}``,
and encodes the run's events (the thread's Agent Streaming Protocol log) with
``_openai_chunks.ChunkFold``. The request's ``tools`` / ``tool_choice`` reach the graph
as ``config["configurable"]["openai_tools"]`` / ``["openai_tool_choice"]`` (a graph that
binds them lets its model call the client's tools; otherwise they are ignored).

Errors before the first byte are OpenAI's error object with the status; after it, an SSE
``data: {"error": {...}}`` (the ``openai`` SDKs raise ``APIError``). A client that closes
the stream early stops the run (its model's HTTP stream is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from langchain_core.messages import convert_to_messages
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from streamtap.server._chat_runs import ChatRuns
from streamtap.server._http import ApiError, ClosingResponse, json_response
from streamtap.server._openai_chunks import ChunkFold, openai_error
from streamtap.server._serde import dumps

__all__ = ["routes"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _error_response(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> Response:
    return json_response(openai_error(message, status, code=code, param=param), status)


def _parse(body: dict[str, Any]) -> dict[str, Any]:
    """The request's fields this server reads, checked; ``_BadRequest`` otherwise."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required: the id of a graph (GET /v1/models)", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("'messages' must be a non-empty array", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _BadRequest(f"messages[{i}] must be an object with a valid 'role'", "messages")
        try:  # what the graph's add_messages will do with it: fail here, not mid-run
            convert_to_messages([message])
        except Exception as exc:  # LangChain raises KeyError, TypeError, ValueError
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _BadRequest(
                f"messages[{i}] is not a valid message: {detail}", "messages"
            ) from None
    n = body.get("n")
    if n is not None and n != 1:
        raise _BadRequest("Only n=1 is supported: a run gives one answer", "n")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _BadRequest("'stream_options' must be an object", "stream_options")
    configurable: dict[str, Any] = {}
    if body.get("tools") is not None:
        if not isinstance(body["tools"], list):
            raise _BadRequest("'tools' must be an array", "tools")
        configurable["openai_tools"] = body["tools"]
    if body.get("tool_choice") is not None:
        configurable["openai_tool_choice"] = body["tool_choice"]
    return {
        "model": model,
        "messages": messages,
        "stream": bool(body.get("stream")),
        "include_usage": bool(options.get("include_usage")),
        "config": {"configurable": configurable} if configurable else None,
        "store": body.get("store") is True,
    }


class OpenAIRoutes:
    """The routes' handlers over the server's API object."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.runs = ChatRuns(api)
        self.created = int(time.time())

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.get_model, methods=["GET"]),
        ]

    def _model(self, graph_id: str) -> dict[str, Any]:
        return {"id": graph_id, "object": "model", "created": self.created, "owned_by": "streamtap"}

    async def list_models(self, request: Request) -> Response:
        data = [self._model(graph_id) for graph_id in sorted(self.api.manager.graphs)]
        return json_response({"object": "list", "data": data})

    async def get_model(self, request: Request) -> Response:
        graph_id = request.path_params["model"]
        if graph_id not in self.api.manager.graphs:
            return self._unknown_model(graph_id)
        return json_response(self._model(graph_id))

    def _unknown_model(self, graph_id: str) -> Response:
        served = ", ".join(sorted(self.api.manager.graphs))
        return _error_response(
            404,
            f"The model {graph_id!r} does not exist: this server serves the graphs {served}",
            code="model_not_found",
            param="model",
        )

    async def chat_completions(self, request: Request) -> Response | ClosingResponse:
        try:
            parsed = _parse(await self.api._body(request))
        except _BadRequest as exc:
            return _error_response(400, str(exc), param=exc.param)
        except ApiError as exc:
            return _error_response(exc.status, str(exc.body.get("detail", exc)))
        model = parsed["model"]
        if model not in self.api.manager.graphs:
            return self._unknown_model(model)
        thread_id = str(uuid.uuid4())
        try:
            started = await self.runs.start(
                request,
                model,
                thread_id,
                graph_input={"messages": parsed["messages"]},
                config=parsed["config"],
                metadata={"protocol": "openai"},
            )
        except ApiError as exc:
            code = "model_not_found" if exc.status == 404 else None
            return _error_response(exc.status, str(exc.body.get("detail", exc)), code=code)
        fold = ChunkFold(
            "chatcmpl-" + started.run_id.replace("-", ""),
            int(time.time()),
            model,
            include_usage=parsed["include_usage"],
        )
        headers = {
            **_HEADERS,
            "X-Streamtap-Thread-Id": thread_id,
            "X-Streamtap-Run-Id": started.run_id,
        }
        if parsed["stream"]:
            settle = functools.partial(
                self._settle, fold, thread_id, started.run_id, parsed["store"]
            )
            return self._stream(fold, thread_id, started.since, headers, settle)
        try:
            return await self._complete(request, fold, thread_id, started.since, headers)
        finally:
            await self._settle(fold, thread_id, started.run_id, parsed["store"])

    async def _settle(self, fold: ChunkFold, thread_id: str, run_id: str, store: bool) -> None:
        """After the response: a run the client left is stopped; then the thread goes
        unless the request asked to ``store`` it or it waits on an interrupt (answered
        through the LangGraph API): Chat Completions requests are stateless, and a
        thread kept per request would grow the server without end."""
        if not fold.done:
            await self.runs.stop(thread_id)
        if not store and not fold.interrupted:
            await self.runs.forget(thread_id, run_id)

    def _stream(
        self,
        fold: ChunkFold,
        thread_id: str,
        since: int,
        headers: dict[str, str],
        settle: Callable[[], Awaitable[None]],
    ) -> ClosingResponse:
        async def frames() -> AsyncIterator[bytes]:
            try:
                async for event in self.runs.events(thread_id, since):
                    for item in fold.feed(event):
                        yield b"data: " + dumps(item) + b"\n\n"
            except ApiError as exc:  # the log lost the run's events
                fold.done = True
                error = openai_error(str(exc.body.get("detail", exc)), exc.status)
                yield b"data: " + dumps(error) + b"\n\n"
                return
            if fold.error is None:
                yield b"data: [DONE]\n\n"

        response = EventSourceResponse(
            frames(),
            ping=self.api.ping_interval,
            ping_message_factory=lambda: ServerSentEvent(comment="keep-alive", sep="\n"),
            sep="\n",
            headers=headers,
        )
        return ClosingResponse(response, settle)

    async def _complete(
        self, request: Request, fold: ChunkFold, thread_id: str, since: int, headers: dict[str, str]
    ) -> Response:
        watcher = asyncio.ensure_future(self._watch_disconnect(request, thread_id))
        try:
            async for event in self.runs.events(thread_id, since):
                fold.feed(event)
        except ApiError as exc:
            return _error_response(exc.status, str(exc.body.get("detail", exc)))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if fold.error is not None:
            return json_response(fold.error, 500, headers)
        return json_response(fold.completion(), 200, headers)

    async def _watch_disconnect(self, request: Request, thread_id: str) -> None:
        """A non-streamed request whose client goes away stops its run."""
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                await self.runs.stop(thread_id)
                return


def routes(api: Any) -> list[BaseRoute]:
    """This protocol's routes over the server's API object (``app._Api``)."""
    return OpenAIRoutes(api).routes()
