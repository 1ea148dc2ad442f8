"""The runs the chat frontends build on (``_chat_runs``): start a run on a chat's thread,
read exactly its events, find the one going on and where its events start (a resume),
stop it."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from streamtap.server import create_app
from streamtap.server._chat_runs import ChatRuns
from streamtap.server._http import ApiError
from tests.server._support import ScriptedChat, chat_graph

HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


def _conn() -> Request:
    return Request(
        {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    )


async def _texts(runs: ChatRuns, thread: str, since: int) -> tuple[str, str]:
    text, end = "", ""
    async for event in runs.events(thread, since):
        if event.method == "messages" and event.data.get("event") == "content-block-delta":
            text += event.data["delta"]["text"]
        if event.method == "lifecycle" and not event.namespace:
            end = event.data["event"]
    return text, end


async def test_start_read_resume_and_stop() -> None:
    app = create_app({"agent": chat_graph(ScriptedChat(tokens=["a", "b", "c"], delay=0.05))})
    async with app.router.lifespan_context(app):
        runs = ChatRuns(app.state.api)
        thread = "chat-1"
        first = await runs.start(_conn(), "agent", thread, graph_input=HUMAN)
        assert await _texts(runs, thread, first.since) == ("abc", "completed")
        assert await runs.active(thread) is None
        second = await runs.start(_conn(), "agent", thread, graph_input=HUMAN)
        assert second.since > first.since
        with pytest.raises(ApiError) as busy:  # reject: one run at a time on a chat
            await runs.start(_conn(), "agent", thread, graph_input=HUMAN)
        assert busy.value.status == 409
        await asyncio.sleep(0.08)
        going = await runs.active(thread)
        assert going is not None and going.run_id == second.run_id
        assert going.since == second.since  # a resume reads the run from its first event
        assert await _texts(runs, thread, going.since) == ("abc", "completed")
        third = await runs.start(_conn(), "agent", thread, graph_input=HUMAN)
        await asyncio.sleep(0.08)
        assert await runs.stop(thread) is True
        text, end = await _texts(runs, thread, third.since)
        assert end == "interrupted" and "abc".startswith(text)
        assert await runs.stop(thread) is False
        with pytest.raises(ApiError) as unknown:
            await runs.start(_conn(), "nope", thread, graph_input=HUMAN)
        assert unknown.value.status == 404
