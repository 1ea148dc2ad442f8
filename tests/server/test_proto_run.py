"""A run as protocol items (``_proto_run``): the root lifecycle around LangGraph's own v3
events, interrupts as ``input.requested``, failures as ``lifecycle failed``; the same
items from a streamtap.graph graph and from the LangGraph graph built the same way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamtap.server._graphs import GraphEntry
from streamtap.server._proto_run import run_events
from tests.server._support import ScriptedChat, approval_graph, chat_graph

HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


async def _items(graph: Any, thread: str, graph_input: Any = HUMAN) -> list[Any]:
    entry = GraphEntry("agent", graph, None)
    config = {"configurable": {"thread_id": thread}}
    return [
        item async for item in run_events(entry.stateful, graph_input, config, graph_name="agent")
    ]


def _messages(items: list[Any]) -> list[Any]:
    return [(d["event"], d.get("delta", {}).get("text")) for m, _, d in items if m == "messages"]


async def test_a_streamed_answer_is_framed_by_the_root_lifecycle() -> None:
    items = await _items(chat_graph(ScriptedChat(tokens=["Hel", "lo"])), "t1")
    assert items[0] == ("lifecycle", (), {"event": "running", "graph_name": "agent"})
    assert items[-1] == ("lifecycle", (), {"event": "completed", "graph_name": "agent"})
    assert _messages(items) == [
        ("message-start", None),
        ("content-block-start", None),
        ("content-block-delta", "Hel"),
        ("content-block-delta", "lo"),
        ("content-block-finish", None),
        ("message-finish", None),
    ]
    values = [d for m, _, d in items if m == "values"]
    assert values[-1]["messages"][-1].text == "Hello"


async def test_an_interrupt_is_asked_once_and_ends_the_run_interrupted() -> None:
    items = await _items(approval_graph(ScriptedChat(tokens=["ok"])), "t2")
    asked = [d for m, _, d in items if m == "input.requested"]
    assert len(asked) == 1 and asked[0]["payload"] == {"question": "send it?"}
    assert isinstance(asked[0]["interrupt_id"], str) and asked[0]["interrupt_id"]
    assert items[-1] == ("lifecycle", (), {"event": "interrupted", "graph_name": "agent"})
    where = [m for m, _, _ in items].index("input.requested")
    # asked as soon as the step's update names it (the update of nothing else is not
    # sent), then the state at the interrupt, the task's end, and the root's terminal
    assert [m for m, _, _ in items[where - 1 :]] == [
        "tasks",
        "input.requested",
        "values",
        "tasks",
        "lifecycle",
    ]
    assert items[where + 2][2]["interrupts"] and items[where + 2][2]["name"] == "approve"
    assert not [d for m, _, d in items if m == "updates" and "__interrupt__" in d]


async def test_a_failure_ends_with_lifecycle_failed_and_no_secret() -> None:
    model = ScriptedChat(tokens=["a", "b", "c"], fail_after=1)
    items = [
        item
        async for item in run_events(
            GraphEntry("agent", chat_graph(model), None).stateful,
            HUMAN,
            {"configurable": {"thread_id": "t3"}},
            graph_name="agent",
            secrets=("sk-abcdefghijklmnopqrstuv",),
        )
    ]
    method, namespace, data = items[-1]
    assert (method, namespace, data["event"]) == ("lifecycle", (), "failed")
    assert "model exploded" in data["error"] and "sk-abcdefghijklmnopqrstuv" not in data["error"]


async def test_langgraph_builds_the_same_items() -> None:
    pytest.importorskip("langgraph")
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = ScriptedChat(tokens=["Hel", "lo"])

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    ours = await _items(chat_graph(ScriptedChat(tokens=["Hel", "lo"])), "t4")
    theirs = await _items(builder.compile(), "t5")
    assert [(m, ns) for m, ns, _ in ours] == [(m, ns) for m, ns, _ in theirs]
    assert _messages(ours) == _messages(theirs)


async def test_every_channel_the_spec_defines_has_its_events() -> None:
    """``updates`` and ``custom`` in LangGraph's raw shapes, ``checkpoints`` as the spec's
    ``{id, parent_id, step, source}``; ``tools`` from a ToolNode's call."""
    items = await _items(chat_graph(ScriptedChat(tokens=["a"]), progress=[50, 100]), "t6")
    by: dict[str, list[Any]] = {}
    for method, _, data in items:
        by.setdefault(method, []).append(data)
    assert by["custom"] == [{"progress": 50}, {"progress": 100}]
    assert list(by["updates"][-1]) == ["agent"]
    checkpoints = by["checkpoints"]
    assert [c["source"] for c in checkpoints] == ["input", "loop", "loop"]
    assert [c["step"] for c in checkpoints] == [-1, 0, 1]
    assert "parent_id" not in checkpoints[0]
    assert [c["parent_id"] for c in checkpoints[1:]] == [c["id"] for c in checkpoints[:-1]]


