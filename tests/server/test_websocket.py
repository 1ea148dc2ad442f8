"""``GET /ws``: the same run stream as JSON frames, then a completion frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN

RUN = {"assistant_id": "agent", "input": HUMAN, "stream_mode": ["messages-tuple", "updates"]}


async def _frames(ws: Any) -> list[dict[str, Any]]:
    frames = []
    try:
        async for message in ws:
            frames.append(json.loads(message))
    except ConnectionClosed:
        pass
    return frames


async def test_websocket_streams_the_same_events(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b", "c"]))})
    async with connect(server.url.replace("http", "ws") + "/ws") as ws:
        await ws.send(json.dumps(RUN))
        frames = await _frames(ws)
        assert ws.close_code == 1000
    assert [f["event"] for f in frames] == ["metadata", *["messages"] * 4, "updates", "end"]
    assert [int(f["id"]) for f in frames] == list(range(1, 8))
    assert [f["data"][0]["content"] for f in frames[1:5]] == ["a", "b", "c", ""]
    assert frames[-1]["data"]["status"] == "success"


async def test_websocket_cancel_frame_and_join(serve: Any) -> None:
    model = ScriptedChat(tokens=["x"] * 300, delay=0.01)
    server = serve({"agent": chat_graph(model)})
    ws_url = server.url.replace("http", "ws") + "/ws"
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({**RUN, "stream_resumable": True}))
        first = [json.loads(await ws.recv()) for _ in range(4)]
        run_id = first[0]["data"]["run_id"]
        async with connect(ws_url) as joined:
            await joined.send(json.dumps({"run_id": run_id, "last_event_id": "2"}))
            assert json.loads(await joined.recv())["id"] == "3"
            await ws.send(json.dumps({"action": "cancel"}))
            rest = await _frames(ws)
            assert rest[-1]["event"] == "end" and rest[-1]["data"]["status"] == "interrupted"
            joined_frames = await _frames(joined)
            assert joined_frames[-1] == rest[-1]
    assert model.events == ["opened", "closed"]


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ("not json", 4422),
        (json.dumps({"assistant_id": "nope"}), 4404),
        (json.dumps({"assistant_id": "agent", "stream_mode": "bogus"}), 4422),
        (json.dumps({"run_id": "missing"}), 4404),
    ],
)
async def test_websocket_refusals_close_with_a_code(serve: Any, first: str, code: int) -> None:
    server = serve({"agent": chat_graph(ScriptedChat())})
    async with connect(server.url.replace("http", "ws") + "/ws") as ws:
        await ws.send(first)
        frames = await _frames(ws)
    assert frames[0]["event"] == "error" and frames[0]["data"]["detail"]
    assert ws.close_code == code


async def test_websocket_needs_the_token(serve: Any) -> None:
    model = ScriptedChat(tokens=["a"])
    server = serve({"agent": chat_graph(model)}, api_token="ws-token-123456")
    url = server.url.replace("http", "ws") + "/ws"
    async with connect(url) as ws:
        await ws.send(json.dumps(RUN))
        await _frames(ws)
    assert ws.close_code == 4401
    assert model.events == []
    async with connect(url) as ws:
        await ws.send(json.dumps({**RUN, "authorization": "Bearer ws-token-123456"}))
        frames = await _frames(ws)
    assert frames[-1]["event"] == "end"
    async with connect(url, additional_headers={"Authorization": "Bearer ws-token-123456"}) as ws:
        await ws.send(json.dumps(RUN))
        assert (await _frames(ws))[-1]["event"] == "end"
