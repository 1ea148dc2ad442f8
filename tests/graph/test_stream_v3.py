"""``stream_events(version="v3")``: the same graph on LangGraph and on streamtap.graph.

Each scenario runs once per engine and reads one projection per run (a v3 run is
driven by its consumers, so one reader per run keeps the comparison simple). What is
compared is normalized (ids numbered by first appearance, timestamps dropped); each
test also pins the exact expected result, so both engines agreeing on something wrong
fails too.
"""

from __future__ import annotations

import asyncio
import operator
import warnings
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.stream import AsyncGraphRunStream, CustomTransformer, GraphRunStream
from typing_extensions import TypedDict

from tests.graph._fakes import TokenFake
from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import Normalizer

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)

ENGINES = (LG, ST)
THREAD = {"configurable": {"thread_id": "t"}}


def both(scenario: Callable[[Any], Any]) -> Any:
    """``scenario`` on each engine; returns the (equal) normalized result."""
    results = {}
    for name in ENGINES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[name] = Normalizer()(scenario(impl(name)))
    assert results[ST] == results[LG]
    return results[ST]


def raw(run: GraphRunStream) -> list[Any]:
    """The raw event log, timestamps dropped (they differ between any two runs)."""
    out = []
    for event in run:
        params = {k: v for k, v in event["params"].items() if k != "timestamp"}
        out.append({**event, "params": params})
    return out


# -- graphs ------------------------------------------------------------------------------


def chat_graph(g: Any, **compile_kwargs: Any) -> Any:
    """A model call streaming tokens, then a node returning a ToolMessage and an AIMessage."""
    model = TokenFake(tokens=["Hel", "lo", "!"])

    def call(state: Any) -> dict[str, Any]:
        return {"messages": model.invoke(state["messages"])}

    def tool(state: Any) -> dict[str, Any]:
        return {
            "messages": [
                ToolMessage("42", tool_call_id="c1", id="tool-1"),
                AIMessage("done", id="ai-2"),
            ]
        }

    b = g.StateGraph(g.MessagesState)
    b.add_node("call", call)
    b.add_node("tool", tool)
    b.add_edge(g.START, "call")
    b.add_edge("call", "tool")
    return b.compile(**compile_kwargs)


class Simple(TypedDict):
    value: str
    items: Annotated[list[str], operator.add]


def approval_graph(g: Any) -> Any:
    def a(state: Simple) -> dict[str, Any]:
        g.get_stream_writer()({"node": "a"})
        return {"value": state["value"] + "A", "items": ["a"]}

    def b(state: Simple) -> dict[str, Any]:
        answer = g.interrupt("need approval")
        return {"value": state["value"] + answer, "items": ["b"]}

    builder = g.StateGraph(Simple)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(g.START, "a")
    builder.add_edge("a", "b")
    return builder.compile(checkpointer=g.InMemorySaver())


def nested_graph(g: Any, fail: bool = False) -> Any:
    """parent -> child (a subgraph node) -> grandchild; the grandchild calls a model."""
    model = TokenFake(tokens=["sub", "graph"])

    def speak(state: Any) -> dict[str, Any]:
        if fail:
            raise ValueError("boom")
        return {"messages": model.invoke(state["messages"])}

    grand = g.StateGraph(g.MessagesState)
    grand.add_node("speak", speak)
    grand.add_edge(g.START, "speak")
    child = g.StateGraph(g.MessagesState)
    child.add_node("grand", grand.compile())
    child.add_edge(g.START, "grand")
    parent = g.StateGraph(g.MessagesState)
    parent.add_node("child", child.compile())
    parent.add_edge(g.START, "child")
    return parent.compile()


HI = {"messages": [("user", "hi")]}


# -- messages, values, output, raw events ---------------------------------------------


def test_returns_langgraphs_run_stream() -> None:
    graph = chat_graph(impl(ST))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = graph.stream_events(HI, version="v3")
        assert type(run) is GraphRunStream
        assert {"values", "messages", "lifecycle", "subgraphs"} <= set(run.extensions)
        arun = asyncio.run(graph.astream_events(HI, version="v3"))
        assert type(arun) is AsyncGraphRunStream


