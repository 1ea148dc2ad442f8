"""The Agent Streaming Protocol driven by the official Python client (``langgraph-sdk``
0.4's thread streams over SSE) against ``streamtap serve``: send and stream tokens, an
interrupt answered with ``input.respond``, ``state.get``, a reader that reconnects with
``since``, and the errors of the command route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server._support import ScriptedChat, approval_graph, chat_graph

sdk = pytest.importorskip("langgraph_sdk")
pytest.importorskip("langgraph_sdk.stream")
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


def _text(message: dict[str, Any]) -> str:
    """A message's text: a v3 run's model answers carry content blocks (as on LangGraph)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if b.get("type") == "text")


async def test_send_and_stream_tokens_with_the_official_client(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["Hel", "lo", "!"]))})
    client = sdk.get_client(url=server.url)
    async with client.threads.stream(assistant_id="agent", transport="sse") as thread:
        started = await thread.run.start(input=HUMAN)
        assert isinstance(started["run_id"], str)
        streams = [m async for m in thread.messages]
        texts = [await s.text for s in streams]
        final = await thread.output
    assert texts == ["Hello!"]
    assert _text(final["messages"][-1]) == "Hello!"


async def test_an_interrupt_is_answered_with_input_respond(serve: Any) -> None:
    server = serve({"agent": approval_graph(ScriptedChat(tokens=["ok"]))})
    client = sdk.get_client(url=server.url)
    async with client.threads.stream(assistant_id="agent", transport="sse") as thread:
        await thread.run.start(input=HUMAN)
        _ = [m async for m in thread.messages]
        assert thread.interrupted
        interrupt_id = thread.interrupts[0]["interrupt_id"]
        assert isinstance(interrupt_id, str) and interrupt_id
        await thread.run.respond("yes")
        final = await thread.output
    assert _text(final["messages"][-1]) == "approved: yes"


async def _events(
    http: httpx.AsyncClient, thread: str, body: dict[str, Any], until: Any
) -> list[Any]:
    import json

    seen: list[Any] = []
    async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if until(seen):
                    break
    return seen


def _root_terminal(seen: list[Any]) -> bool:
    last = seen[-1]
    return (
        last["method"] == "lifecycle"
        and last["params"]["namespace"] == []
        and last["params"]["data"]["event"] in ("completed", "failed", "interrupted")
    )


async def test_a_reader_that_reconnects_with_since_gets_exactly_the_rest(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=[f"t{i}" for i in range(12)]))})
    thread = "5a0f4c52-0000-4000-8000-000000000001"
    channels = {"channels": ["messages", "values", "lifecycle", "input"]}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        started = await http.post(
            f"/threads/{thread}/commands",
            json={
                "id": 1,
                "method": "run.start",
                "params": {"assistant_id": "agent", "input": HUMAN},
            },
        )
        answer = started.json()
        assert (started.status_code, answer["type"], answer["id"]) == (200, "success", 1)
        # the cursor as the command found the log: the SDK resumes from it, so a run's
        # first events, however fast, are after it
        assert answer["meta"] == {"applied_through_seq": 0}
        unbroken = await _events(http, thread, channels, _root_terminal)
        first = await _events(http, thread, channels, lambda s: len(s) == 7)
        rest = await _events(http, thread, {**channels, "since": first[-1]["seq"]}, _root_terminal)
        state = await http.post(
            f"/threads/{thread}/commands",
            json={"id": 2, "method": "state.get", "params": {"namespace": []}},
        )
    assert first + rest == unbroken
    seqs = [e["seq"] for e in unbroken]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [e["event_id"] for e in unbroken] == [str(s) for s in seqs]
    deltas = [
        e["params"]["data"]["delta"]["text"]
        for e in unbroken
        if e["method"] == "messages" and e["params"]["data"]["event"] == "content-block-delta"
    ]
    assert deltas == [f"t{i}" for i in range(12)]
    got = state.json()
    assert got["type"] == "success"
    assert _text(got["result"]["values"]["messages"][-1]) == "".join(f"t{i}" for i in range(12))


