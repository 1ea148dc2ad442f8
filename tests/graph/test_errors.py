"""Failures mid-run: what was produced is delivered, then the original exception."""

from __future__ import annotations

import operator
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage

from tests.graph._fakes import TokenFake
from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import normalize


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def failing_llm_graph(g: Any, checkpointer: bool = False) -> Any:
    model = TokenFake(tokens=["t1", "t2", "t3"], fail_after=2, msg_id="m1")

    def ok(state: Any) -> dict[str, Any]:
        return {"messages": [("ai", "fine")]}

    def bad(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("ok", ok)
    builder.add_node("bad", bad)
    builder.add_edge(g.START, "ok")
    builder.add_edge("ok", "bad")
    return builder.compile(checkpointer=g.InMemorySaver() if checkpointer else None)


MODES = ["messages", "updates", "tasks"]


def _run(name: str) -> list[Any]:
    graph = failing_llm_graph(impl(name))
    out: list[Any] = []
    with pytest.raises(ValueError, match="model exploded") as info:
        for item in graph.stream({"messages": [HumanMessage("hi", id="h")]}, stream_mode=MODES):
            out.append(item)
    return [*out, info.value]


async def _arun(name: str) -> list[Any]:
    graph = failing_llm_graph(impl(name))
    out: list[Any] = []
    with pytest.raises(ValueError, match="model exploded") as info:
        async for item in graph.astream(
            {"messages": [HumanMessage("hi", id="h")]}, stream_mode=MODES
        ):
            out.append(item)
    return [*out, info.value]


def test_sync_error_yields_everything_then_raises_original() -> None:
    ours = _run(ST)
    # the failing task's tokens and its error result come before the exception
    assert [m for m, _ in ours[:-1]] == [
        "tasks",
        "updates",
        "tasks",
        "tasks",
        "messages",
        "messages",
        "tasks",
    ]
    assert ours[-2][1]["error"] is ours[-1]  # the same exception object, not a copy
    assert normalize(ours) == normalize(_run(LG))


async def test_async_error_yields_everything_then_raises_original() -> None:
    ours = await _arun(ST)
    assert normalize(ours) == normalize(await _arun(LG))


def siblings_graph(g: Any) -> Any:
    events: list[str] = []

    def slow(state: S) -> dict[str, Any]:
        time.sleep(0.3)
        events.append("slow finished")
        return {"log": ["slow"]}

    async def aslow(state: S) -> dict[str, Any]:
        import asyncio

        try:
            await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            events.append("slow cancelled")
            raise
        return {"log": ["slow"]}

    def fast_fail(state: S) -> dict[str, Any]:
        raise RuntimeError("fast fail")

    builder = g.StateGraph(S)
    builder.add_node("fast_fail", fast_fail)
    builder.add_node("slow", slow)
    builder.add_node("aslow", aslow)
    builder.add_conditional_edges(
        g.START, lambda s: ["slow", "fast_fail"] if s["x"] == 0 else ["aslow", "fast_fail"]
    )
    graph = builder.compile()
    graph.events = events  # type: ignore[attr-defined]
    return graph


@pytest.mark.parametrize("name", [ST, LG])
def test_sync_failure_waits_for_sibling_and_yields_its_update(name: str) -> None:
    graph = siblings_graph(impl(name))
    out = []
    with pytest.raises(RuntimeError, match="fast fail"):
        for item in graph.stream({"x": 0, "log": []}, stream_mode="updates"):
            out.append(item)
    assert out == [{"slow": {"log": ["slow"]}}]
    assert graph.events == ["slow finished"]


@pytest.mark.parametrize("name", [ST, LG])
async def test_async_failure_cancels_sibling(name: str) -> None:
    graph = siblings_graph(impl(name))
    out = []
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="fast fail"):
        async for item in graph.astream({"x": 1, "log": []}, stream_mode="updates"):
            out.append(item)
    assert time.monotonic() - start < 0.25
    assert out == []
    assert graph.events == ["slow cancelled"]


def _recursion(name: str) -> list[Any]:
    g = impl(name)

    def inc(state: S) -> dict[str, Any]:
        return {"x": state["x"] + 1}

    builder = g.StateGraph(S)
    builder.add_node("inc", inc)
    builder.add_edge(g.START, "inc")
    builder.add_conditional_edges("inc", lambda s: "inc")
    out: list[Any] = []
    with pytest.raises(g.GraphRecursionError) as info:
        for item in builder.compile().stream(
            {"x": 0}, {"recursion_limit": 3}, stream_mode=["updates", "values"]
        ):
            out.append(item)
    assert isinstance(info.value, RecursionError)
    return [*out, info.value]