def test_raw_event_log() -> None:
    events = both(lambda g: raw(chat_graph(g).stream_events(HI, version="v3")))
    assert [e["seq"] for e in events] == list(range(1, 12))
    assert [e["method"] for e in events] == ["values"] + ["messages"] * 7 + [
        "values",
        "messages",
        "values",
    ]
    kinds = [e["params"]["data"][0]["event"] for e in events[1:8]]
    assert kinds == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
        "content-block-delta",
        "content-block-finish",
        "message-finish",
    ]
    deltas = [e["params"]["data"][0]["delta"]["text"] for e in events[3:6]]
    assert deltas == ["Hel", "lo", "!"]
    # the ToolMessage is not replayed as chat output; the hand-built AIMessage is
    assert events[9]["params"]["data"][0][:2] == ("msg", "AIMessage")


def test_messages_projection() -> None:
    def scenario(g: Any) -> Any:
        run = chat_graph(g).stream_events(HI, version="v3")
        return [(m.message_id, m.node, "".join(m.text), m.output.text) for m in run.messages]

    streams = both(scenario)
    assert [s[1:] for s in streams] == [
        ("call", "Hello!", "Hello!"),
        ("tool", "done", "done"),
    ]
    assert streams[1][0] == "ai-2"


def test_values_and_output() -> None:
    def scenario(g: Any) -> Any:
        values = [
            [m.content for m in v["messages"]]
            for v in chat_graph(g).stream_events(HI, version="v3").values
        ]
        output = chat_graph(g).stream_events(HI, version="v3").output
        return values, [m.text for m in output["messages"]]

    values, output = both(scenario)
    assert values[0] == ["hi"]
    assert len(values) == 3
    assert output == ["hi", "Hello!", "42", "done"]


def test_async_raw_events_and_output() -> None:
    async def scenario(g: Any) -> Any:
        run = await chat_graph(g).astream_events(HI, version="v3")
        events = []
        async for event in run:
            events.append({k: v for k, v in event["params"].items() if k != "timestamp"})
        run2 = await chat_graph(g).astream_events(HI, version="v3")
        texts = [(await m.output).text async for m in run2.messages]
        return events, texts

    events, texts = both(lambda g: asyncio.run(scenario(g)))
    assert len(events) == 11
    assert texts == ["Hello!", "done"]


def test_compile_time_and_call_site_transformers() -> None:
    def scenario(g: Any) -> Any:
        graph = approval_graph(g)
        without = graph.stream_events({"value": "x", "items": []}, THREAD, version="v3")
        methods = [e["method"] for e in without]
        run = graph.stream_events(
            {"value": "x", "items": []},
            {"configurable": {"thread_id": "u"}},
            version="v3",
            transformers=[CustomTransformer],
        )
        custom = list(run.custom)
        compiled = chat_graph(g, transformers=[CustomTransformer])
        return methods, custom, "custom" in compiled.stream_events(HI, version="v3").extensions

    methods, custom, compiled_has = both(scenario)
    assert "custom" not in methods  # custom events need the transformer
    assert custom == [{"node": "a"}]
    assert compiled_has is True


def test_v3_owns_stream_mode_and_subgraphs() -> None:
    for name in ENGINES:
        graph = chat_graph(impl(name))
        for kwarg in ("stream_mode", "subgraphs"):
            with pytest.raises(TypeError, match=f"not accept {kwarg}"):
                graph.stream_events(HI, version="v3", **{kwarg: True})
        with pytest.raises(TypeError, match="pre-built instance"):
            graph.stream_events(HI, version="v3", transformers=[CustomTransformer(())])


# -- interrupts and resume --------------------------------------------------------------


def test_interrupt_then_resume() -> None:
    def scenario(g: Any) -> Any:
        graph = approval_graph(g)
        first = graph.stream_events({"value": "x", "items": []}, THREAD, version="v3")
        log = raw(first)
        paused = (first.interrupted, first.interrupts, first.output)
        resumed = graph.stream_events(g.Command(resume="ok"), THREAD, version="v3")
        resumed_log = raw(resumed)
        return log, paused, resumed_log, (resumed.interrupted, resumed.interrupts, resumed.output)

    log, paused, resumed_log, done = both(scenario)
    assert paused[0] is True
    assert [i[1] for i in paused[1]] == ["need approval"]  # Interrupt(value, id)
    assert paused[2] == {"value": "xA", "items": ["a"]}
    assert list(log[-1]["params"]["interrupts"]) == paused[1]
    assert done == (False, [], {"value": "xAok", "items": ["a", "b"]})
    assert [e["method"] for e in resumed_log] == ["values", "values"]


