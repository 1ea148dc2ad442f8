"""Graphs the OpenAI-compatible tests drive (``test_openai_compat*.py``), built with either
engine.

``graphs(prefix)`` gives ``{"<prefix>_<name>": compiled graph}``, prefix ``lg`` for
``langgraph.graph`` and ``st`` for ``streamtap.graph``:

- ``text``: the model streams ``Hel`` ``lo`` `` wor`` ``ld`` (usage 3 + 4).
- ``reasoning``: reasoning ``think`` ``ing``, then the text ``Done.``.
- ``client_tools``: the model is bound to the request's tools
  (``config["configurable"]["openai_tools"]``) and streams text and two parallel tool
  calls of the client's; nothing runs them; the run ends (the client's turn).
- ``graph_tools``: the model streams a tool call, a ``ToolNode`` runs it, the model
  answers ``It is sunny.``: the client sees no tool call.
- ``approve``: a model streams ``Draft ready``, then ``approve`` asks (``interrupt``).
- ``fail``: the model streams ``Hel`` ``lo``, then the node raises (the run fails).
- ``plain``: a node returns ``Plain answer.`` without a model (no ``messages`` events).
- ``slow``: a :class:`ScriptedChat` streams 200 paced tokens; :data:`SLOW` records
  whether its stream was closed early (a client abort).

Every run builds its own ``FakeChatModel`` (one script per request), so a graph answers
any number of runs the same way.
"""

from __future__ import annotations

import importlib
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from streamtap.testing import FakeChatModel
from streamtap.testing.fake import Finish, Reasoning, ToolCall, Usage
from tests.server._support import ScriptedChat

ENGINES = {"lg": "langgraph.graph", "st": "streamtap.graph"}
TOKENS = ["Hel", "lo", " wor", "ld"]
#: the client's tools, as an OpenAI request sends them
CLIENT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The time in a zone.",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
        },
    },
]
CLIENT_CALLS = [
    "Checking.",
    ToolCall(0, "call_a", "get_weather", '{"city":'),
    ToolCall(1, "call_b", "get_time", '{"tz":'),
    ToolCall(0, args=' "Paris"}'),
    ToolCall(1, args=' "CET"}'),
    Usage(5, 6),
    Finish("tool_calls"),
]
#: the slow graph's models, by prefix: their ``events`` end with "closed" after an abort
SLOW: dict[str, ScriptedChat] = {}


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def graphs(prefix: str) -> dict[str, Any]:
    from langgraph.prebuilt import ToolNode

    graph = importlib.import_module(ENGINES[prefix])
    types = importlib.import_module("langgraph.types" if prefix == "lg" else ENGINES[prefix])

    def streams(*script: Any) -> Any:
        async def call(state: dict[str, Any]) -> dict[str, Any]:
            model = FakeChatModel(scripts=[list(script)])
            return {"messages": [await model.ainvoke(state["messages"])]}

        return call

    async def client_tools(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tools = config.get("configurable", {}).get("openai_tools")
        if not tools:  # nothing to call: answer in words
            return await streams("No tools.")(state)
        model = FakeChatModel(scripts=[CLIENT_CALLS]).bind_tools(tools)
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def graph_agent(state: dict[str, Any]) -> dict[str, Any]:
        if state["messages"][-1].type == "tool":
            return await streams("It is ", "sunny.", Usage(7, 3))(state)
        ask = [ToolCall(0, "call_w", "weather", '{"city": "Paris"}'), Usage(4, 2)]
        return await streams(*ask, Finish("tool_calls"))(state)

    def route(state: dict[str, Any]) -> str:
        return "tools" if state["messages"][-1].tool_calls else graph.END

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        types.interrupt({"question": "send it?"})
        return {}

    async def failing(state: dict[str, Any]) -> dict[str, Any]:
        await streams("Hel", "lo")(state)
        raise ValueError("the tool backend is down")

    slow_model = SLOW.setdefault(prefix, ScriptedChat(tokens=["x "] * 200, delay=0.02))

    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await slow_model.ainvoke(state["messages"])]}

    def chain(*nodes: tuple[str, Any]) -> Any:
        builder = graph.StateGraph(graph.MessagesState)
        previous = graph.START
        for name, fn in nodes:
            builder.add_node(name, fn)
            builder.add_edge(previous, name)
            previous = name
        builder.add_edge(previous, graph.END)
        return builder.compile()

    looped = graph.StateGraph(graph.MessagesState)
    looped.add_node("agent", graph_agent)
    looped.add_node("tools", ToolNode([weather]))
    looped.add_edge(graph.START, "agent")
    looped.add_conditional_edges("agent", route, ["tools", graph.END])
    looped.add_edge("tools", "agent")
    built = {
        "text": chain(("agent", streams(*TOKENS, Usage(3, 4)))),
        "reasoning": chain(("agent", streams(Reasoning("think"), Reasoning("ing"), "Done."))),
        "client_tools": chain(("agent", client_tools)),
        "graph_tools": looped.compile(),
        "approve": chain(("draft", streams("Draft ", "ready")), ("approve", approve)),
        "fail": chain(("agent", failing)),
        "plain": chain(("agent", lambda state: {"messages": [AIMessage("Plain answer.")]})),
        "slow": chain(("agent", slow)),
    }
    return {f"{prefix}_{name}": compiled for name, compiled in built.items()}