def test_recursion_limit_matches_langgraph() -> None:
    ours = _recursion(ST)
    assert [m for m, _ in ours[:-1]] == [
        "values",
        "updates",
        "values",
        "updates",
        "values",
        "updates",
        "values",
    ]
    assert normalize(ours) == normalize(_recursion(LG))


def _concurrent_write(name: str) -> list[Any]:
    g = impl(name)
    builder = g.StateGraph(S)
    builder.add_node("p", lambda s: {"x": 1})
    builder.add_node("q", lambda s: {"x": 2})
    builder.add_edge(g.START, "p")
    builder.add_edge(g.START, "q")
    out: list[Any] = []
    with pytest.raises(g.InvalidUpdateError) as info:
        for item in builder.compile().stream({"x": 0}, stream_mode="values"):
            out.append(item)
    return [*out, info.value]


def test_two_writes_without_reducer_raise_invalid_update() -> None:
    assert normalize(_concurrent_write(ST)) == normalize(_concurrent_write(LG))


def _bad_return(name: str) -> list[Any]:
    g = impl(name)
    builder = g.StateGraph(S)
    builder.add_node("p", lambda s: 5)
    builder.add_edge(g.START, "p")
    with pytest.raises(g.InvalidUpdateError) as info:
        list(builder.compile().stream({"x": 0}))
    return [info.value]


def test_non_dict_return_raises_invalid_update() -> None:
    assert normalize(_bad_return(ST)) == normalize(_bad_return(LG))


def _resume_after_error(name: str) -> list[Any]:
    g = impl(name)
    calls: list[str] = []
    fail = [True]
    ok_done = threading.Event()

    def ok(state: S) -> dict[str, Any]:
        calls.append("ok")
        ok_done.set()
        return {"log": ["ok"]}

    def flaky(state: S) -> dict[str, Any]:
        calls.append("flaky")
        if fail[0]:
            # Fail only once the sibling has finished: otherwise whether its
            # writes are saved depends on thread timing (in LangGraph too).
            ok_done.wait(5)
            time.sleep(0.02)
            raise KeyError("nope")
        return {"log": ["flaky"]}

    builder = g.StateGraph(S)
    builder.add_node("flaky", flaky)
    builder.add_node("ok", ok)
    builder.add_edge(g.START, "ok")
    builder.add_edge(g.START, "flaky")
    graph = builder.compile(checkpointer=g.InMemorySaver())
    cfg = {"configurable": {"thread_id": "e"}}
    with pytest.raises(KeyError):
        list(graph.stream({"x": 0, "log": []}, cfg))
    snap = graph.get_state(cfg)
    fail[0] = False
    resumed = sorted(graph.stream(None, cfg, stream_mode="updates"), key=repr)
    return [snap, resumed, sorted(calls), graph.get_state(cfg).values]


def test_checkpointer_keeps_successful_writes_of_failed_step() -> None:
    ours = _resume_after_error(ST)
    # the sibling that succeeded is replayed from its saved writes, not re-run
    assert ours[2] == ["flaky", "flaky", "ok"]
    assert normalize(ours, number_ids=False) == normalize(_resume_after_error(LG), number_ids=False)


def _reducer_with_one_argument(a: list[str]) -> list[str]:
    return a


@pytest.mark.parametrize("name", [ST, LG])
def test_a_reducer_without_two_arguments_is_refused_with_the_schema(name: str) -> None:
    class Typo(TypedDict):
        log: Annotated[list[str], _reducer_with_one_argument]

    # else the key would silently become a plain value that two nodes cannot both write
    with pytest.raises(ValueError, match=r"Invalid reducer signature\. Expected \(a, b\) -> c"):
        impl(name).StateGraph(Typo)


@pytest.mark.parametrize("name", [ST, LG])
def test_a_checkpointer_that_is_no_saver_is_refused_at_compile(name: str) -> None:
    builder = impl(name).StateGraph(S)
    builder.add_node("p", lambda s: {})
    builder.add_edge(impl(name).START, "p")
    with pytest.raises(TypeError, match="Invalid checkpointer provided") as info:
        builder.compile(checkpointer={"not": "a saver"})
    assert "dict" in str(info.value)