def test_async_interrupt() -> None:
    async def scenario(g: Any) -> Any:
        graph = approval_graph(g)
        run = await graph.astream_events({"value": "x", "items": []}, THREAD, version="v3")
        return await run.output(), await run.interrupted(), await run.interrupts()

    output, interrupted, interrupts = both(lambda g: asyncio.run(scenario(g)))
    assert output == {"value": "xA", "items": ["a"]}
    assert interrupted is True
    assert len(interrupts) == 1


# -- subgraphs ------------------------------------------------------------------------


def test_subgraphs_lifecycle_and_drill_down() -> None:
    def scenario(g: Any) -> Any:
        log = raw(nested_graph(g).stream_events(HI, version="v3"))
        run = nested_graph(g).stream_events(HI, version="v3")
        handles = []
        for child in run.subgraphs:
            grandchildren = []
            for grand in child.subgraphs:
                texts = ["".join(m.text) for m in grand.messages]
                grandchildren.append((grand.path, grand.graph_name, grand.status, texts))
            handles.append((child.path, child.graph_name, child.status, grandchildren))
        return log, handles

    log, handles = both(scenario)
    lifecycle = [
        (e["params"]["data"]["namespace"], e["params"]["data"]["event"])
        for e in log
        if e["method"] == "lifecycle"
    ]
    assert [(len(ns), kind) for ns, kind in lifecycle] == [
        (1, "started"),
        (2, "started"),
        (2, "completed"),
        (1, "completed"),
    ]
    ((path, name, status, grand),) = handles
    assert (len(path), name, status) == (1, "child", "completed")
    assert [(len(p), n, s, t) for p, n, s, t in grand] == [(2, "grand", "completed", ["subgraph"])]


def test_subgraph_error() -> None:
    def scenario(g: Any) -> Any:
        run = nested_graph(g, fail=True).stream_events(HI, version="v3")
        statuses = []
        try:
            for child in run.subgraphs:
                statuses.append(child.graph_name)
        except ValueError as exc:
            statuses.append(str(exc))
        with pytest.raises(ValueError, match="boom"):
            _ = nested_graph(g, fail=True).stream_events(HI, version="v3").output
        return statuses

    assert both(scenario) == ["child", "boom"]


def test_nested_v1_messages_stream_keeps_chunks() -> None:
    """A node's own ``stream(stream_mode="messages")`` under a v3 run still yields chunks."""

    def scenario(g: Any) -> Any:
        inner = chat_graph(g)

        def call_inner(state: Any, config: RunnableConfig) -> dict[str, Any]:
            parts = list(inner.stream(HI, config, stream_mode="messages"))
            return {"value": ",".join(type(p[0]).__name__ for p in parts), "items": []}

        b = g.StateGraph(Simple)
        b.add_node("call_inner", call_inner)
        b.add_edge(g.START, "call_inner")
        return b.compile().stream_events({"value": "", "items": []}, version="v3").output

    out = both(scenario)
    assert (
        out["value"]
        == "AIMessageChunk,AIMessageChunk,AIMessageChunk,AIMessageChunk,ToolMessage,AIMessage"
    )


def test_drain_marks_open_subgraph_drained() -> None:
    """A drain requested inside a subgraph: the handle ends ``drained``, the run raises."""

    def scenario(g: Any) -> Any:
        control = _run_control(g.name)()

        def first(state: Simple) -> dict[str, Any]:
            control.request_drain("shutdown")
            return {"value": "1", "items": []}

        sub = g.StateGraph(Simple)
        sub.add_node("first", first)
        sub.add_node("second", lambda s: {"value": "2", "items": []})
        sub.add_edge(g.START, "first")
        sub.add_edge("first", "second")
        parent = g.StateGraph(Simple)
        parent.add_node("sub", sub.compile())
        parent.add_edge(g.START, "sub")
        graph = parent.compile(checkpointer=g.InMemorySaver())
        run = graph.stream_events({"value": "", "items": []}, THREAD, version="v3", control=control)
        log = []
        try:
            for event in run:
                data = event["params"]["data"]
                log.append(
                    (event["method"], data.get("event") if event["method"] == "lifecycle" else None)
                )
        except Exception as exc:  # the projections re-raise the run's error
            log.append(("raised", type(exc).__name__))
        return log

    assert both(scenario) == [
        ("values", None),
        ("values", None),
        ("lifecycle", "started"),
        ("values", None),
        ("lifecycle", "drained"),
        ("raised", "GraphDrained"),
    ]


def _run_control(name: str) -> Any:
    if name == LG:
        from langgraph.runtime import RunControl
    else:
        from streamtap.graph.runtime import RunControl
    return RunControl
