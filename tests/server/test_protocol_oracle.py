"""LangGraph's own server as the oracle: the same graph behind ``langgraph dev`` and
behind ``streamtap serve`` (LangGraph's graph, and the graph built with streamtap.graph),
driven the same way over the Agent Streaming Protocol, gives the same ``messages``,
``lifecycle`` and ``input`` events (ids, seqs and timestamps aside)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from bench.server_load import (
    ServerProcess,
    agent_graph,
    langgraph_agent_graph,
    langgraph_dev_available,
    scripted_model,
)


def _serves_the_protocol() -> bool:
    """langgraph-api serves the thread-stream routes from 0.16 on."""
    if not langgraph_dev_available():
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("langgraph-api").split(".")[:2])
    return (major, minor) >= (0, 16)


pytestmark = pytest.mark.skipif(
    not _serves_the_protocol(),
    reason="the oracle needs langgraph-cli[inmem] (langgraph-api >= 0.16)",
)
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
CHANNELS = ["messages", "lifecycle", "input", "values"]
_RUN_ID = re.compile(r"lc_run--[0-9a-f-]+")


Seen = list[tuple[str, list[str], Any, int]]


async def _scenario(
    base: str,
    thread: str,
    command: dict[str, Any] | None = None,
    since: int = 0,
    channels: list[str] = CHANNELS,
    ends: int = 1,
) -> Seen:
    """A command (default: ``run.start``), then the thread's events after ``since`` until
    the ``ends``-th terminal lifecycle of the root: ``(method, namespace, data, seq)``."""
    command = command or {
        "method": "run.start",
        "params": {"assistant_id": "agent", "input": HUMAN},
    }
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = await http.post(f"/threads/{thread}/commands", json={"id": 1, **command})
        assert started.json()["type"] == "success", started.text
        seen: Seen = []
        body = {"channels": channels, "since": since}
        async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                params = event["params"]
                data = params["data"]
                seen.append((event["method"], params["namespace"], data, event["seq"]))
                if (
                    event["method"] == "lifecycle"
                    and not params["namespace"]
                    and data.get("event") in ("completed", "failed", "interrupted")
                ):
                    ends -= 1
                    if not ends:
                        return seen
    raise AssertionError("the stream ended before the run did")


def _terminal_last(events: Seen) -> Seen:
    """A run's root ``interrupted`` after all of its events. LangGraph's server sends it
    as soon as the interrupt is asked, and the run's last events (the state at the
    interrupt, the subgraph's ``interrupted``) after it; streamtap sends it last (a kept
    difference, docs/agent-protocol.md)."""
    out: Seen = []
    held: Any = None
    for event in events:
        method, namespace, data, _ = event
        root = method == "lifecycle" and not namespace
        if root and data.get("event") == "interrupted":
            held = event
            continue
        if root and held is not None:
            out.append(held)
            held = None
        out.append(event)
    return out + ([held] if held is not None else [])


def _normalized(events: Seen) -> list[Any]:
    out: list[Any] = []
    for method, namespace, data, _ in _terminal_last(events):
        if method == "input.requested":  # ids are the engines' own
            data = {**data, "interrupt_id": "*"}
        if method == "values":  # messages' text only: LangGraph compacts them differently
            out.append((method, namespace, _texts(data)))
            continue
        if method == "updates":
            out.append((method, namespace, {node: _texts(v) for node, v in data.items()}))
            continue
        text = _RUN_ID.sub("lc_run--*", json.dumps(data, sort_keys=True))
        data = json.loads(text)
        if method == "messages" and data.get("event") in ("message-start", "message-finish"):
            data.pop("metadata", None)  # provider / model names differ by serving set-up
        out.append((method, namespace, data))
    return out


def _texts(values: Any) -> list[Any]:
    return [
        m["content"] if isinstance(m["content"], str) else [b.get("text") for b in m["content"]]
        for m in (values or {}).get("messages", [])
    ]


def _oracle(graph: str) -> ServerProcess:
    """``langgraph dev`` serving ``tests/server/_oracle_graphs.py``'s ``graph()`` (with
    that module's ``stream_transformers`` export, which LangGraph's server reads)."""
    from pathlib import Path

    oracle = ServerProcess(1, delay=0.0, target="langgraph-dev")
    assert oracle.workdir is not None
    module = (
        f"from tests.server._oracle_graphs import {graph}, stream_transformers\n\n"
        f"graph = {graph}()\n"
    )
    Path(oracle.workdir, "graph.py").write_text(module, encoding="utf-8")
    return oracle


async def test_messages_lifecycle_and_values_match_langgraph_dev(serve: Any) -> None:
    with ServerProcess(4, delay=0.0, target="langgraph-dev") as oracle:
        theirs = _normalized(await _scenario(oracle.url, "5a0f4c52-0000-4000-8000-0000000000a1"))
    model = scripted_model(4, 0.0)
    for graph in (langgraph_agent_graph(model), agent_graph(scripted_model(4, 0.0))):
        server = serve({"agent": graph})
        ours = _normalized(await _scenario(server.url, "5a0f4c52-0000-4000-8000-0000000000a2"))
        assert ours == theirs


async def test_a_tool_call_and_an_interrupt_answered_match_langgraph_dev(serve: Any) -> None:
    """Text and a streamed tool call, a tool node, an interrupt, then ``input.respond``:
    the two servers' events are equal, before and after the answer."""
    from pathlib import Path

    from tests.server._oracle_graphs import review

    async def both_halves(base: str, thread: str) -> list[Any]:
        first = await _scenario(base, thread)
        asked = [d for m, _, d, _ in first if m == "input.requested"]
        assert len(asked) == 1, first
        respond = {
            "method": "input.respond",
            "params": {"interrupt_id": asked[0]["interrupt_id"], "response": "yes"},
        }
        # the whole log once both runs are over, the first run's last events included
        return _normalized(await _scenario(base, thread, respond, ends=2))

    oracle = ServerProcess(1, delay=0.0, target="langgraph-dev")
    assert oracle.workdir is not None
    module = "from tests.server._oracle_graphs import review\n\ngraph = review()\n"
    Path(oracle.workdir, "graph.py").write_text(module, encoding="utf-8")
    with oracle:
        theirs = await both_halves(oracle.url, "5a0f4c52-0000-4000-8000-0000000000a3")
    asked: tuple[str, list[str], dict[str, Any]] = (
        "input.requested",
        [],
        {"interrupt_id": "*", "payload": {"question": "send it?"}},
    )
    assert asked in theirs
    for engine in ("langgraph.graph", "streamtap.graph"):
        server = serve({"agent": review(engine)})
        ours = await both_halves(server.url, f"5a0f4c52-0000-4000-8000-0000000000b{len(engine)}")
        assert ours == theirs, engine