async def test_command_and_stream_errors_are_langgraphs(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat())})
    async with httpx.AsyncClient(base_url=server.url) as http:
        path = "/threads/5a0f4c52-0000-4000-8000-000000000002"
        bad_json = await http.post(
            f"{path}/commands", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert (bad_json.status_code, bad_json.json()) == (400, {"detail": "Invalid JSON body"})
        no_id = await http.post(f"{path}/commands", json={"id": "x", "method": "run.start"})
        assert no_id.status_code == 400 and no_id.json()["error"] == "invalid_argument"
        unknown = await http.post(
            f"{path}/commands", json={"id": 3, "method": "bogus", "params": {}}
        )
        assert unknown.status_code == 200
        assert (unknown.json()["type"], unknown.json()["error"]) == ("error", "unknown_command")
        no_assistant = await http.post(
            f"{path}/commands", json={"id": 4, "method": "run.start", "params": {}}
        )
        assert no_assistant.json()["error"] == "invalid_argument"
        nothing_waits = await http.post(
            f"{path}/commands",
            json={
                "id": 5,
                "method": "input.respond",
                "params": {"interrupt_id": "i", "response": 1},
            },
        )
        assert nothing_waits.json()["error"] == "no_such_run"
        debug = await http.post(f"{path}/stream/events", json={"channels": ["debug"]})
        assert debug.status_code == 400 and "unsupported entries: debug" in debug.json()["detail"]


async def test_the_official_client_over_websocket(serve: Any) -> None:
    server = serve({"agent": approval_graph(ScriptedChat(tokens=["o", "k"]))})
    client = sdk.get_client(url=server.url)
    async with client.threads.stream(assistant_id="agent", transport="websocket") as thread:
        await thread.run.start(input=HUMAN)
        streams = [m async for m in thread.messages]
        texts = [await s.text for s in streams]
        assert thread.interrupted
        await thread.run.respond("yes")
        final = await thread.output
    assert texts == ["ok"]
    assert _text(final["messages"][-1]) == "approved: yes"


async def test_a_socket_sends_each_event_once_and_honours_since(serve: Any) -> None:
    """Two subscriptions with different filters on one socket: every event of either,
    once; a later subscription with ``since`` gets only what the socket had not sent."""
    import json

    import websockets

    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b", "c"]))})
    thread = "5a0f4c52-0000-4000-8000-000000000003"
    url = server.url.replace("http://", "ws://") + f"/threads/{thread}/stream/events"
    async with websockets.connect(url) as ws:

        async def command(n: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                frame: dict[str, Any] = json.loads(await ws.recv())
                if frame["type"] != "event":
                    assert frame["id"] == n
                    return frame
                events.append(frame)

        events: list[dict[str, Any]] = []
        lifecycle = await command(1, "subscription.subscribe", {"channels": ["lifecycle"]})
        assert lifecycle["type"] == "success" and lifecycle["result"]["replayed_events"] == 0
        started = await command(2, "run.start", {"assistant_id": "agent", "input": HUMAN})
        assert started["type"] == "success"
        while not (
            events
            and events[-1]["method"] == "lifecycle"
            and events[-1]["params"]["data"]["event"] == "completed"
        ):
            events.append(json.loads(await ws.recv()))
        assert {e["method"] for e in events} == {"lifecycle"}
        # a second subscription from the start: the messages it takes, nothing sent before
        messages = await command(
            3, "subscription.subscribe", {"channels": ["messages"], "since": 0}
        )
        replayed = [e for e in events if e["method"] == "messages"]
        assert messages["result"]["replayed_events"] == len(replayed) > 0
        seqs = [e["seq"] for e in events]
        assert len(set(seqs)) == len(seqs)
        bogus = await command(4, "subscription.subscribe", {"channels": ["debug"]})
        assert (bogus["type"], bogus["error"]) == ("error", "invalid_argument")
        await ws.send("{nope")
        assert json.loads(await ws.recv())["error"] == "invalid_argument"


async def test_state_commands_list_checkpoints_and_fork_from_one(serve: Any) -> None:
    """The spec's ``state.*`` commands (LangGraph's server answers ``unknown_command``):
    the thread's checkpoints newest first, and a run forked from the first one."""
    import asyncio

    server = serve({"agent": chat_graph(ScriptedChat(tokens=["x"]))})
    thread = "5a0f4c52-0000-4000-8000-000000000004"
    path = f"/threads/{thread}/commands"
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:

        async def command(n: int, method: str, params: dict[str, Any]) -> Any:
            answer = await http.post(path, json={"id": n, "method": method, "params": params})
            body = answer.json()
            assert body["type"] == "success", body
            return body["result"]

        await command(1, "run.start", {"assistant_id": "agent", "input": HUMAN})
        for _ in range(100):
            if (await http.get(f"/threads/{thread}")).json()["status"] == "idle":
                break
            await asyncio.sleep(0.05)
        listed = (await command(2, "state.listCheckpoints", {"limit": 10}))["checkpoints"]
        assert [c["step"] for c in listed] == [1, 0, -1]  # newest first
        assert all(isinstance(c["id"], str) and c["timestamp"] for c in listed)
        limited = (await command(3, "state.listCheckpoints", {"limit": 1}))["checkpoints"]
        assert [c["id"] for c in limited] == [listed[0]["id"]]
        forked = await command(4, "state.fork", {"checkpoint_id": listed[-1]["id"], "input": HUMAN})
        assert forked["thread_id"] == thread and isinstance(forked["run_id"], str)
        for _ in range(100):
            if (await http.get(f"/threads/{thread}")).json()["status"] == "idle":
                break
            await asyncio.sleep(0.05)
        state = await command(5, "state.get", {"namespace": []})
        # forked from the input checkpoint: one human message, not the first run's two
        assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
