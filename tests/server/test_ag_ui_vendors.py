"""One logical answer, every vendor: the AG-UI events of a run (``AgUiFold`` over the
run's protocol events, encoded as the route sends them) are byte-identical whichever
vendor's recorded stream the graph's model replays, under a LangGraph graph and a
streamtap.graph one (ids aside: the run's message and tool call ids are the vendor's),
for every group of ``tests/providers/test_cross_vendor.py``."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from ag_ui.encoder import EventEncoder

from streamtap.server._ag_ui_events import AgUiFold
from streamtap.server._proto_log import LoggedEvent
from streamtap.server._proto_run import run_events
from tests.providers.test_cross_vendor import FRAME_GROUPS as GROUPS
from tests.providers.test_cross_vendor import vendor_model

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)
_IDS = ("messageId", "toolCallId", "parentMessageId")


def _graph(engine: str, model: Any) -> Any:
    graph = importlib.import_module(engine)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    return builder.compile()


async def _wire(engine: str, wire: str, scenario: str) -> str:
    fold = AgUiFold("thread", "run")
    events = fold.start()
    with vendor_model(wire, scenario) as model:
        seq = 0
        async for method, ns, data in run_events(
            _graph(engine, model),
            {"messages": [{"role": "user", "content": "hi", "id": "human"}]},
            {"configurable": {"thread_id": f"{wire}-{scenario}"}},
            graph_name="agent",
        ):
            seq += 1
            events += fold.feed(LoggedEvent(seq, str(seq), method, ns, data, b""))
    events += fold.close()
    ids: list[str] = []
    for event in events:
        dumped = event.model_dump(by_alias=True)
        ids += [dumped[k] for k in _IDS if k in dumped and dumped[k] not in ids]
    encoder = EventEncoder()
    text = "".join(encoder.encode(e) for e in events)
    for n, found in sorted(enumerate(ids), key=lambda p: -len(p[1])):
        text = text.replace(found, f"<id{n}>")
    assert '"type":"RUN_FINISHED"' in text
    return text


@pytest.mark.parametrize("engine", ["langgraph.graph", "streamtap.graph"])
@pytest.mark.parametrize("name", sorted(GROUPS))
async def test_same_answer_same_ag_ui_stream(name: str, engine: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": await _wire(engine, w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    assert "TEXT_MESSAGE_CONTENT" in first or "TOOL_CALL_ARGS" in first
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
