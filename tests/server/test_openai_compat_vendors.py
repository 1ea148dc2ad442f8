"""One logical answer, every vendor: the OpenAI-compatible chunks a run gives are the same
chunk for chunk whichever vendor's recorded stream the graph's model replays (the groups of
``tests/providers/test_cross_vendor.py``), under a LangGraph graph and a streamtap.graph
one; only the completion's id and time and the tool calls' vendor ids differ."""

from __future__ import annotations

import importlib
import json
from typing import Any, NamedTuple

import pytest

from streamtap.server._openai_chunks import ChunkFold
from streamtap.server._proto_run import run_events
from tests.providers.test_cross_vendor import FRAME_GROUPS as GROUPS
from tests.providers.test_cross_vendor import vendor_model

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


class _Event(NamedTuple):
    method: str
    namespace: tuple[str, ...]
    data: Any


def _graph(engine: str, model: Any) -> Any:
    graph = importlib.import_module(engine)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    return builder.compile()


async def _wire(engine: str, wire: str, scenario: str) -> list[str]:
    """The ``data:`` lines the route would send for this run, vendor ids replaced."""
    fold = ChunkFold("chatcmpl-x", 0, "agent", include_usage=True)
    lines: list[str] = []
    with vendor_model(wire, scenario) as model:
        async for method, namespace, data in run_events(
            _graph(engine, model),
            {"messages": [{"role": "user", "content": "hi"}]},
            {"configurable": {"thread_id": f"{wire}-{scenario}"}},
            graph_name="agent",
        ):
            for item in fold.feed(_Event(method, tuple(namespace), data)):
                for choice in item.get("choices", ()):
                    for call in choice["delta"].get("tool_calls", ()):
                        if "id" in call:
                            call["id"] = f"call-{call['index']}"
                lines.append(json.dumps(item))
    assert fold.done and fold.error is None
    return lines


@pytest.mark.parametrize("engine", ["langgraph.graph", "streamtap.graph"])
@pytest.mark.parametrize("name", sorted(GROUPS))
async def test_same_answer_same_chunks(name: str, engine: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": await _wire(engine, w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    assert len(first) >= 3
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
