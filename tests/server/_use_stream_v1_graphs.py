"""Graphs the ``@langchain/react`` v1 ``useStream`` page drives (``test_use_stream_v1.py``),
served by ``streamtap serve`` and by ``langgraph dev`` (the oracle) alike: the same graph,
built with either engine.

``graphs(engine)`` gives ``{"<prefix>_<name>": compiled graph}``, prefix ``lg`` for
``langgraph.graph`` and ``st`` for ``streamtap.graph``:

- ``chat``: a model streams :data:`CHAT_TOKENS`, paced.
- ``tools``: the model streams text and a tool call, a ``ToolNode`` runs it, a second
  model call answers.
- ``review``: as ``tools`` but an ``approve`` node asks (``interrupt``) before it ends.
- ``slow``: a model streams :data:`SLOW_TOKENS`, paced (stop and reload mid-run).

``langgraph dev`` reports the ``tools`` channel only for transformers a graph module opts
into: :func:`stream_transformers` is that opt-in, which the oracle's ``graph.py`` exports.
"""

from __future__ import annotations

import importlib
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from tests.server._support import ScriptedChat

CHAT_TOKENS = ["The ", "answer ", "is ", "forty", "-two", "."]
SLOW_TOKENS = [f"w{i} " for i in range(40)]
TOOL_CALL = {"name": "search", "args": '{"q": "weather"}', "id": "call_1"}
ENGINES = {"lg": "langgraph.graph", "st": "streamtap.graph"}


@tool
def search(q: str) -> str:
    """Look it up."""
    return f"found {q}"


def stream_transformers() -> list[Any]:
    """For ``langgraph dev``: report the ``tools`` channel (streamtap always does)."""
    from langgraph.prebuilt._tool_call_transformer import ToolCallTransformer

    return [ToolCallTransformer]


def graphs(prefix: str) -> dict[str, Any]:
    from langgraph.prebuilt import ToolNode

    graph = importlib.import_module(ENGINES[prefix])
    types = importlib.import_module("langgraph.types" if prefix == "lg" else ENGINES[prefix])

    def model_node(model: Any) -> Any:
        async def call(state: dict[str, Any]) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        return call

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        answer = types.interrupt({"question": "send it?"})
        return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}

    def chain(*nodes: tuple[str, Any]) -> Any:
        builder = graph.StateGraph(graph.MessagesState)
        previous = graph.START
        for name, fn in nodes:
            builder.add_node(name, fn)
            builder.add_edge(previous, name)
            previous = name
        builder.add_edge(previous, graph.END)
        return builder.compile()

    def asking() -> Any:
        return model_node(ScriptedChat(tokens=["Let me ", "look."], tool_call=TOOL_CALL))

    built = {
        "chat": chain(("agent", model_node(ScriptedChat(tokens=CHAT_TOKENS, delay=0.05)))),
        "tools": chain(
            ("agent", asking()),
            ("tools", ToolNode([search])),
            ("answer", model_node(ScriptedChat(tokens=["It is ", "sunny."]))),
        ),
        "review": chain(("agent", asking()), ("tools", ToolNode([search])), ("approve", approve)),
        "slow": chain(("agent", model_node(ScriptedChat(tokens=SLOW_TOKENS, delay=0.05)))),
    }
    return {f"{prefix}_{name}": g for name, g in built.items()}
