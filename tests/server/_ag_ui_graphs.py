"""The graphs of the AG-UI tests, built on both engines (``streamtap.graph`` and
LangGraph) under the prefixes ``st_`` and ``lg_``, as ``_js_support.js_graphs`` does.

- ``agent``: writes a custom progress item, then the model reasons, says "Let me look.",
  and streams two parallel ``search`` calls (their argument fragments interleaved); a
  ``tools`` node runs both; the model answers "Found both." (next turn: "Again."); a ``turns`` state key counts
  the agent's turns (the state that ``STATE_SNAPSHOT`` / ``STATE_DELTA`` carry).
- ``approve``: the model drafts, then a node asks ``interrupt({"question": "send it?"})``.
- ``fail``: the model's stream breaks after "Partial answ".
- ``slow``: 400 tokens 20 ms apart (a client aborts it); its model is ``MODELS[prefix_slow]``
  (``ScriptedChat``, which records whether its stream was closed early); ``busy`` the same
  (a second request on its thread while it runs).
- ``config``: writes ``config["configurable"]["ag_ui"]`` as a custom item ``ag_ui``.
- ``big``: one tool call whose tool returns ``BIG`` (33.9 KB of JSON), then "Done."
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from streamtap.testing import FakeChatModel
from streamtap.testing.fake import Fail, Finish, Reasoning, ToolCall, Usage
from tests.server._support import ScriptedChat

ENGINES = {"st": "streamtap.graph", "lg": "langgraph.graph"}
PROGRESS = {"progress": 50}
#: the models of the graphs a test checks (``st_slow``: was its stream closed?)
MODELS: dict[str, ScriptedChat] = {}
#: a 33.9 KB tool result (the size in AG-UI's issue #2600): JSON records, as a search
#: tool would return
BIG = json.dumps(
    [
        {"id": i, "title": f"Result number {i}", "snippet": "lorem ipsum dolor sit amet " * 4}
        for i in range(237)
    ]
)[:33_900]
AGENT_SCRIPTS: list[Any] = [
    [
        Reasoning("Two searches."),
        "Let me ",
        "look.",
        ToolCall(0, "call_a", "search", '{"q": '),
        ToolCall(1, "call_b", "search", '{"q": '),
        ToolCall(0, args='"paris"}'),
        ToolCall(1, args='"rome"}'),
        Usage(10, 20),
        Finish("tool_calls"),
    ],
    ["Found ", "both.", Usage(30, 5)],
    ["Again."],  # the second turn
]
BIG_SCRIPTS: list[Any] = [
    ["Looking.", ToolCall(0, "call_big", "fetch_big", '{"n": 1}'), Finish("tool_calls")],
    ["Done."],
]


@tool
def search(q: str) -> str:
    """Search the web."""
    return f"results for {q}"


@tool
def fetch_big(n: int) -> str:
    """A large document."""
    return BIG


def _tools_node(tools: dict[str, Any]) -> Any:
    async def run_tools(state: dict[str, Any]) -> dict[str, Any]:
        last = state["messages"][-1]
        out: list[ToolMessage] = []
        for call in last.tool_calls:
            result = await tools[call["name"]].ainvoke({**call, "type": "tool_call"})
            out.append(result)
        return {"messages": out}

    return run_tools


def graphs(engine: str) -> dict[str, Any]:
    """``{prefix_name: compiled graph}`` for ``engine`` ``st`` or ``lg``."""
    graph = importlib.import_module(ENGINES[engine])
    if engine == "lg":
        from langgraph.config import get_stream_writer
        from langgraph.types import interrupt
    else:
        from streamtap.graph import get_stream_writer, interrupt  # type: ignore[assignment]

    class State(graph.MessagesState, total=False):  # type: ignore[name-defined,misc]
        turns: int

    def loop(model: FakeChatModel, tools: dict[str, Any], progress: bool = False) -> Any:
        async def agent(state: dict[str, Any]) -> dict[str, Any]:
            if progress:
                get_stream_writer()(PROGRESS)
            answer = await model.ainvoke(state["messages"])
            return {"messages": [answer], "turns": state.get("turns", 0) + 1}

        def route(state: dict[str, Any]) -> str:
            return "tools" if state["messages"][-1].tool_calls else graph.END

        builder = graph.StateGraph(State)
        builder.add_node("agent", agent)
        builder.add_node("tools", _tools_node(tools))
        builder.add_edge(graph.START, "agent")
        builder.add_conditional_edges("agent", route, ["tools", graph.END])
        builder.add_edge("tools", "agent")
        return builder.compile()

    def single(*nodes: tuple[str, Any]) -> Any:
        builder = graph.StateGraph(State)
        previous = graph.START
        for name, fn in nodes:
            builder.add_node(name, fn)
            builder.add_edge(previous, name)
            previous = name
        builder.add_edge(previous, graph.END)
        return builder.compile()

    draft_model = FakeChatModel(scripts=[["Draft ", "ready."]], cycle=True)
    fail_model = FakeChatModel(
        scripts=[["Partial ", "answ", Fail(RuntimeError("boom"))]], cycle=True
    )
    slow_model = ScriptedChat(tokens=["x "] * 400, delay=0.02)
    busy_model = ScriptedChat(tokens=["x "] * 400, delay=0.02)

    async def draft(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await draft_model.ainvoke(state["messages"])]}

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt({"question": "send it?"})
        return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}

    async def failing(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await fail_model.ainvoke(state["messages"])]}

    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await slow_model.ainvoke(state["messages"])]}

    async def busy(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await busy_model.ainvoke(state["messages"])]}

    def configured(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """What the request's tools, context and forwarded props became (a custom item)."""
        get_stream_writer()({"name": "ag_ui", "value": config["configurable"].get("ag_ui")})
        return {"messages": [AIMessage("configured", id=f"cfg-{len(state['messages'])}")]}

    MODELS[f"{engine}_slow"] = slow_model
    built = {
        "agent": loop(FakeChatModel(scripts=AGENT_SCRIPTS, cycle=True), {"search": search}, True),
        "big": loop(FakeChatModel(scripts=BIG_SCRIPTS, cycle=True), {"fetch_big": fetch_big}),
        "approve": single(("draft", draft), ("approve", approve)),
        "fail": single(("agent", failing)),
        "slow": single(("agent", slow)),
        "busy": single(("agent", busy)),
        "config": single(("configured", configured)),
    }
    return {f"{engine}_{name}": g for name, g in built.items()}
