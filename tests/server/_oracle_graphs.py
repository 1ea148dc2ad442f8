"""Graphs served both by ``langgraph dev`` and by ``streamtap serve`` in the oracle tests
(``test_protocol_oracle.py``): the same graph, built with either engine.

``review(engine)``: the model answers with text and a streamed tool call, a ``tools``
node runs the tool, an ``approve`` node asks the user (``interrupt``), and the answer
ends the run.
"""

from __future__ import annotations

import importlib
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from tests.server._support import ScriptedChat


def review(engine: str = "langgraph.graph") -> Any:
    graph = importlib.import_module(engine)
    types = importlib.import_module("langgraph.types" if engine == "langgraph.graph" else engine)
    model = ScriptedChat(
        tokens=["Let me ", "look."],
        tool_call={"name": "search", "args": '{"q": "weather"}', "id": "call_1"},
    )

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def tools(state: dict[str, Any]) -> dict[str, Any]:
        call = state["messages"][-1].tool_calls[0]
        result = f"found {call['args']['q']}"
        return {"messages": [ToolMessage(result, tool_call_id=call["id"], id="tool-result")]}

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        answer = types.interrupt({"question": "send it?"})
        return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_node("approve", approve)
    builder.add_edge(graph.START, "agent")
    builder.add_edge("agent", "tools")
    builder.add_edge("tools", "approve")
    builder.add_edge("approve", graph.END)
    return builder.compile()


def nested(engine: str = "langgraph.graph") -> Any:
    """A ``plan`` node, then a ``research`` subgraph whose model streams text and whose
    node writes a custom progress item, then a ``tools`` node that runs the parent
    model's tool call (``ToolCallTransformer`` sees it through ``ToolNode``'s callbacks)."""
    graph = importlib.import_module(engine)
    config = importlib.import_module("langgraph.config" if engine == "langgraph.graph" else engine)
    inner_model = ScriptedChat(tokens=["Sub", "graph."])
    outer_model = ScriptedChat(
        tokens=["Plan."],
        tool_call={"name": "lookup", "args": '{"q": "tides"}', "id": "call_7"},
    )

    async def plan(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await outer_model.ainvoke(state["messages"])]}

    async def dig(state: dict[str, Any]) -> dict[str, Any]:
        config.get_stream_writer()({"progress": 0.5})
        return {"messages": [await inner_model.ainvoke(state["messages"])]}

    inner = graph.StateGraph(graph.MessagesState)
    inner.add_node("dig", dig)
    inner.add_edge(graph.START, "dig")
    research = inner.compile()

    def tools(state: dict[str, Any]) -> dict[str, Any]:
        call = next(
            m for m in reversed(state["messages"]) if getattr(m, "tool_calls", None)
        ).tool_calls[0]
        return {"messages": [ToolMessage(f"{call['args']['q']}: high", tool_call_id=call["id"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("plan", plan)
    builder.add_node("research", research)
    builder.add_node("tools", tools)
    builder.add_edge(graph.START, "plan")
    builder.add_edge("plan", "research")
    builder.add_edge("research", "tools")
    builder.add_edge("tools", graph.END)
    return builder.compile()


def stream_transformers() -> list[Any]:
    """What a graph module exports to have LangGraph's server send ``updates``, ``custom``
    and a named channel (``custom:progress``); streamtap serves the first two anyway."""
    from langgraph.stream import StreamChannel, StreamTransformer
    from langgraph.stream.transformers import CustomTransformer, UpdatesTransformer

    class Progress(StreamTransformer):
        required_stream_modes = ("custom",)

        def __init__(self, scope: tuple[str, ...] = ()) -> None:
            super().__init__(scope)
            self.channel: StreamChannel[Any] = StreamChannel("progress")

        def init(self) -> dict[str, Any]:
            return {"progress": self.channel}

        def process(self, event: Any) -> bool:
            data = event["params"]["data"]
            if event["method"] == "custom" and isinstance(data, dict) and "progress" in data:
                self.channel.push({"done": data["progress"]})
            return True

    return [UpdatesTransformer, CustomTransformer, Progress]


def slow(engine: str = "langgraph.graph") -> Any:
    """A subgraph whose model streams 200 tokens, 20 ms apart: long enough to be stopped."""
    graph = importlib.import_module(engine)
    model = ScriptedChat(tokens=[f"t{i} " for i in range(200)], delay=0.02)

    async def talk(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    inner = graph.StateGraph(graph.MessagesState)
    inner.add_node("talk", talk)
    inner.add_edge(graph.START, "talk")
    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("chat", inner.compile())
    builder.add_edge(graph.START, "chat")
    return builder.compile()


def nested_approval(engine: str = "langgraph.graph") -> Any:
    """An ``approve`` node inside a ``review`` subgraph asks the user (``interrupt``)."""
    graph = importlib.import_module(engine)
    types = importlib.import_module("langgraph.types" if engine == "langgraph.graph" else engine)

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        answer = types.interrupt({"question": "ship it?"})
        return {"messages": [AIMessage(f"shipped: {answer}", id="shipped")]}

    inner = graph.StateGraph(graph.MessagesState)
    inner.add_node("approve", approve)
    inner.add_edge(graph.START, "approve")
    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("review", inner.compile())
    builder.add_edge(graph.START, "review")
    return builder.compile()