async def test_subgraph_namespaces_updates_and_named_custom_channels_match_langgraph_dev(
    serve: Any,
) -> None:
    """A subgraph streaming its own model and writing a custom item, under a graph module
    that exports ``stream_transformers`` (updates, custom, and a named ``progress``
    channel): every channel LangGraph's server sends for it is equal on streamtap, the
    subgraph's ``lifecycle started`` / ``completed`` at its namespace included."""
    from tests.server._oracle_graphs import nested, stream_transformers

    channels = ["values", "updates", "messages", "custom", "lifecycle", "input"]
    with _oracle("nested") as oracle:
        theirs = _normalized(
            await _scenario(oracle.url, "5a0f4c52-0000-4000-8000-0000000000d1", channels=channels)
        )
    sub = [e for e in theirs if e[0] == "lifecycle" and e[1]]
    assert [(e[2]["event"], e[2].get("graph_name")) for e in sub] == [
        ("started", "research"),
        ("completed", "research"),
    ]
    assert ("custom", [], {"name": "progress", "payload": {"done": 0.5}}) in theirs
    for engine in ("langgraph.graph", "streamtap.graph"):
        server = serve(
            {"agent": nested(engine)}, stream_transformers={"agent": stream_transformers}
        )
        ours = _normalized(
            await _scenario(
                server.url, f"5a0f4c52-0000-4000-8000-0000000000e{len(engine)}", channels=channels
            )
        )
        assert _tasks_free(ours) == _tasks_free(theirs), engine


def _tasks_free(events: list[Any]) -> list[Any]:
    """Subgraph namespaces carry the task id, which each engine makes itself."""
    text = re.sub(r"([A-Za-z_]+):[0-9a-f]{8}-[0-9a-f-]{27}", r"\1:*", json.dumps(events))
    return json.loads(re.sub(r'"trigger_call_id": "[0-9a-f-]{36}"', '"trigger_call_id": "*"', text))


