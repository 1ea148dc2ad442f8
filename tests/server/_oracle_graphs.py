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
