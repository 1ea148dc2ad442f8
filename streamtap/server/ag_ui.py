"""AG-UI (CopilotKit, ``@ag-ui/client``'s ``HttpAgent``): ``POST /ag-ui/{graph_id}`` (issue 23).

The request is AG-UI's ``RunAgentInput``; the answer is its event stream (SSE ``data:``
lines, ``ag_ui.encoder.EventEncoder``). A frontend protocol over the runs of
``_chat_runs.ChatRuns``: the run's events (the thread's Agent Streaming Protocol log)
folded to AG-UI events by ``_ag_ui_events.AgUiFold``.

- ``thread_id`` is the thread (created on first use); one run at a time on it (409).
- ``messages``: the client sends the whole conversation each time; the thread's
  checkpoint already holds the turns it has seen, so only the messages whose ids the
  thread does not have yet go in as the run's input (usually the one new user message;
  all of them for a thread the server has not seen). Reasoning and activity messages
  are the client's own and never go in.
- ``state``: its keys other than ``messages`` that differ from the thread's go in with
  the input (a client's edit of shared state).
- ``resume``: answers the interrupts of the run before (``RUN_FINISHED`` with an
  ``interrupt`` outcome): ``resolved`` entries resume with their ``payload``,
  ``cancelled`` ones with ``None``. A resume takes no new messages.
- ``tools``, ``context`` and ``forwarded_props`` reach the graph in its config, under
  ``configurable["ag_ui"]`` (only when there are any).
- A client that goes away (``HttpAgent.abortRun()``) stops the run: AG-UI has no way to
  re-attach to a run, so nothing would read the rest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import RunAgentInput
from ag_ui.encoder import EventEncoder
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from streamtap.server._ag_ui_events import AgUiFold
from streamtap.server._chat_runs import ChatRuns
from streamtap.server._http import ApiError, ClosingResponse

__all__ = ["graph_input", "routes"]

HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_ENCODER = EventEncoder()


def _content(content: Any) -> Any:
    """AG-UI message content as LangChain's: a string as is, parts as standard blocks."""
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for part in content or []:
        part = part if isinstance(part, dict) else part.model_dump(by_alias=False)
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
            continue
        source = part.get("source") or {}
        block: dict[str, Any] = {"type": "file" if kind == "document" else kind}
        if source.get("type") == "data":
            block["base64"] = source.get("value")
        elif source.get("type") == "url":
            block["url"] = source.get("value")
        else:
            block["file_id"] = source.get("value")
        if source.get("mime_type"):
            block["mime_type"] = source["mime_type"]
        blocks.append(block)
    return blocks


def _message(message: dict[str, Any]) -> dict[str, Any] | None:
    """One AG-UI message (``model_dump()``) as the graph's input message, or ``None``."""
    role = message.get("role")
    out: dict[str, Any] = {"id": message["id"]}
    if role == "user":
        out |= {"role": "user", "content": _content(message.get("content"))}
    elif role in ("system", "developer"):
        out |= {"role": "system", "content": message.get("content") or ""}
    elif role == "assistant":
        out |= {"role": "assistant", "content": message.get("content") or ""}
        calls = []
        for call in message.get("tool_calls") or []:
            try:
                args = json.loads(call["function"]["arguments"] or "{}")
            except ValueError:
                args = {}
            calls.append({"id": call["id"], "name": call["function"]["name"], "args": args})
        if calls:
            out["tool_calls"] = calls
    elif role == "tool":
        out |= {
            "role": "tool",
            "content": _content(message.get("content")),
            "tool_call_id": message.get("tool_call_id"),
        }
    else:  # reasoning, activity: the client's own
        return None
    if message.get("name"):
        out["name"] = message["name"]
    return out


def _known_ids(values: Any) -> set[str]:
    messages = values.get("messages") if isinstance(values, dict) else None
    ids = set()
    for message in messages or []:
        found = message.get("id") if isinstance(message, dict) else getattr(message, "id", None)
        if isinstance(found, str):
            ids.add(found)
    return ids


def graph_input(run: RunAgentInput, values: Any) -> dict[str, Any]:
    """The run's input: the messages the thread (``values``: its state) does not have yet,
    and the client's state keys that differ from it."""
    known = _known_ids(values)
    messages = []
    for message in run.messages:
        dumped = message.model_dump(by_alias=False)
        if dumped.get("id") in known:
            continue
        converted = _message(dumped)
        if converted is not None:
            messages.append(converted)
    out: dict[str, Any] = {"messages": messages}
    current = values if isinstance(values, dict) else {}
    if isinstance(run.state, dict):
        for key, value in run.state.items():
            if key != "messages" and current.get(key) != value:
                out[key] = value
    return out


def _resume(run: RunAgentInput) -> dict[str, Any]:
    answers = {
        entry.interrupt_id: entry.payload if entry.status == "resolved" else None
        for entry in run.resume or []
    }
    return {"resume": answers}


class _AgUi:
    def __init__(self, api: Any) -> None:
        self.api = api
        self.runs = ChatRuns(api)

    async def _events(self, fold: AgUiFold, thread_id: str, since: int) -> AsyncIterator[str]:
        for event in fold.start():
            yield _ENCODER.encode(event)
        try:
            async for logged in self.runs.events(thread_id, since):
                for event in fold.feed(logged):
                    yield _ENCODER.encode(event)
        except ApiError:  # the log lost the run's events (410)
            pass
        for event in fold.close():
            yield _ENCODER.encode(event)

    async def run(self, request: Request) -> Response:
        graph_id = request.path_params["graph_id"]
        entry = self.api.manager.graphs.get(graph_id)
        if entry is None:
            raise ApiError(
                404, f"Graph {graph_id!r} is not served: {sorted(self.api.manager.graphs)}"
            )
        body = await self.api._raw_json(request)
        try:
            run = RunAgentInput.model_validate(body)
        except ValidationError as exc:
            raise ApiError(422, f"Not a RunAgentInput: {str(exc).splitlines()[0]}") from None
        thread_id = run.thread_id
        extras = {
            key: value
            for key, value in (
                ("tools", [t.model_dump() for t in run.tools or []]),
                ("context", [c.model_dump() for c in run.context or []]),
                ("forwarded_props", run.forwarded_props),
            )
            if value
        }
        config = {"configurable": {"ag_ui": extras}} if extras else None
        metadata = {"ag_ui_run_id": run.run_id}
        if run.resume:
            started = await self.runs.start(
                request, graph_id, thread_id, command=_resume(run), config=config, metadata=metadata
            )
        else:
            state = await entry.state(thread_id)
            started = await self.runs.start(
                request,
                graph_id,
                thread_id,
                graph_input=graph_input(run, state.get("values")),
                config=config,
                metadata=metadata,
            )
        fold = AgUiFold(thread_id, run.run_id)
        response = StreamingResponse(
            self._events(fold, thread_id, started.since),
            media_type=_ENCODER.get_content_type(),
            headers=HEADERS,
        )

        async def stop_if_gone() -> None:
            if not fold.finished:  # the client went away mid-run
                await self.runs.stop(thread_id)

        return ClosingResponse(response, stop_if_gone)  # type: ignore[return-value]


def routes(api: Any) -> list[BaseRoute]:
    """This protocol's routes over the server's API object (``app._Api``)."""
    ag_ui = _AgUi(api)
    return [Route("/ag-ui/{graph_id}", ag_ui.run, methods=["POST"])]