async def _stopped(base: str, thread: str) -> tuple[Seen, str, str]:
    """``run.start``, then the REST cancel once the model's fourth token is out, as
    ``useStream``'s ``stop()`` does; the events to the root's terminal lifecycle, then
    the run's and the thread's status."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        command = {
            "id": 1,
            "method": "run.start",
            "params": {"assistant_id": "agent", "input": HUMAN},
        }
        run_id = (await http.post(f"/threads/{thread}/commands", json=command)).json()["result"][
            "run_id"
        ]
        seen: Seen = []
        body = {"channels": CHANNELS}
        async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                params = event["params"]
                data = params["data"]
                seen.append((event["method"], params["namespace"], data, event["seq"]))
                if data.get("delta") == {"type": "text-delta", "text": "t3 "}:
                    cancel = await http.post(f"/threads/{thread}/runs/{run_id}/cancel")
                    assert cancel.status_code == 202, cancel.text
                if not params["namespace"] and data.get("event") == "interrupted":
                    break
        run = (await http.get(f"/threads/{thread}/runs/{run_id}")).json()
        state = (await http.get(f"/threads/{thread}")).json()
        return seen, run["status"], state["status"]


def _without_deltas(events: Seen) -> tuple[list[Any], str]:
    """The events but the text deltas (how many get out before the stop is timing), and
    the text those deltas made."""
    rest = [e for e in events if e[2].get("event") != "content-block-delta"]
    text = "".join(
        e[2]["delta"]["text"] for e in events if e[2].get("event") == "content-block-delta"
    )
    return _tasks_free(_normalized(rest)), text


async def test_a_run_stopped_mid_answer_ends_as_on_langgraph_dev(serve: Any) -> None:
    """Stopped while a subgraph's model streams: the subgraph's namespace is closed with
    ``completed``, then the root ``interrupted``; the run is ``interrupted``, the thread
    ``idle``, and the model's stream was closed (streamtap)."""
    from tests.server._oracle_graphs import slow

    with _oracle("slow") as oracle:
        events, run, thread = await _stopped(oracle.url, "5a0f4c52-0000-4000-8000-0000000000f1")
    theirs, their_text = _without_deltas(events)
    assert (run, thread) == ("interrupted", "idle")
    assert [e[2]["event"] for e in theirs if e[0] == "lifecycle"] == [
        "running",
        "started",
        "completed",
        "interrupted",
    ]
    for engine in ("langgraph.graph", "streamtap.graph"):
        graph = slow(engine)
        server = serve({"agent": graph})
        events, run, thread = await _stopped(
            server.url, f"5a0f4c52-0000-4000-8000-0000000000f{len(engine)}"
        )
        ours, text = _without_deltas(events)
        assert ours == theirs, engine
        assert (run, thread) == ("interrupted", "idle"), engine
        for got in (text, their_text):
            assert got.startswith("t0 t1 t2 t3 ") and "".join(
                f"t{i} " for i in range(200)
            ).startswith(got)


async def test_an_interrupt_inside_a_subgraph_matches_langgraph_dev(serve: Any) -> None:
    """Asked inside a subgraph: ``input.requested`` at the subgraph's namespace, its
    ``interrupted`` lifecycle, answered with ``input.respond`` naming that namespace; the
    whole log of both runs is equal (the root ``interrupted`` placed last, as above)."""
    from tests.server._oracle_graphs import nested_approval

    async def both_halves(base: str, thread: str) -> list[Any]:
        first = await _scenario(base, thread)
        asked = [(ns, d) for m, ns, d, _ in first if m == "input.requested"]
        assert len(asked) == 1 and asked[0][0], first
        namespace, request = asked[0]
        respond = {
            "method": "input.respond",
            "params": {
                "interrupt_id": request["interrupt_id"],
                "response": "yes",
                "namespace": namespace,
            },
        }
        return _tasks_free(_normalized(await _scenario(base, thread, respond, ends=2)))

    with _oracle("nested_approval") as oracle:
        theirs = await both_halves(oracle.url, "5a0f4c52-0000-4000-8000-0000000000f7")
    asked = [
        "input.requested",
        ["review:*"],
        {"interrupt_id": "*", "payload": {"question": "ship it?"}},
    ]
    assert asked in theirs
    assert theirs[-2] == ["values", [], ["hi", "shipped: yes"]]
    for engine in ("langgraph.graph", "streamtap.graph"):
        server = serve({"agent": nested_approval(engine)})
        ours = await both_halves(
            server.url, f"5a0f4c52-0000-4000-8000-0000000000f{len(engine) - 5}"
        )
        assert ours == theirs, engine
