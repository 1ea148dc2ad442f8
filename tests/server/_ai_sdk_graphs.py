"""Graphs the AI SDK tests drive (``test_ai_sdk*.py``), built with either engine.

``graphs(prefix)`` gives ``{"<prefix>_<name>": compiled graph}``, prefix ``lg`` for
``langgraph.graph`` and ``st`` for ``streamtap.graph``:

- ``answer``: ``agent`` writes a custom progress item, then the model streams reasoning,
  text and two parallel tool calls (with usage); a ``ToolNode`` runs both; the run ends.
- ``approve``: the model streams a draft, ``approve`` asks (``interrupt``), then a model
  streams ``approved: <answer>``.
- ``fail``: the model streams ``Hel`` ``lo``, then the node raises (the run fails).
- ``slow``: the model streams :data:`SLOW_TOKENS`, paced (abort, stop, resume); its
  model is :data:`SLOW` ``[prefix]``.

Every run builds its own ``FakeChatModel`` (one script per request), so a graph answers
any number of runs the same way.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from langchain_core.tools import tool

from streamtap.testing import FakeChatModel
from streamtap.testing.fake import Reasoning, ToolCall, Usage
from tests.server._support import ScriptedChat

ENGINES = {"lg": "langgraph.graph", "st": "streamtap.graph"}
SLOW_TOKENS = [f"w{i} " for i in range(40)]
#: each engine's ``slow`` model: its ``events`` say whether its stream was closed early
SLOW: dict[str, ScriptedChat] = {}
#: the answer's script: reasoning, text, two parallel tool calls (fragments interleaved)
ANSWER = [
    Reasoning("think"),
    "Let ",
    "me.",
    ToolCall(0, "call_1", "search", '{"q":'),
    ToolCall(1, "call_2", "weather", '{"city":'),
    ToolCall(0, args=' "x"}'),
    ToolCall(1, args=' "Paris"}'),
    Usage(3, 4),
]


@tool
async def search(q: str) -> str:
    """Look it up."""
    return f"found {q}"


@tool
async def weather(city: str) -> str:
    """The weather in a city (answers after ``search``: the parts' order is fixed)."""
    await asyncio.sleep(0.1)
    return f"sunny in {city}"


def graphs(prefix: str) -> dict[str, Any]:
    from langgraph.prebuilt import ToolNode

    graph = importlib.import_module(ENGINES[prefix])
    types = importlib.import_module("langgraph.types" if prefix == "lg" else ENGINES[prefix])
    config = importlib.import_module("langgraph.config" if prefix == "lg" else ENGINES[prefix])

    def streams(*script: Any) -> Any:
        async def call(state: dict[str, Any]) -> dict[str, Any]:
            model = FakeChatModel(scripts=[list(script)])
            return {"messages": [await model.ainvoke(state["messages"])]}

        return call

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        config.get_stream_writer()({"progress": 50})
        return await streams(*ANSWER)(state)

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        return {"answer": types.interrupt({"question": "send it?"})}

    async def approved(state: dict[str, Any]) -> dict[str, Any]:
        return await streams(f"approved: {state['answer']}")(state)

    async def failing(state: dict[str, Any]) -> dict[str, Any]:
        await streams("Hel", "lo")(state)
        raise ValueError("the tool backend is down")

    class Approval(graph.MessagesState):  # type: ignore[name-defined,misc]
        answer: str

    def chain(*nodes: tuple[str, Any], state: Any = graph.MessagesState) -> Any:
        builder = graph.StateGraph(state)
        previous = graph.START
        for name, fn in nodes:
            builder.add_node(name, fn)
            builder.add_edge(previous, name)
            previous = name
        builder.add_edge(previous, graph.END)
        return builder.compile()

    # one per engine for every server the tests start, whatever order they run in
    slow = SLOW.setdefault(prefix, ScriptedChat(tokens=SLOW_TOKENS, delay=0.05))

    async def slow_agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await slow.ainvoke(state["messages"])]}

    built = {
        "answer": chain(("agent", agent), ("tools", ToolNode([search, weather]))),
        "approve": chain(
            ("draft", streams("Draft ", "ready")),
            ("approve", approve),
            ("answer", approved),
            state=Approval,
        ),
        "fail": chain(("agent", failing)),
        "slow": chain(("agent", slow_agent)),
    }
    return {f"{prefix}_{name}": compiled for name, compiled in built.items()}
