"""The Agent Streaming Protocol behind the server's auth: an API token on every transport
(commands, SSE, and the WebSocket, whose handshake carries it), and per-user ownership
with LangGraph's custom auth: another user's thread is not there, over any command or
subscription."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.server._support import ScriptedChat, approval_graph
from tests.server.test_auth import owner_auth

sdk = pytest.importorskip("langgraph_sdk")
websockets = pytest.importorskip("websockets")
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
TOKEN = "secret-token-123"


def _ws_url(base: str, thread: str) -> str:
    return base.replace("http://", "ws://") + f"/threads/{thread}/stream/events"


async def _refused(url: str, headers: dict[str, str] | None = None) -> int:
    """The close code of a socket the server refuses (before or right after accepting)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        async with connect(url, additional_headers=headers or {}) as ws:
            await ws.send(
                '{"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}'
            )
            await ws.recv()
            await ws.recv()
    except InvalidStatus as exc:  # refused before the handshake completes: HTTP 403
        return exc.response.status_code
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code
    raise AssertionError("the socket was not refused")


async def test_the_api_token_is_asked_on_every_transport(serve: Any) -> None:
    server = serve({"agent": approval_graph(ScriptedChat(tokens=["ok"]))}, api_token=TOKEN)
    thread = "7d1c0a55-0000-4000-8000-000000000001"
    async with httpx.AsyncClient(base_url=server.url) as http:
        command = {"id": 1, "method": "run.start", "params": {"assistant_id": "agent"}}
        assert (await http.post(f"/threads/{thread}/commands", json=command)).status_code == 401
        body = {"channels": ["values"]}
        assert (await http.post(f"/threads/{thread}/stream/events", json=body)).status_code == 401
    assert await _refused(_ws_url(server.url, thread)) == 403  # handshake refused
    assert await _refused(_ws_url(server.url, thread), {"x-api-key": "wrong-token-xx"}) == 403
    client = sdk.get_client(url=server.url, api_key=TOKEN)  # sent as x-api-key
    for transport in ("sse", "websocket"):
        # langgraph-sdk's WebSocket handshake carries the stream's own headers, not the
        # client's: the key goes there too
        key = {"x-api-key": TOKEN}
        async with client.threads.stream(
            assistant_id="agent", transport=transport, headers=key
        ) as stream:
            await stream.run.start(input=HUMAN)
            assert [await s.text for s in [m async for m in stream.messages]] == ["ok"]
            assert stream.interrupted, transport


async def test_another_users_thread_is_not_there_over_the_protocol(serve: Any) -> None:
    server = serve({"agent": approval_graph(ScriptedChat(tokens=["ok"]))}, auth=owner_auth())
    ada = sdk.get_client(url=server.url, headers={"Authorization": "Bearer tok-ada-123"})
    async with ada.threads.stream(assistant_id="agent", transport="sse") as stream:
        await stream.run.start(input=HUMAN)
        _ = [m async for m in stream.messages]
        assert stream.interrupted
        thread = stream.thread_id
        interrupt_id = stream.interrupts[0]["interrupt_id"]
    bob = {"Authorization": "Bearer tok-bob-456"}
    async with httpx.AsyncClient(base_url=server.url, headers=bob) as http:
        for method, params in (
            ("state.get", {"namespace": []}),
            ("state.listCheckpoints", {}),
            ("agent.getTree", {}),
            ("input.respond", {"interrupt_id": interrupt_id, "response": "yes"}),
            ("input.inject", {"namespace": [], "message": {"role": "user", "content": "x"}}),
            ("run.start", {"assistant_id": "agent", "input": "yes"}),
        ):
            reply = await http.post(
                f"/threads/{thread}/commands", json={"id": 1, "method": method, "params": params}
            )
            assert reply.status_code == 200
            assert (reply.json()["type"], reply.json()["error"]) == ("error", "no_such_run"), method
        sse = await http.post(f"/threads/{thread}/stream/events", json={"channels": ["values"]})
        assert sse.status_code == 404
    assert await _refused(_ws_url(server.url, thread), bob) == 4404  # on its first event
    assert await _refused(_ws_url(server.url, thread), {"Authorization": "Bearer nope"}) == 403
    # ada's thread is untouched: her answer still resumes it
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": "Bearer tok-ada-123"}
    ) as http:
        state = await http.post(
            f"/threads/{thread}/commands",
            json={"id": 1, "method": "state.get", "params": {"namespace": []}},
        )
        messages = state.json()["result"]["values"]["messages"]
        assert [m["type"] for m in messages] == ["human", "ai"]  # bob's answers never ran
        assert messages[-1]["content"][0]["text"] == "ok"


async def test_a_socket_command_past_the_body_limit_is_refused(serve: Any) -> None:
    from websockets.asyncio.client import connect

    server = serve({"agent": approval_graph(ScriptedChat(tokens=["ok"]))}, max_body_bytes=2_000)
    url = _ws_url(server.url, "7d1c0a55-0000-4000-8000-000000000009")
    async with connect(url) as ws:
        big = {
            "id": 1,
            "method": "run.start",
            "params": {"assistant_id": "agent", "input": "x" * 3_000},
        }
        await ws.send(json.dumps(big))
        reply = json.loads(await ws.recv())
        assert reply == {
            "type": "error",
            "id": None,
            "error": "invalid_argument",
            "message": "Commands are limited to 2000 bytes",
        }
        await ws.send(json.dumps({"id": 2, "method": "state.get", "params": {}}))
        assert json.loads(await ws.recv())["error"] == "no_such_run"  # the socket goes on
