"""Vercel AI SDK UI message streams (``useChat`` with ``DefaultChatTransport``), issue 23.

- ``POST /ai-sdk/{graph_id}/chat``: the transport's body (``id`` = the chat = the thread,
  ``messages``, ``trigger``, ``messageId``; plus ``resume`` to answer an interrupt) starts
  a run and answers its UI message stream (SSE ``data:`` parts, then ``data: [DONE]``).
- ``GET /ai-sdk/{graph_id}/chat/{chat_id}/stream``: the chat's run going on, replayed from
  its first part (the transport's ``reconnectToStream``); 204 when nothing runs.
- ``POST /ai-sdk/{graph_id}/chat/{chat_id}/stop``: stops it; its stream ends with ``abort``.

A frontend protocol over the runs of ``_chat_runs.ChatRuns``: its events (the thread's
Agent Streaming Protocol log) folded to parts by ``_ai_sdk_parts.UIParts``. A client that
goes away does not cancel the run (AI SDK 7: an abort is a disconnect); it can resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from streamtap.server._ai_sdk_parts import UIParts, encode
from streamtap.server._chat_runs import ChatRuns
from streamtap.server._http import ApiError, json_response

__all__ = ["HEADERS", "human_input", "routes"]

#: what every UI message stream response carries
HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}
_DONE = b"data: [DONE]\n\n"


def human_input(messages: Any) -> str:
    """The text of the last user UI message (its ``text`` parts, joined)."""
    if not isinstance(messages, list):
        raise ApiError(422, "'messages' must be a list of UI messages", fields=["messages"])
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            parts = message.get("parts")
            if isinstance(parts, list):
                texts = [
                    str(p.get("text", ""))
                    for p in parts
                    if isinstance(p, dict) and p.get("type") == "text"
                ]
                return "".join(texts)
            return str(message.get("content") or "")
    raise ApiError(422, "No user message in 'messages'", fields=["messages"])


class _AiSdk:
    def __init__(self, api: Any) -> None:
        self.api = api
        self.runs = ChatRuns(api)

    def _graph(self, graph_id: str) -> None:
        if graph_id not in self.api.manager.graphs:
            raise ApiError(
                404, f"Graph {graph_id!r} is not served: {sorted(self.api.manager.graphs)}"
            )

    async def _parts(self, thread_id: str, since: int, message_id: str) -> AsyncIterator[bytes]:
        fold = UIParts(message_id)
        try:
            async for event in self.runs.events(thread_id, since):
                for part in fold.feed(event.method, event.namespace, event.data):
                    yield encode(part)
        except ApiError as exc:  # the log lost the run's events (410)
            fold.started = True
            fold.done = True
            yield encode({"type": "error", "errorText": str(exc.body.get("detail"))})
        for part in fold.close():
            yield encode(part)
        yield _DONE

    def _stream(self, thread_id: str, since: int, message_id: str) -> Response:
        return StreamingResponse(
            self._parts(thread_id, since, message_id),
            media_type="text/event-stream",
            headers=HEADERS,
        )

    async def chat(self, request: Request) -> Response:
        graph_id = request.path_params["graph_id"]
        body = await self.api._body(request)
        chat_id = body.get("id")
        if not isinstance(chat_id, str) or not chat_id:
            raise ApiError(422, "'id' (the chat id) must be a non-empty string", fields=["id"])
        self._graph(graph_id)
        if "resume" in body:  # the answer to the interrupt the chat stopped at
            started = await self.runs.start(
                request, graph_id, chat_id, command={"resume": body["resume"]}
            )
        else:
            text = human_input(body.get("messages"))
            graph_input = {"messages": [{"role": "user", "content": text}]}
            started = await self.runs.start(request, graph_id, chat_id, graph_input=graph_input)
        return self._stream(chat_id, started.since, started.run_id)

    async def resume(self, request: Request) -> Response:
        self._graph(request.path_params["graph_id"])
        chat_id = request.path_params["chat_id"]
        going = await self.runs.active(chat_id)
        if going is None:
            return Response(status_code=204)
        return self._stream(chat_id, going.since, going.run_id)

    async def stop(self, request: Request) -> Response:
        self._graph(request.path_params["graph_id"])
        stopped = await self.runs.stop(request.path_params["chat_id"])
        return json_response({"stopped": stopped})


def routes(api: Any) -> list[BaseRoute]:
    """This protocol's routes over the server's API object (``app._Api``)."""
    ai = _AiSdk(api)
    return [
        Route("/ai-sdk/{graph_id}/chat", ai.chat, methods=["POST"]),
        Route("/ai-sdk/{graph_id}/chat/{chat_id}/stream", ai.resume, methods=["GET"]),
        Route("/ai-sdk/{graph_id}/chat/{chat_id}/stop", ai.stop, methods=["POST"]),
    ]
