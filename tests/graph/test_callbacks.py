"""Graph lifecycle callbacks and node trace policies, compared with LangGraph's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from typing_extensions import TypedDict

from tests.graph._impls import LG, ST, impl


class S(TypedDict, total=False):
    answer: Any
    value: int


def _callbacks(name: str) -> Any:
    if name == LG:
        import langgraph.callbacks as cb
    else:
        import streamtap.graph.callbacks as cb  # type: ignore[no-redef]
    return cb


def _recorder(name: str) -> Any:
    cb = _callbacks(name)

    class Recorder(cb.GraphCallbackHandler):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.events: list[Any] = []

        def on_interrupt(self, event: Any) -> None:
            values = [i.value for i in event.interrupts]
            self.events.append(("interrupt", event.status, len(event.checkpoint_ns), values))

        def on_resume(self, event: Any) -> None:
            self.events.append(("resume", event.status, len(event.checkpoint_ns)))

    return Recorder()


def _lifecycle(name: str, *, use_async: bool) -> list[Any]:
    g = impl(name)

    def ask(state: S) -> S:
        return {"answer": g.interrupt("which?")}

    inner = g.StateGraph(S)
    inner.add_node("ask", ask)
    inner.add_edge(g.START, "ask")
    outer = g.StateGraph(S)
    outer.add_node("sub", inner.compile())
    outer.add_edge(g.START, "sub")
    graph = outer.compile(checkpointer=g.InMemorySaver())
    recorder = _recorder(name)
    config = {"configurable": {"thread_id": "1"}, "callbacks": [recorder]}
    if use_async:

        async def go() -> Any:
            first = await graph.ainvoke({"answer": None}, config)
            return first, await graph.ainvoke(g.Command(resume="this"), config)

        first, last = asyncio.run(go())
    else:
        first = graph.invoke({"answer": None}, config)
        last = graph.invoke(g.Command(resume="this"), config)
    return ["__interrupt__" in first, last, recorder.events]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_interrupt_and_resume_events_reach_graph_handlers_as_on_langgraph(use_async: bool) -> None:
    expected = _lifecycle(LG, use_async=use_async)
    got = _lifecycle(ST, use_async=use_async)
    assert got == expected
    # the pause reported once, by the top graph; the resume by it and by its subgraph
    assert got[2] == [
        ("interrupt", "pending", 0, ["which?"]),
        ("resume", "pending", 0),
        ("resume", "pending", 1),
    ]


def test_a_failing_handler_is_skipped_unless_it_raises_errors() -> None:
    from streamtap.graph.callbacks import GraphCallbackHandler

    g = impl(ST)

    class Failing(GraphCallbackHandler):
        def __init__(self, raise_error: bool) -> None:
            self.raise_error = raise_error

        def on_interrupt(self, event: Any) -> None:
            raise ValueError("boom")

    builder = g.StateGraph(S)
    builder.add_node("ask", lambda s: {"answer": g.interrupt("?")})
    builder.add_edge(g.START, "ask")
    graph = builder.compile(checkpointer=g.InMemorySaver())
    recorder = _recorder(ST)
    conf = {"configurable": {"thread_id": "1"}, "callbacks": [Failing(False), recorder]}
    assert "__interrupt__" in graph.invoke({}, conf)
    assert [e[0] for e in recorder.events] == ["interrupt"]
    with pytest.raises(ValueError, match="boom"):
        graph.invoke({}, {"configurable": {"thread_id": "2"}, "callbacks": [Failing(True)]})


def test_a_handler_written_for_langgraph_gets_streamtaps_events() -> None:
    g = impl(ST)
    builder = g.StateGraph(S)
    builder.add_node("ask", lambda s: {"answer": g.interrupt("?")})
    builder.add_edge(g.START, "ask")
    graph = builder.compile(checkpointer=g.InMemorySaver())
    recorder = _recorder(LG)  # subclasses langgraph.callbacks.GraphCallbackHandler
    graph.invoke({}, {"configurable": {"thread_id": "1"}, "callbacks": [recorder]})
    assert recorder.events == [("interrupt", "pending", 0, ["?"])]


class _Tracer(BaseTracer):
    def __init__(self) -> None:
        super().__init__()
        self.recorded: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.recorded.append(run)


def _traced(name: str) -> Any:
    g = impl(name)
    types = __import__("langgraph.types" if name == LG else "streamtap.graph.types", fromlist=["x"])
    policy = types.TracePolicy(
        process_inputs=lambda _: {"in": "hidden"}, process_outputs=types.omit_payload
    )
    builder = g.StateGraph(S)
    builder.add_node("n", lambda s: {"value": s["value"] + 1}, trace_policy=policy)
    builder.add_edge(g.START, "n")
    graph = builder.compile()
    tracer = _Tracer()

    async def go() -> Any:
        events = [
            (e["event"], e["data"])
            async for e in graph.astream_events({"value": 1}, {"callbacks": [tracer]}, version="v2")
            if e["name"] == "n" and e["event"] in ("on_chain_start", "on_chain_end")
        ]
        return events

    events = asyncio.run(go())
    out = graph.invoke({"value": 1}, {"callbacks": [tracer]})
    runs = [r for root in tracer.recorded for r in [root, *_children(root)] if r.name == "n"]
    return out, events, [(r.inputs, r.outputs) for r in runs]


def _children(run: Run) -> list[Run]:
    return [d for c in run.child_runs for d in [c, *_children(c)]]


def test_a_trace_policy_changes_what_tracers_record_and_nothing_else() -> None:
    got = _traced(ST)
    assert got == _traced(LG)
    out, events, runs = got
    assert out == {"value": 2}
    assert events == [
        ("on_chain_start", {"input": {"value": 1}}),
        ("on_chain_end", {"output": {"value": 2}, "input": {"value": 1}}),
    ]
    assert runs == [({"in": "hidden"}, {})] * 2
