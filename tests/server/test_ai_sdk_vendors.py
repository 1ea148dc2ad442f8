"""One logical answer, every vendor: the AI SDK UI message stream a run gives (the bytes
``POST /ai-sdk/{graph}/chat`` writes: its events through ``_ai_sdk_parts.UIParts``, each
part encoded) is byte for byte the same whichever vendor's recorded stream the graph's
model replays (``tests/providers/test_cross_vendor.py`` ``GROUPS``), under a LangGraph
graph and a streamtap.graph one; ids aside (the tool calls' ids are the vendors')."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from streamtap.server._ai_sdk_parts import UIParts, encode
from streamtap.server._proto_run import run_events
from tests.providers.test_cross_vendor import FRAME_GROUPS as GROUPS
from tests.providers.test_cross_vendor import vendor_model

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)
_CALL_ID = re.compile(rb'"toolCallId":"([^"]*)"')


def _graph(engine: str, model: Any) -> Any:
    graph = importlib.import_module(engine)

    async def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(graph.START, "agent")
    return builder.compile()


def _ids_aside(wire: bytes) -> bytes:
    """Each tool call's id as its ordinal (``call-0``, ``call-1``, … in order of first use)."""
    seen: dict[bytes, bytes] = {}

    def ordinal(match: re.Match[bytes]) -> bytes:
        name = seen.setdefault(match.group(1), b"call-%d" % len(seen))
        return b'"toolCallId":"' + name + b'"'

    return _CALL_ID.sub(ordinal, wire)


async def _stream(engine: str, wire: str, scenario: str) -> bytes:
    parts = UIParts("run")
    out = b""
    with vendor_model(wire, scenario) as model:
        async for method, namespace, data in run_events(
            _graph(engine, model),
            {"messages": [{"role": "user", "content": "hi"}]},
            {"configurable": {"thread_id": f"{wire}-{scenario}"}},
            graph_name="agent",
        ):
            out += b"".join(encode(part) for part in parts.feed(method, namespace, data))
    return _ids_aside(out + b"".join(encode(p) for p in parts.close()))


@pytest.mark.parametrize("engine", ["langgraph.graph", "streamtap.graph"])
@pytest.mark.parametrize("name", sorted(GROUPS))
async def test_same_answer_same_bytes(name: str, engine: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": await _stream(engine, w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    assert first.startswith(
        b'data: {"type":"start","messageId":"run"}\n\ndata: {"type":"start-step"}'
    )
    assert b'"type":"finish"' in first.rsplit(b"\n\n", 2)[-2]
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
