"""One logical answer, every vendor: what the server writes to a thread's ``messages``
channel (``_proto_run.run_events``, the items its log numbers and frames) is the same
event for event whichever vendor's recorded stream the graph's model replays, under a
LangGraph graph and a streamtap.graph one (vendor-only fields aside, as in
``tests/providers/test_cross_vendor.py``)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from streamtap.server._proto_run import run_events
from tests.providers.test_cross_vendor import FRAME_GROUPS as GROUPS
from tests.providers.test_cross_vendor import _logical_event, vendor_model

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


def _graph(engine: str, model: Any) -> Any:
    graph = importlib.import_module(engine)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    return builder.compile()


async def _messages(engine: str, wire: str, scenario: str) -> list[Any]:
    with vendor_model(wire, scenario) as model:
        items = [
            item
            async for item in run_events(
                _graph(engine, model),
                {"messages": [{"role": "user", "content": "hi"}]},
                {"configurable": {"thread_id": f"{wire}-{scenario}"}},
                graph_name="agent",
            )
        ]
    assert items[-1] == ("lifecycle", (), {"event": "completed", "graph_name": "agent"})
    return [(ns, _logical_event(data)) for method, ns, data in items if method == "messages"]


@pytest.mark.parametrize("engine", ["langgraph.graph", "streamtap.graph"])
@pytest.mark.parametrize("name", sorted(GROUPS))
async def test_same_answer_same_messages_channel(name: str, engine: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": await _messages(engine, w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    assert first[0] == ((), {"event": "message-start", "role": "ai"})
    assert first[-1][1]["event"] == "message-finish" and len(first) > 3
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
