"""The official langgraph-sdk client against a streamtap server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.schema import RunCreateMetadata

from streamtap.graph import END, START, MessagesState, StateGraph
from streamtap.server._serde import dumps, loads
from tests.server._support import ScriptedChat, approval_graph, chat_graph
from tests.server.conftest import HUMAN


async def _direct(graph: Any, modes: list[str]) -> list[tuple[str, Any]]:
    """What the graph itself streams, serialised as the server should send it."""
    graph_modes = ["messages" if m == "messages-tuple" else m for m in modes]
    return [
        (mode, loads(dumps(payload)))
        async for mode, payload in graph.astream(HUMAN, stream_mode=graph_modes)
    ]


_VARYING = frozenset(
    {"id", "run_id", "thread_id", "assistant_id", "graph_id"}
    | {"langgraph_checkpoint_ns", "checkpoint_ns"}
)


def _strip_ids(value: Any) -> Any:
    """Message ids and run metadata differ between two runs; everything else must match."""
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


async def test_sdk_receives_every_item_in_order(serve: Any) -> None:
    tokens = [f"t{i}" for i in range(25)]
    model = ScriptedChat(tokens=tokens, usage={"input_tokens": 4, "output_tokens": 25})
    graph = chat_graph(model, progress=[10, 60, 100])
    server = serve({"agent": graph})
    created: list[RunCreateMetadata] = []
    client = get_client(url=server.url, api_key=None)
    parts = [
        part
        async for part in client.runs.stream(
            None,
            "agent",
            input=HUMAN,
            stream_mode=["messages-tuple", "updates", "custom"],
            on_run_created=created.append,
        )
    ]
    events = [p.event for p in parts]
    assert events[0] == "metadata" and events[-1] == "end"
    assert parts[0].data == {"run_id": created[0]["run_id"], "attempt": 1}
    assert parts[-1].data == {"run_id": created[0]["run_id"], "status": "success"}
    assert created[0]["thread_id"]  # stateless runs still get a (temporary) thread id

    # Every SSE event has an increasing id.
    ids = [int(p.id) for p in parts]
    assert ids == list(range(1, len(parts) + 1))

    body = parts[1:-1]
    assert [p.event for p in body] == (
        ["custom"] * 3 + ["messages"] * (len(tokens) + 2) + ["updates"]
    )
    assert [p.data for p in body[:3]] == [{"progress": 10}, {"progress": 60}, {"progress": 100}]
    chunks = [p.data[0] for p in body[3:-1]]
    assert [c["content"] for c in chunks] == [*tokens, "", ""]
    assert all(c["type"] == "AIMessageChunk" for c in chunks)
    assert {"tool_call_chunks", "usage_metadata", "response_metadata", "id"} <= set(chunks[0])
    assert chunks[-2]["usage_metadata"] == {
        "input_tokens": 4,
        "output_tokens": 25,
        "total_tokens": 29,
    }
    meta = body[3].data[1]
    assert meta["langgraph_node"] == "agent"
    assert meta["graph_id"] == "agent" and meta["run_id"] == created[0]["run_id"]
    final = body[-1].data["agent"]["messages"][0]
    assert final["type"] == "ai" and final["content"] == "".join(tokens)

    # Same items, same order, as the graph streams them directly.
    same = chat_graph(ScriptedChat(tokens=tokens, usage=model.usage), progress=[10, 60, 100])
    direct = await _direct(same, ["messages-tuple", "updates", "custom"])
    assert [(m, _strip_ids(p)) for m, p in direct] == [(p.event, _strip_ids(p.data)) for p in body]


async def test_sdk_v2_parts_and_subgraph_namespaces(serve: Any) -> None:
    inner_model = ScriptedChat(tokens=["in", "ner"])

    async def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await inner_model.ainvoke(state["messages"])]}

    sub = StateGraph(MessagesState)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    parent = StateGraph(MessagesState)
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "sub")
    parent.add_edge("sub", END)
    server = serve({"nested": parent.compile()})
    client = get_client(url=server.url, api_key=None)
    parts = [
        p
        async for p in client.runs.stream(
            None,
            "nested",
            input=HUMAN,
            stream_mode=["messages-tuple", "updates"],
            stream_subgraphs=True,
            version="v2",
        )
    ]
    kinds = [(p["type"], len(p["ns"])) for p in parts]
    assert kinds[0] == ("metadata", 0)
    assert ("messages", 1) in kinds and ("updates", 1) in kinds and kinds[-1] == ("updates", 0)
    sub_tokens = [p["data"][0]["content"] for p in parts if p["type"] == "messages"]
    assert sub_tokens == ["in", "ner", ""]
    assert all(p["ns"][0].startswith("sub:") for p in parts if p["type"] == "messages")


async def test_messages_mode_accumulates_like_the_platform(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b", "c"]))})
    client = get_client(url=server.url, api_key=None)
    parts = [
        p async for p in client.runs.stream(None, "agent", input=HUMAN, stream_mode="messages")
    ]
    events = [p.event for p in parts]
    assert events[1] == "messages/metadata"
    partial = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert partial[:3] == ["a", "ab", "abc"]
    assert all(p.data[0]["type"] == "ai" for p in parts if p.event == "messages/partial")


async def test_threads_state_interrupt_and_resume(serve: Any) -> None:
    server = serve({"approve": approval_graph(ScriptedChat(tokens=["draft"]))})
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create(metadata={"graph_id": "approve"})
    tid = thread["thread_id"]
    first = [
        p
        async for p in client.runs.stream(
            tid, "approve", input=HUMAN, stream_mode=["values", "updates"]
        )
    ]
    updates = [p.data for p in first if p.event == "updates"]
    assert updates[-1]["__interrupt__"][0]["value"] == {"question": "send it?"}
    values = [p.data for p in first if p.event == "values"]
    assert values[-1]["__interrupt__"][0]["id"] == updates[-1]["__interrupt__"][0]["id"]
    assert first[-1].data["status"] == "success"
    state = await client.threads.get_state(tid)
    assert state["next"] == ["approve"]
    assert state["interrupts"][0]["value"] == {"question": "send it?"}
    assert (await client.threads.get(tid))["status"] == "interrupted"

    resumed = [
        p
        async for p in client.runs.stream(
            tid, "approve", command={"resume": "yes"}, stream_mode="updates"
        )
    ]
    assert [p.data for p in resumed if p.event == "updates"] == [
        {"approve": {"messages": [loads(dumps(_approval("yes")))]}}
    ]
    state = await client.threads.get_state(tid)
    assert state["next"] == []
    assert [m["content"] for m in state["values"]["messages"]] == ["hi", "draft", "approved: yes"]
    assert (await client.threads.get(tid))["status"] == "idle"
    runs = await client.runs.list(tid)
    assert [r["status"] for r in runs] == ["success", "success"]


def _approval(answer: str) -> Any:
    from langchain_core.messages import AIMessage

    return AIMessage(f"approved: {answer}", id="approval")


async def test_error_event_follows_everything_produced_and_masks_secrets(serve: Any) -> None:
    model = ScriptedChat(tokens=["a", "b", "c", "d"], fail_after=2)
    server = serve({"agent": chat_graph(model)}, api_token="server-secret-token")
    client = get_client(
        url=server.url, api_key=None, headers={"Authorization": "Bearer server-secret-token"}
    )
    parts = [
        p
        async for p in client.runs.stream(None, "agent", input=HUMAN, stream_mode="messages-tuple")
    ]
    assert [p.event for p in parts] == ["metadata", "messages", "messages", "error", "end"]
    assert [p.data[0]["content"] for p in parts[1:3]] == ["a", "b"]
    error = parts[3].data
    assert error["error"] == "RuntimeError"
    assert "model exploded" in error["message"]
    assert "abcdefghijklmnop" not in error["message"]
    assert parts[-1].data["status"] == "error"


@pytest.mark.parametrize("sync", [True, False])
async def test_langgraph_graph_is_served_too(serve: Any, sync: bool) -> None:
    from langgraph.graph import END as LG_END
    from langgraph.graph import START as LG_START
    from langgraph.graph import MessagesState as LGState
    from langgraph.graph import StateGraph as LGGraph

    model = ScriptedChat(tokens=["x", "y"])

    def agent(state: LGState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: LGState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = LGGraph(LGState)
    builder.add_node("agent", agent if sync else aagent)
    builder.add_edge(LG_START, "agent")
    builder.add_edge("agent", LG_END)
    server = serve({"lg": builder.compile()})
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "lg", input=HUMAN, stream_mode=["messages-tuple", "values"]
        )
    ]
    assert [p.data[0]["content"] for p in parts if p.event == "messages"] == ["x", "y", ""]
    assert parts[-1].event == "end"
    state = await client.threads.get_state(thread["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]] == ["hi", "xy"]
