"""The Agent Streaming Protocol's other channels and commands, with the official Python
client (``langgraph-sdk`` 0.4) against ``streamtap serve``, for a LangGraph graph and a
streamtap.graph one: ``tasks``, a graph's named channel (``custom:<name>``), a
subgraph's namespace and ``lifecycle``, ``agent.getTree`` and ``input.inject``."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.server._oracle_graphs import nested, stream_transformers

sdk = pytest.importorskip("langgraph_sdk")
transport = pytest.importorskip("langgraph_sdk.stream.transport")
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
ENGINES = ["langgraph.graph", "streamtap.graph"]


def _texts(values: dict[str, Any]) -> list[str]:
    out = []
    for m in values["messages"]:
        content = m["content"]
        if not isinstance(content, str):
            content = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        out.append(content)
    return out


@pytest.mark.parametrize("engine", ENGINES)
async def test_tasks_named_channels_and_subgraphs_reach_the_official_client(
    serve: Any, engine: str
) -> None:
    server = serve({"agent": nested(engine)}, stream_transformers={"agent": stream_transformers})
    client = sdk.get_client(url=server.url)
    async with client.threads.stream(assistant_id="agent", transport="sse") as thread:
        await thread.run.start(input=HUMAN)
        events = [e async for e in thread.subscribe(["tasks", "custom:progress", "lifecycle"])]
        final = await thread.output
    assert _texts(final) == ["hi", "Plan.", "Subgraph.", "tides: high"]
    progress = [e["params"]["data"] for e in events if e["method"] == "custom"]
    assert progress == [{"name": "progress", "payload": {"done": 0.5}}]  # not the raw custom
    tasks = [
        (e["params"]["namespace"], e["params"]["data"]) for e in events if e["method"] == "tasks"
    ]
    started = [(len(ns), d["name"]) for ns, d in tasks if "triggers" in d]
    ended = [(len(ns), d["name"], d["error"]) for ns, d in tasks if "result" in d]
    assert started == [(0, "plan"), (0, "research"), (1, "dig"), (0, "tools")]
    assert ended == [(0, "plan", None), (1, "dig", None), (0, "research", None), (0, "tools", None)]
    sub_ns = next(ns for ns, d in tasks if d["name"] == "dig")
    research_id = next(d["id"] for ns, d in tasks if d["name"] == "research")
    assert sub_ns == [f"research:{research_id}"]
    lifecycle = [
        (e["params"]["namespace"], e["params"]["data"])
        for e in events
        if e["method"] == "lifecycle"
    ]
    assert lifecycle == [
        ([], {"event": "running", "graph_name": "agent"}),
        (
            sub_ns,
            {
                "event": "started",
                "namespace": sub_ns,
                "graph_name": "research",
                "trigger_call_id": research_id,
            },
        ),
        (sub_ns, {"event": "completed", "graph_name": "research"}),
        ([], {"event": "completed", "graph_name": "agent"}),
    ]
    # a subscription below the subgraph sees only its events
    async with httpx.AsyncClient(base_url=server.url) as http:
        sse = transport.ProtocolSseTransport(client=http, thread_id=thread.thread_id)
        handle = sse.open_event_stream(
            {"channels": ["messages", "lifecycle"], "namespaces": [["research"]], "depth": 0}
        )
        await handle.ready
        seen = []
        async for event in handle.events:
            seen.append(event)
            if event["method"] == "lifecycle" and event["params"]["data"]["event"] == "completed":
                break
        await handle.close()
    assert {tuple(e["params"]["namespace"]) for e in seen} == {tuple(sub_ns)}
    text = "".join(
        e["params"]["data"]["delta"]["text"]
        for e in seen
        if e["params"]["data"].get("event") == "content-block-delta"
    )
    assert text == "Subgraph."


async def _command(http: httpx.AsyncClient, thread: str, method: str, **params: Any) -> Any:
    reply = await http.post(
        f"/threads/{thread}/commands", json={"id": 1, "method": method, "params": params}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize("engine", ENGINES)
async def test_agent_get_tree_names_each_namespace_and_its_status(serve: Any, engine: str) -> None:
    server = serve({"agent": nested(engine)})
    thread = "0c6b7a1e-0000-4000-8000-00000000000" + str(len(engine) % 10)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        none = await _command(http, thread, "agent.getTree")
        assert none["type"] == "error" and none["error"] == "no_such_run"
        started = await _command(http, thread, "run.start", assistant_id="agent", input=HUMAN)
        await http.get(f"/threads/{thread}/runs/{started['result']['run_id']}/join")
        tree = (await _command(http, thread, "agent.getTree"))["result"]["tree"]
        same = await _command(http, thread, "agent.getTree", run_id=started["result"]["run_id"])
        assert same["result"]["tree"] == tree
        other = await _command(http, thread, "agent.getTree", run_id="no-such-run")
        assert (other["type"], other["error"]) == ("error", "no_such_run")
        again = await _command(http, thread, "run.start", assistant_id="agent", input=HUMAN)
        await http.get(f"/threads/{thread}/runs/{again['result']['run_id']}/join")
        older = await _command(http, thread, "agent.getTree", run_id=started["result"]["run_id"])
        assert (older["type"], older["error"]) == ("error", "not_supported")
    child = tree["children"][0]
    assert re.fullmatch(r"research:[0-9a-f-]{36}", child["namespace"][0])
    assert tree == {
        "namespace": [],
        "status": "completed",
        "graph_name": "agent",
        "children": [
            {"namespace": child["namespace"], "status": "completed", "graph_name": "research"}
        ],
    }


@pytest.mark.parametrize("engine", ENGINES)
async def test_input_inject_sends_a_message_into_the_thread(serve: Any, engine: str) -> None:
    server = serve({"agent": nested(engine)})
    client = sdk.get_client(url=server.url)
    async with client.threads.stream(assistant_id="agent", transport="sse") as thread:
        await thread.run.start(input=HUMAN)
        await thread.output
        tid = thread.thread_id
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        bad = await _command(
            http, tid, "input.inject", namespace=[], message={"role": "ai", "content": "x"}
        )
        assert (bad["type"], bad["error"]) == ("error", "invalid_argument")
        deep = await _command(
            http,
            tid,
            "input.inject",
            namespace=["research"],
            message={"role": "user", "content": "x"},
        )
        assert (deep["type"], deep["error"]) == ("error", "no_such_namespace")
        unknown = await _command(
            http,
            "0c6b7a1e-0000-4000-8000-0000000000ff",
            "input.inject",
            namespace=[],
            message={"role": "user", "content": "x"},
        )
        assert (unknown["type"], unknown["error"]) == ("error", "no_such_run")
        done = await _command(
            http, tid, "input.inject", namespace=[], message={"role": "user", "content": "and more"}
        )
        assert done["type"] == "success" and done["result"] == {}
        runs = (await http.get(f"/threads/{tid}/runs")).json()
        assert len(runs) == 2  # the first, and the one the injected message started
        await http.get(f"/threads/{tid}/runs/{runs[0]['run_id']}/join")
        state = (await http.get(f"/threads/{tid}/state")).json()["values"]
    assert _texts(state)[4:] == ["and more", "Plan.", "Subgraph.", "tides: high"]


async def test_run_start_on_a_busy_thread_queues_behind_the_running_run(serve: Any) -> None:
    """As on LangGraph's server, ``run.start`` defaults to ``enqueue``: the second run
    starts once the first ended, and the log holds both, one after the other;
    ``multitaskStrategy: "reject"`` is refused instead."""
    from tests.server._support import ScriptedChat, chat_graph

    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b", "c"], delay=0.05))})
    thread = "0c6b7a1e-0000-4000-8000-0000000000aa"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        first = await _command(http, thread, "run.start", assistant_id="agent", input=HUMAN)
        second = await _command(http, thread, "run.start", assistant_id="agent", input=HUMAN)
        refused = await _command(
            http, thread, "run.start", assistant_id="agent", input=HUMAN, multitaskStrategy="reject"
        )
        assert first["type"] == second["type"] == "success"
        assert refused["type"] == "error" and refused["error"] == "invalid_argument"
        await http.get(f"/threads/{thread}/runs/{second['result']['run_id']}/join")
        body = {"channels": ["lifecycle", "messages"]}
        ends: list[str] = []
        texts: list[str] = []
        async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = json.loads(line[6:])["params"]["data"]
                if data.get("event") == "message-start":
                    texts.append("")
                if data.get("event") == "content-block-delta":
                    texts[-1] += data["delta"]["text"]
                if data.get("event") in ("running", "completed"):
                    ends.append(data["event"])
                if ends.count("completed") == 2:
                    break
    assert ends == ["running", "completed", "running", "completed"]
    assert texts == ["abc", "abc"]


async def test_input_respond_names_the_namespace_that_asked(serve: Any) -> None:
    """An interrupt asked inside a subgraph is answered there: another namespace is
    ``no_such_interrupt`` (as on LangGraph's server), the right one resumes the run."""
    from tests.server._oracle_graphs import nested_approval

    server = serve({"agent": nested_approval("streamtap.graph")})
    thread = "0c6b7a1e-0000-4000-8000-0000000000bb"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        started = await _command(http, thread, "run.start", assistant_id="agent", input=HUMAN)
        await http.get(f"/threads/{thread}/runs/{started['result']['run_id']}/join")
        body = {"channels": ["input"]}
        async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    asked = json.loads(line[6:])["params"]
                    break
        interrupt_id, namespace = asked["data"]["interrupt_id"], asked["namespace"]
        assert len(namespace) == 1 and namespace[0].startswith("review:")
        wrong = await _command(
            http, thread, "input.respond", interrupt_id=interrupt_id, response="x", namespace=[]
        )
        assert (wrong["type"], wrong["error"]) == ("error", "no_such_interrupt")
        right = await _command(
            http,
            thread,
            "input.respond",
            interrupt_id=interrupt_id,
            response="yes",
            namespace=namespace,
        )
        assert right["type"] == "success"
        runs = (await http.get(f"/threads/{thread}/runs")).json()
        await http.get(f"/threads/{thread}/runs/{runs[0]['run_id']}/join")
        state = (await http.get(f"/threads/{thread}/state")).json()["values"]
    assert _texts(state) == ["hi", "shipped: yes"]