async def test_a_tool_call_is_reported_on_the_tools_channel() -> None:
    pytest.importorskip("langgraph.prebuilt")
    from langchain_core.tools import tool
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @tool
    def search(q: str) -> str:
        """Look it up."""
        return f"found {q}"

    model = ScriptedChat(
        tokens=[], tool_call={"name": "search", "args": '{"q": "x"}', "id": "call_1"}
    )

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([search]))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_edge("tools", END)
    items = await _items(builder.compile(), "t7")
    tools = [d for m, _, d in items if m == "tools"]
    assert [t["event"] for t in tools] == ["tool-started", "tool-finished"]
    assert tools[0]["tool_call_id"] == "call_1" and tools[0]["tool_name"] == "search"
    assert tools[0]["input"] == {"q": "x"}
    finishes = [
        d
        for m, ns, d in items
        if m == "messages" and not ns and d["event"] == "content-block-finish"
    ]
    assert finishes[-1]["content"] == {
        "type": "tool_call",
        "id": "call_1",
        "name": "search",
        "args": {"q": "x"},
    }
    # the tool's result mirrored on messages below the tools node, as LangGraph's server does
    where = [i for i, (m, _, d) in enumerate(items) if m == "tools"][-1]
    text = {"type": "text", "text": "found x"}
    start = items[where + 1][2]
    assert start == {
        "event": "message-start",
        "role": "tool",
        "id": start["id"],
        "tool_call_id": "call_1",
    }
    blank = {"type": "text", "text": ""}
    assert items[where + 2 : where + 6] == [
        (
            "messages",
            ("tools:call_1",),
            {"event": "content-block-start", "index": 0, "content": blank},
        ),
        (
            "messages",
            ("tools:call_1",),
            {"event": "content-block-delta", "index": 0, "content": text},
        ),
        (
            "messages",
            ("tools:call_1",),
            {"event": "content-block-finish", "index": 0, "content": text},
        ),
        ("messages", ("tools:call_1",), {"event": "message-finish", "metadata": {}}),
    ]


@pytest.mark.parametrize("engine", ["langgraph.graph", "streamtap.graph"])
async def test_a_stopped_run_closes_its_model_stream_at_once(engine: str) -> None:
    """The server's run is cancelled while a node's model streams (langchain-core runs
    the stream in a ``gather`` child task): by the time the run's task is done, the
    model's stream is closed, as with LangGraph. With streamtap.graph it used to go on
    to its end: the pull in flight was not waited for before the graph's generator was
    closed ("already running", left to the garbage collector), and closing the node
    threw into it without cancelling the future it waited on."""
    import gc
    import importlib
    import warnings

    graph = importlib.import_module(engine)
    model = ScriptedChat(tokens=[f"t{i}" for i in range(200)], delay=0.01)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    compiled = builder.compile()
    five = asyncio.Event()

    async def consume() -> None:
        n = 0
        async for method, _, _ in run_events(compiled, HUMAN, {}, graph_name="agent"):
            n += method == "messages"
            if n == 5:
                five.set()

    for _ in range(5):
        model.events.clear()
        five.clear()
        task = asyncio.create_task(consume())
        await five.wait()  # cancelled as the consumer reads on: a pull in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert model.events == ["opened", "closed"], engine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gc.collect()
