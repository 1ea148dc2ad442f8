"""The sync driver's two ways of running a step's one live node.

From the main thread the node runs in a greenlet of the caller's thread (no
worker thread per run); from any other thread it runs in a worker thread, as
in LangGraph, because servers' thread pools may resume a generator in another
thread. Both must deliver the same items, live, and unwind the node on close.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

import streamtap.graph as st
from tests.graph._fakes import TokenFake

T = TypeVar("T")
INPUT = {"messages": [("user", "hi")]}


def in_worker_thread(fn: Callable[[], T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout=30)


def call_from(caller: str, fn: Callable[[], T]) -> T:
    return fn() if caller == "main" else in_worker_thread(fn)


CALLERS = pytest.mark.parametrize("caller", ["main", "worker"])


def one_node_graph(node: Callable[..., Any]) -> Any:
    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", node)
    builder.add_edge(st.START, "llm")
    return builder.compile()


@CALLERS
def test_where_the_single_live_node_runs(caller: str) -> None:
    seen: dict[str, Any] = {}
    model = TokenFake(tokens=["a", "b"])

    def llm(state: Any) -> dict[str, Any]:
        seen["node_thread"] = threading.current_thread()
        seen["pool_threads"] = [
            t.name for t in threading.enumerate() if t.name.startswith("streamtap-graph")
        ]
        return {"messages": [model.invoke(state["messages"])]}

    graph = one_node_graph(llm)

    def consume() -> list[str]:
        seen["caller_thread"] = threading.current_thread()
        return [m.content for m, _ in graph.stream(INPUT, stream_mode="messages")]

    assert call_from(caller, consume) == ["a", "b", ""]
    if caller == "main":
        assert seen["node_thread"] is threading.main_thread()
        assert seen["pool_threads"] == []
    else:
        assert seen["node_thread"] is not seen["caller_thread"]
        assert seen["node_thread"].name.startswith("streamtap-graph")


@CALLERS
def test_tokens_are_yielded_while_the_node_runs(caller: str) -> None:
    model = TokenFake(tokens=["t0", "t1", "t2"], delay=0.15)
    graph = one_node_graph(lambda s: {"messages": [model.invoke(s["messages"])]})

    def consume() -> list[tuple[float, str, list[str]]]:
        start = time.monotonic()
        return [
            (time.monotonic() - start, mode, list(model.events))
            for mode, _ in graph.stream(INPUT, stream_mode=["messages", "updates"])
        ]

    stamps = call_from(caller, consume)
    assert [m for _, m, _ in stamps] == ["messages"] * 4 + ["updates"]
    # the first token is seen while the model is still open, long before the update
    assert stamps[0][2] == ["open"]
    assert stamps[-1][0] - stamps[0][0] > 0.2


@CALLERS
def test_close_unwinds_the_node_and_closes_its_model(caller: str) -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.01)
    after: list[str] = []

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", lambda s: {"messages": [model.invoke(s["messages"])]})
    builder.add_node("after", lambda s: after.append("ran") or {})
    builder.add_edge(st.START, "llm")
    builder.add_edge("llm", "after")
    graph = builder.compile()

    def consume() -> tuple[list[str], list[str]]:
        gen = graph.stream(INPUT, stream_mode="messages")
        first = [next(gen)[0].content, next(gen)[0].content]
        gen.close()
        return first, list(model.events)

    first, events = call_from(caller, consume)
    assert first == ["t0", "t1"]
    assert events == ["open", "closed"]  # unwound before close() returned
    assert after == []
    model.events.clear()
    model.tokens = ["x"]
    again = call_from(caller, lambda: list(graph.stream(INPUT, stream_mode="messages")))
    assert [m.content for m, _ in again] == ["x", ""]


def test_an_abandoned_stream_unwinds_its_node_when_collected() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)])
    graph = one_node_graph(lambda s: {"messages": [model.invoke(s["messages"])]})
    gen = graph.stream(INPUT, stream_mode="messages")
    assert next(gen)[0].content == "t0"
    del gen
    gc.collect()
    assert model.events == ["open", "closed"]


def nested_graph(model: TokenFake, after: list[str]) -> Any:
    leaf = one_node_graph(lambda s: {"messages": [model.invoke(s["messages"])]})

    def mid(state: Any) -> dict[str, Any]:
        return {"messages": leaf.invoke(state)["messages"][-1:]}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("mid", mid)
    builder.add_node("after", lambda s: after.append("ran") or {})
    builder.add_edge(st.START, "mid")
    builder.add_edge("mid", "after")
    return builder.compile()


@CALLERS
def test_tokens_of_a_nested_subgraph_stream_live_and_close_unwinds_every_level(
    caller: str,
) -> None:
    model = TokenFake(tokens=["a", "b", "c"])
    after: list[str] = []
    graph = nested_graph(model, after)

    def consume_all() -> list[tuple[tuple[str, ...], str, str]]:
        return [
            (ns, meta["langgraph_node"], chunk.content)
            for ns, (chunk, meta) in graph.stream(INPUT, stream_mode="messages", subgraphs=True)
        ]

    out = call_from(caller, consume_all)
    tokens = [(len(ns), node, text) for ns, node, text in out]
    assert tokens[:4] == [(1, "llm", "a"), (1, "llm", "b"), (1, "llm", "c"), (1, "llm", "")]
    assert after == ["ran"]

    model.events.clear()
    after.clear()

    def consume_one() -> list[str]:
        gen = graph.stream(INPUT, stream_mode="messages", subgraphs=True)
        _, (chunk, _meta) = next(gen)
        gen.close()
        return [chunk.content, *model.events]

    assert call_from(caller, consume_one) == ["a", "open", "closed"]
    assert after == []


@CALLERS
def test_tokens_from_the_nodes_own_threads_are_all_delivered_before_its_update(
    caller: str,
) -> None:
    models = [TokenFake(tokens=[f"{k}{i}" for i in range(20)], msg_id=k) for k in "xyz"]

    def llm(state: Any) -> dict[str, Any]:
        # langchain runs a sync batch in its own thread pool, with the context copied
        outs = [m.invoke(state["messages"]) for m in models[:1]]
        outs += models[1].batch([state["messages"]] * 2)
        return {"messages": outs}

    graph = one_node_graph(llm)

    def consume() -> list[tuple[str, Any]]:
        return list(graph.stream(INPUT, stream_mode=["messages", "updates"]))

    items = call_from(caller, consume)
    texts = [p[0].content for m, p in items if m == "messages" and p[0].content]
    assert sorted(texts) == sorted([f"x{i}" for i in range(20)] + [f"y{i}" for i in range(20)] * 2)
    assert [t for t in texts if t.startswith("x")] == [f"x{i}" for i in range(20)]
    assert [m for m, _ in items][-1] == "updates"


def test_resuming_a_main_thread_stream_in_another_thread_raises_a_clear_error() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)])
    graph = one_node_graph(lambda s: {"messages": [model.invoke(s["messages"])]})
    held = [graph.stream(INPUT, stream_mode="messages")]
    assert next(held[0])[0].content == "t0"

    def resume() -> BaseException | None:
        try:
            next(held[0])
        except BaseException as exc:
            return exc
        return None

    error = in_worker_thread(resume)
    assert isinstance(error, st.StreamThreadError)
    assert isinstance(error, RuntimeError)
    assert error.owner == "MainThread"
    assert "iterate a sync stream started in the main thread in the main thread" in str(error)
    # the paused node is unwound in its own thread once nothing references it
    # (the error's traceback does, through the driver's frame)
    held.clear()
    del error
    gc.collect()
    assert model.events == ["open", "closed"]
