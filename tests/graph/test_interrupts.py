"""Interrupts, resume, breakpoints and saved state: parity with LangGraph across runs."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import normalize


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def ask_graph(g: Any, **compile_kwargs: Any) -> Any:
    def a(state: S) -> dict[str, Any]:
        return {"x": state["x"] + 1, "log": ["a"]}

    def b(state: S) -> dict[str, Any]:
        ans = g.interrupt({"q": "ok?"})
        return {"log": [f"b:{ans}"]}

    def c(state: S) -> dict[str, Any]:
        return {"log": ["c"]}

    builder = g.StateGraph(S)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_node("c", c)
    builder.add_edge(g.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    return builder.compile(checkpointer=g.InMemorySaver(), **compile_kwargs)


def parallel_ask_graph(g: Any) -> Any:
    def p1(state: S) -> dict[str, Any]:
        return {"log": [f"p1:{g.interrupt('q1')}"]}

    def p2(state: S) -> dict[str, Any]:
        return {"log": [f"p2:{g.interrupt('q2')}"]}

    def ok(state: S) -> dict[str, Any]:
        return {"log": ["ok"]}

    builder = g.StateGraph(S)
    builder.add_node("ok", ok)
    builder.add_node("p1", p1)
    builder.add_node("p2", p2)
    for n in ("ok", "p1", "p2"):
        builder.add_edge(g.START, n)
    return builder.compile(checkpointer=g.InMemorySaver())


def multi_ask_graph(g: Any) -> Any:
    def m(state: S) -> dict[str, Any]:
        first = g.interrupt("first")
        second = g.interrupt("second")
        return {"log": [first, second]}

    builder = g.StateGraph(S)
    builder.add_node("m", m)
    builder.add_edge(g.START, "m")
    return builder.compile(checkpointer=g.InMemorySaver())


def sub_ask_graph(g: Any) -> Any:
    def inner(state: S) -> dict[str, Any]:
        return {"log": [f"inner:{g.interrupt('sub-q')}"]}

    sb = g.StateGraph(S)
    sb.add_node("inner", inner)
    sb.add_edge(g.START, "inner")
    sub = sb.compile()

    builder = g.StateGraph(S)
    builder.add_node("sub", sub)
    builder.add_edge(g.START, "sub")
    return builder.compile(checkpointer=g.InMemorySaver())


Step = tuple[str, Any, dict[str, Any]]  # ("stream"|"state"|"history"|"invoke", input, kwargs)


def play(name: str, make: Callable[[Any], Any], steps: list[Step]) -> list[Any]:
    g = impl(name)
    graph = make(g)
    config = {"configurable": {"thread_id": "T"}}
    out: list[Any] = []
    for kind, inp, kwargs in steps:
        if callable(inp):
            inp = inp(g, out)
        if kind == "stream":
            try:
                out.append([c for c in graph.stream(inp, config, **kwargs)])
            except Exception as exc:
                out.append(("RAISED", exc))
        elif kind == "invoke":
            out.append(graph.invoke(inp, config, **kwargs))
        elif kind == "state":
            out.append(graph.get_state(config, **kwargs))
        elif kind == "history":
            out.append(list(graph.get_state_history(config, **kwargs)))
    return out


def resume(value: Any) -> Callable[[Any, list[Any]], Any]:
    return lambda g, out: g.Command(resume=value)


def resume_by_id(values: dict[str, Any]) -> Callable[[Any, list[Any]], Any]:
    """Answer each pending interrupt (read from get_state) by its question."""

    def make(g: Any, out: list[Any]) -> Any:
        snap = out[-1]
        return g.Command(resume={i.id: values[i.value] for i in snap.interrupts})

    return make


MODES = ["values", "updates"]
ALL = ["values", "updates", "tasks", "checkpoints", "debug", "custom", "messages"]

SCENARIOS: dict[str, tuple[Callable[[Any], Any], list[Step]]] = {
    "resume_command": (
        ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": "values"}),
            ("state", None, {}),
            ("stream", resume("yes"), {"stream_mode": "values"}),
            ("state", None, {}),
        ],
    ),
    "updates_none_then_command": (
        ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {}),
            ("stream", None, {}),
            ("stream", resume("ok"), {}),
            ("history", None, {}),
        ],
    ),
    "all_modes": (
        ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": ALL}),
            ("stream", resume("ok"), {"stream_mode": ALL}),
        ],
    ),
    "v2": (
        ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": MODES, "version": "v2"}),
            ("stream", resume("ok"), {"stream_mode": MODES, "version": "v2"}),
        ],
    ),
    "invoke": (
        ask_graph,
        [("invoke", {"x": 0, "log": []}, {}), ("invoke", resume("y"), {})],
    ),
    "interrupt_before": (
        lambda g: ask_graph(g, interrupt_before=["c"]),
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": MODES}),
            ("stream", resume("go"), {"stream_mode": MODES}),
            ("state", None, {}),
            ("stream", None, {"stream_mode": MODES}),
            ("state", None, {}),
        ],
    ),
    "interrupt_after": (
        lambda g: ask_graph(g, interrupt_after=["a"]),
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": [*MODES, "checkpoints"]}),
            ("state", None, {}),
            ("stream", None, {"stream_mode": [*MODES, "checkpoints"]}),
        ],
    ),
    "parallel_with_sibling": (
        parallel_ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": "updates"}),
            ("state", None, {}),
            ("stream", resume_by_id({"q1": "A", "q2": "B"}), {"stream_mode": MODES}),
            ("state", None, {}),
        ],
    ),
    "ambiguous_resume": (
        parallel_ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": "updates"}),
            ("stream", resume("x"), {"stream_mode": "updates"}),
        ],
    ),
    "multi_interrupt_node": (
        multi_ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": MODES}),
            ("stream", resume("A"), {"stream_mode": MODES}),
            ("state", None, {}),
            ("stream", resume("B"), {"stream_mode": MODES}),
        ],
    ),
    "subgraph": (
        sub_ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": MODES, "subgraphs": True}),
            ("state", None, {}),
            ("state", None, {"subgraphs": True}),
            ("stream", resume("S"), {"stream_mode": MODES, "subgraphs": True}),
        ],
    ),
    "subgraph_quiet": (
        sub_ask_graph,
        [
            ("stream", {"x": 0, "log": []}, {"stream_mode": ALL}),
            ("stream", resume("S"), {"stream_mode": ALL}),
            ("state", None, {}),
        ],
    ),
}


PARALLEL = {"parallel_with_sibling", "ambiguous_resume"}


def _unordered_runs(results: list[Any]) -> list[Any]:
    """Parallel tasks finish in racy order: sort the items of each streamed run."""
    out = normalize(results, number_ids=False)
    return [sorted(r, key=repr) if isinstance(r, list) else r for r in out]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_interrupt_scenarios_match_langgraph(scenario: str) -> None:
    make, steps = SCENARIOS[scenario]
    if scenario in PARALLEL:
        ours = _unordered_runs(play(ST, make, steps))
        theirs = _unordered_runs(play(LG, make, steps))
    else:
        ours = normalize(play(ST, make, steps))
        theirs = normalize(play(LG, make, steps))
    assert ours == theirs


def test_interrupt_without_checkpointer_ends_the_run() -> None:
    for name in (ST, LG):
        g = impl(name)

        def node(state: S, g: Any = g) -> dict[str, Any]:
            return {"log": [g.interrupt("q")]}

        builder = g.StateGraph(S)
        builder.add_node("n", node)
        builder.add_edge(g.START, "n")
        out = list(builder.compile().stream({"x": 0, "log": []}, stream_mode="updates"))
        assert [list(c) for c in out] == [["__interrupt__"]]
        assert out[0]["__interrupt__"][0].value == "q"


async def test_astream_reports_a_static_breakpoint_like_stream() -> None:
    """``interrupt_after`` ends an ``astream`` with ``{"__interrupt__": ()}``, as LangGraph."""
    from langgraph.checkpoint.memory import InMemorySaver as Saver

    from tests.graph.test_cross_engine import ENGINES, State

    async def run(engine: str) -> list[Any]:
        e = ENGINES[engine]

        async def step(state: State) -> dict[str, Any]:
            return {"log": ["a"]}

        builder = e.StateGraph(State)
        builder.add_node("a", step)
        builder.add_edge(e.START, "a")
        graph = builder.compile(checkpointer=Saver(), interrupt_after=["a"])
        config = {"configurable": {"thread_id": "1"}}
        return [part async for part in graph.astream({"log": []}, config)]

    ours = await run("streamtap")
    assert ours == await run("langgraph")
    assert ours == [{"a": {"log": ["a"]}}, {"__interrupt__": ()}]
