"""Ordering guarantees and live delivery (items arrive while the node still runs)."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage

import streamtap.graph as st
from tests.graph._fakes import TokenFake


class N(TypedDict):
    messages: Annotated[list, st.add_messages]
    n: Annotated[int, operator.add]


def parallel_graph(asynchronous: bool) -> Any:
    model_a = TokenFake(tokens=["a1", "a2", "a3"], delay=0.02, msg_id="A")
    model_b = TokenFake(tokens=["b1", "b2"], delay=0.03, msg_id="B")

    if asynchronous:

        async def node_a(state: N) -> dict[str, Any]:
            st.get_stream_writer()("A-start")
            return {"messages": [await model_a.ainvoke(state["messages"])], "n": 1}

        async def node_b(state: N) -> dict[str, Any]:
            return {"messages": [await model_b.ainvoke(state["messages"])], "n": 1}

    else:

        def node_a(state: N) -> dict[str, Any]:  # type: ignore[misc]
            st.get_stream_writer()("A-start")
            return {"messages": [model_a.invoke(state["messages"])], "n": 1}

        def node_b(state: N) -> dict[str, Any]:  # type: ignore[misc]
            return {"messages": [model_b.invoke(state["messages"])], "n": 1}

    def node_c(state: N) -> dict[str, Any]:
        return {"n": 1}

    builder = st.StateGraph(N)
    builder.add_node("A", node_a)
    builder.add_node("B", node_b)
    builder.add_node("C", node_c)
    builder.add_edge(st.START, "A")
    builder.add_edge(st.START, "B")
    builder.add_edge(["A", "B"], "C")
    return builder.compile()


MODES = ["messages", "updates", "values", "custom", "tasks"]
INPUT = {"messages": [HumanMessage("hi", id="h")], "n": 1}


def _node_of(mode: str, payload: Any) -> str | None:
    if mode == "messages":
        return str(payload[1]["langgraph_node"])
    if mode == "updates":
        return next(iter(payload))
    if mode == "custom":
        return "A"
    if mode == "tasks":
        return str(payload["name"])
    return None


def check_ordering(items: list[tuple[str, Any]]) -> None:
    modes = [m for m, _ in items]
    # 1. the input values chunk comes first
    assert items[0] == ("values", INPUT)
    # 2. a node's tokens and custom items come before its update
    for node in ("A", "B"):
        upd = next(i for i, (m, p) in enumerate(items) if m == "updates" and node in p)
        own = [
            i
            for i, (m, p) in enumerate(items)
            if m in ("messages", "custom") and _node_of(m, p) == node
        ]
        assert own and max(own) < upd
        # 5. its task result comes right after its update
        assert items[upd + 1][0] == "tasks" and items[upd + 1][1]["name"] == node
        assert "result" in items[upd + 1][1]
    # 3. the step's values come after both updates and before anything of step 2
    first_values = modes.index("values", 1)
    step2_start = next(i for i, (m, p) in enumerate(items) if m == "tasks" and p["name"] == "C")
    updates_step1 = [
        i for i, (m, p) in enumerate(items) if m == "updates" and ("A" in p or "B" in p)
    ]
    assert max(updates_step1) < first_values < step2_start
    # 4. tokens of one call keep their order
    for node, toks in (("A", ["a1", "a2", "a3", ""]), ("B", ["b1", "b2", ""])):
        got = [p[0].content for m, p in items if m == "messages" and _node_of(m, p) == node]
        assert got == toks
    # 5. task start events precede any output of their step
    starts = [
        i for i, (m, p) in enumerate(items) if m == "tasks" and "input" in p and p["name"] in "AB"
    ]
    first_output = min(
        i for i, (m, _) in enumerate(items) if m in ("messages", "custom", "updates")
    )
    assert max(starts) < first_output
    assert items[-1] == ("values", {**INPUT, "messages": items[-1][1]["messages"], "n": 4})


def test_sync_ordering_guarantees() -> None:
    check_ordering(list(parallel_graph(False).stream(INPUT, stream_mode=MODES)))


async def test_async_ordering_guarantees() -> None:
    check_ordering([i async for i in parallel_graph(True).astream(INPUT, stream_mode=MODES)])


async def test_async_sync_nodes_ordering_guarantees() -> None:
    check_ordering([i async for i in parallel_graph(False).astream(INPUT, stream_mode=MODES)])


# ---------------------------------------------------------------------- live delivery

TOKENS = 5
GAP = 0.2  # a ~1 s node: first token at ~0.2 s


def slow_llm_graph(asynchronous: bool) -> Any:
    model = TokenFake(tokens=[f"t{i}" for i in range(TOKENS)], delay=GAP)

    if asynchronous:

        async def llm(state: Any) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

    else:

        def llm(state: Any) -> dict[str, Any]:  # type: ignore[misc]
            return {"messages": [model.invoke(state["messages"])]}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", llm)
    builder.add_edge(st.START, "llm")
    return builder.compile()


def assert_live(stamps: list[tuple[float, str]]) -> None:
    first_token = next(t for t, m in stamps if m == "messages")
    update = next(t for t, m in stamps if m == "updates")
    assert update >= TOKENS * GAP * 0.9  # the node really ran ~1 s
    assert first_token < 0.6  # ...and its first token arrived long before it ended
    assert update - first_token > 0.5


def test_sync_stream_delivers_tokens_while_node_runs() -> None:
    start = time.monotonic()
    stamps = [
        (time.monotonic() - start, mode)
        for mode, _ in slow_llm_graph(False).stream(
            {"messages": [("user", "hi")]}, stream_mode=["messages", "updates"]
        )
    ]
    assert_live(stamps)


@pytest.mark.parametrize("async_node", [True, False], ids=["async-node", "sync-node-in-thread"])
async def test_async_stream_delivers_tokens_while_node_runs(async_node: bool) -> None:
    start = time.monotonic()
    stamps = [
        (time.monotonic() - start, mode)
        async for mode, _ in slow_llm_graph(async_node).astream(
            {"messages": [("user", "hi")]}, stream_mode=["messages", "updates"]
        )
    ]
    assert_live(stamps)


async def test_custom_items_are_live_in_async_nodes() -> None:
    async def node(state: N) -> dict[str, Any]:
        writer = st.get_stream_writer()
        writer("early")
        await asyncio.sleep(0.5)
        return {"n": 1}

    builder = st.StateGraph(N)
    builder.add_node("node", node)
    builder.add_edge(st.START, "node")
    start = time.monotonic()
    stamps = [
        (time.monotonic() - start, mode)
        async for mode, _ in builder.compile().astream(INPUT, stream_mode=["custom", "updates"])
    ]
    assert [m for _, m in stamps] == ["custom", "updates"]
    assert stamps[0][0] < 0.3 < stamps[1][0]
