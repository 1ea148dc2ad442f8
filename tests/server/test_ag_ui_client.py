"""AG-UI's real client, ``@ag-ui/client``'s ``HttpAgent`` (tests/js, pinned), in Node
against ``POST /ag-ui/{graph_id}`` of a streamtap server, for a streamtap.graph graph and
a LangGraph graph: streamed text, reasoning, two parallel tool calls, a custom progress
item, state snapshot and delta, a second turn (only the new message goes in), an
interrupt and its resume, an error mid-answer, a client abort (the run is stopped and
the model's stream closed); and the route's HTTP answers (404, 409, 422)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamtap.server import create_app
from tests.server._ag_ui_graphs import MODELS, PROGRESS, graphs
from tests.server._js_support import needs_node, npm_ci, run_node
from tests.server._support import LiveServer

pytestmark = [
    pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"),
]
ENGINES = ("st", "lg")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    app = create_app({**graphs("st"), **graphs("lg")}, disconnect_grace=0.2)
    with LiveServer(app) as live:
        yield live


def _types(run: dict[str, Any]) -> list[str]:
    return [e["type"] for e in run["events"]]


def _content(run: dict[str, Any], kind: str) -> str:
    return "".join(e["delta"] for e in run["events"] if e["type"] == kind)


@needs_node()
@pytest.mark.parametrize("engine", ENGINES)
def test_text_reasoning_parallel_tools_custom_state_second_turn(
    server: LiveServer, engine: str
) -> None:
    npm_ci()
    out = run_node("ag_ui_client.mjs", server.url, f"{engine}_agent", "run")
    first, second = out["runs"]
    assert first["error"] is None and second["error"] is None
    types = _types(first)
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED"
    assert first["events"][-1]["outcome"] == {"type": "success"}
    assert first["events"][-1]["usage"] == [
        {"inputTokens": 40, "outputTokens": 25, "totalTokens": 65}
    ]
    assert "RAW" not in types and "MESSAGES_SNAPSHOT" not in types
    assert _content(first, "REASONING_MESSAGE_CONTENT") == "Two searches."
    assert _content(first, "TEXT_MESSAGE_CONTENT") == "Let me look.Found both."
    customs = [e for e in first["events"] if e["type"] == "CUSTOM"]
    assert customs[0] == {"type": "CUSTOM", "name": "custom", "value": PROGRESS}
    steps = [(e["type"], e["stepName"]) for e in first["events"] if "STEP" in e["type"]]
    assert steps == [
        ("STEP_STARTED", "agent"),
        ("STEP_FINISHED", "agent"),
        ("STEP_STARTED", "tools"),
        ("STEP_FINISHED", "tools"),
        ("STEP_STARTED", "agent"),
        ("STEP_FINISHED", "agent"),
    ]
    states = [e for e in first["events"] if e["type"].startswith("STATE_")]
    assert states == [
        {"type": "STATE_SNAPSHOT", "snapshot": {}},
        {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/turns", "value": 1}]},
        {"type": "STATE_DELTA", "delta": [{"op": "replace", "path": "/turns", "value": 2}]},
    ]
    # each parallel call its own START / ARGS / END, never concatenated
    starts = [e["toolCallId"] for e in first["events"] if e["type"] == "TOOL_CALL_START"]
    assert starts == ["call_a", "call_b"]
    args = {
        c: "".join(
            e["delta"]
            for e in first["events"]
            if e["type"] == "TOOL_CALL_ARGS" and e["toolCallId"] == c
        )
        for c in starts
    }
    assert args == {"call_a": '{"q": "paris"}', "call_b": '{"q": "rome"}'}
    # what the client made of it
    roles = [(m["role"], m.get("content")) for m in out["messages"]]
    assert roles == [
        ("user", "hi"),
        ("reasoning", "Two searches."),
        ("assistant", "Let me look."),
        ("tool", "results for paris"),
        ("tool", "results for rome"),
        ("assistant", "Found both."),
        ("user", "again"),
        ("assistant", "Again."),
    ]
    calls = out["messages"][2]["toolCalls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_a", '{"q": "paris"}'),
        ("call_b", '{"q": "rome"}'),
    ]
    assert out["state"] == {"turns": 3}
    assert _content(second, "TEXT_MESSAGE_CONTENT") == "Again."


@needs_node()
@pytest.mark.parametrize("engine", ENGINES)
def test_interrupt_then_resume(server: LiveServer, engine: str) -> None:
    npm_ci()
    out = run_node("ag_ui_client.mjs", server.url, f"{engine}_approve", "interrupt")
    asked, resumed = out["runs"]
    outcome = asked["events"][-1]["outcome"]
    assert outcome["type"] == "interrupt"
    [interrupt] = outcome["interrupts"]
    assert interrupt["reason"] == "input_required"
    assert interrupt["metadata"] == {"payload": {"question": "send it?"}, "namespace": []}
    assert asked["pendingInterrupts"] == [interrupt]
    assert resumed["error"] is None and resumed["pendingInterrupts"] == []
    assert resumed["events"][-1]["outcome"] == {"type": "success"}
    assert [(m["role"], m.get("content")) for m in out["messages"]] == [
        ("user", "hi"),
        ("assistant", "Draft ready."),
        ("assistant", "approved: yes"),
    ]


@needs_node()
@pytest.mark.parametrize("engine", ENGINES)
def test_error_mid_answer(server: LiveServer, engine: str) -> None:
    npm_ci()
    out = run_node("ag_ui_client.mjs", server.url, f"{engine}_fail", "error")
    [run] = out["runs"]
    last = run["events"][-1]
    assert last["type"] == "RUN_ERROR" and last["code"] == "StreamInterrupted"
    assert "boom" in last["message"]
    assert _content(run, "TEXT_MESSAGE_CONTENT") == "Partial answ"
    assert out["messages"][-1]["content"] == "Partial answ"  # what streamed is kept


@needs_node()
@pytest.mark.parametrize("engine", ENGINES)
def test_client_abort_stops_the_run_and_closes_the_model_stream(
    server: LiveServer, engine: str
) -> None:
    npm_ci()
    model = MODELS[f"{engine}_slow"]
    began = time.monotonic()
    out = run_node("ag_ui_client.mjs", server.url, f"{engine}_slow", "abort")
    [run] = out["runs"]
    assert "RUN_FINISHED" not in _types(run)
    assert len(_content(run, "TEXT_MESSAGE_CONTENT")) < 100
    deadline = time.monotonic() + 5
    runs: list[dict[str, Any]] = []
    while [r["status"] for r in runs] != ["interrupted"]:  # stopped, not run to its end
        assert time.monotonic() < deadline, runs
        runs = httpx.get(f"{server.url}/threads/{out['threadId']}/runs", timeout=10).json()
        time.sleep(0.02)
    while model.events[-1:] != ["closed"]:  # "finished" had it run to its end
        assert time.monotonic() < deadline, f"the model's stream was not closed: {model.events}"
        time.sleep(0.02)
    # closed by the stop, long before its 400 tokens x 20 ms
    assert time.monotonic() - began < 6


def _body(thread: str, **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": "r1",
        "messages": [{"id": "u1", "role": "user", "content": "hi"}],
        **extra,
    }


def test_unknown_graph_busy_thread_bad_body(server: LiveServer) -> None:
    async def check() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            missing = await client.post("/ag-ui/nope", json=_body("t-404"))
            assert missing.status_code == 404
            bad = await client.post("/ag-ui/st_agent", json={"threadId": "x"})
            assert bad.status_code == 422
            async with client.stream("POST", "/ag-ui/lg_busy", json=_body("t-409")) as first:
                assert first.status_code == 200
                # kept referenced: a dropped line iterator's finalizer closes the response,
                # which stops the run (its client went away) before the second request
                lines = first.aiter_lines()
                while "TEXT_MESSAGE_CONTENT" not in await anext(lines):
                    pass
                busy = await client.post("/ag-ui/lg_busy", json=_body("t-409"))
                assert busy.status_code == 409, busy.text[:3000]
            # the first response closed early: its run is stopped, the thread free again
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                probe = await client.post("/ag-ui/lg_fail", json=_body("t-409"))
                if probe.status_code == 200:
                    assert "RUN_ERROR" in probe.text
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the thread stayed busy after its client went away")

    asyncio.run(check())


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_whose_logs_are_in_redis(serve: Any, redis_url: str, engine: str) -> None:
    """The events come back from Redis as JSON (messages and tool results as dicts, not
    LangChain objects): the same AG-UI stream."""
    live = serve(graphs(engine), redis_url=redis_url)
    reply = httpx.post(
        f"{live.url}/ag-ui/{engine}_agent", json=_body(f"redis-{engine}"), timeout=30
    )
    events = [json.loads(line[6:]) for line in reply.text.split("\n\n") if line]
    types = [e["type"] for e in events]
    assert types.count("TEXT_MESSAGE_START") == 2 and types.count("TOOL_CALL_START") == 2
    results = [e["content"] for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert results == ["results for paris", "results for rome"]
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Let me look.Found both."
    assert events[-1]["outcome"] == {"type": "success"}


def test_client_state_tools_context_and_history_go_in(server: LiveServer) -> None:
    """The client's state keys go in with the input (``turns`` starts at 5); tools,
    context and forwarded props reach the graph's config; a new thread takes the
    client's whole history, an old one only the messages it lacks."""
    body = _body(
        "t-state",
        messages=[
            {"id": "s1", "role": "system", "content": "Be brief."},
            {"id": "u0", "role": "user", "content": "earlier"},
            {"id": "a0", "role": "assistant", "content": "noted"},
            {"id": "u1", "role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
        state={"turns": 5},
        tools=[{"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}],
        context=[{"description": "user", "value": "Ada"}],
        forwardedProps={"mode": "fast"},
    )
    reply = httpx.post(f"{server.url}/ag-ui/st_approve", json=body, timeout=30)
    events = [json.loads(line[6:]) for line in reply.text.split("\n\n") if line]
    assert events[1] == {"type": "STATE_SNAPSHOT", "snapshot": {"turns": 5}}
    assert events[-1]["outcome"]["type"] == "interrupt"
    state = httpx.get(f"{server.url}/threads/t-state/state", timeout=10).json()
    texts = [(m["type"], m["content"]) for m in state["values"]["messages"]]
    assert texts[:4] == [
        ("system", "Be brief."),
        ("human", "earlier"),
        ("ai", "noted"),
        ("human", [{"type": "text", "text": "hi"}]),
    ]
    assert [t for t, _ in texts[4:]] == ["ai"]  # the draft
    reply = httpx.post(f"{server.url}/ag-ui/st_config", json={**body, "threadId": "t-cfg"})
    events = [json.loads(line[6:]) for line in reply.text.split("\n\n") if line]
    [custom] = [e for e in events if e["type"] == "CUSTOM"]
    assert custom["value"] == {
        "tools": [{"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}],
        "context": [{"description": "user", "value": "Ada"}],
        "forwarded_props": {"mode": "fast"},
    }
    # a finished message no model streamed, sent whole
    assert _content({"events": events}, "TEXT_MESSAGE_CONTENT") == "configured"
