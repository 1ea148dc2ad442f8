"""get_graph() / get_subgraphs() / copy() / with_config(): the same graph built on LangGraph
and on streamtap.graph must draw to the same text (to_json, mermaid) and expose the same
subgraphs. LangGraph is the oracle."""

from __future__ import annotations

import asyncio
import json
import operator
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

import pytest
import typing_extensions as te
from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import BaseModel

from tests.graph.test_cross_engine import ENGINES


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def _node(tag: str) -> Callable[[State], dict[str, Any]]:
    def run(state: State) -> dict[str, Any]:
        return {"log": [tag]}

    return run


def _drawn(graph: Any, **kwargs: Any) -> tuple[str, str]:
    drawn = graph.get_graph(**kwargs)
    return json.dumps(drawn.to_json(), indent=1, sort_keys=True), drawn.draw_mermaid()


def _same(build: Callable[[Any], Any], **kwargs: Any) -> tuple[str, str]:
    theirs = _drawn(build(ENGINES["langgraph"]), **kwargs)
    ours = _drawn(build(ENGINES["streamtap"]), **kwargs)
    assert ours[1] == theirs[1]
    assert ours[0] == theirs[0]
    return ours


def _labelled_entry(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("left", _node("left"))
        .add_node("right", _node("right"))
        .add_conditional_edges(
            e.START, lambda s: "go-left", {"go-left": "left", "go-right": "right"}
        )
        .add_conditional_edges("left", lambda s: "x", {"x": e.END, "again": "right"})
        .add_edge("right", e.END)
        .compile()
    )


def _fan_in(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("a", _node("a"))
        .add_node("b", _node("b"))
        .add_node("c", _node("c"))
        .add_node("d", _node("d"), metadata={"owner": "me"})
        .add_edge(e.START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge(["b", "c"], "d")
        .add_edge("d", e.END)
        .compile(interrupt_before=["b"], interrupt_after=["b", "c"])
    )


def route(state: State) -> Literal["tool", "__end__"]:
    return "__end__"


def _literal_loop(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("agent", _node("agent"))
        .add_node("tool", _node("tool"))
        .add_edge(e.START, "agent")
        .add_conditional_edges("agent", route)
        .add_edge("tool", "agent")
        .compile()
    )


def _unmapped_router(e: Any) -> Any:
    """No path map, no annotation: LangGraph draws a dashed edge to END from the last node."""
    return (
        e.StateGraph(State)
        .add_node("a", _node("a"))
        .add_node("b", _node("b"))
        .add_edge(e.START, "a")
        .add_conditional_edges("a", lambda s: "b")
        .compile()
    )


def _destinations(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("a", _node("a"), destinations={"b": "to b", e.END: "done"})
        .add_node("b", _node("b"), destinations=("a",))
        .add_node("lam", RunnableLambda(lambda s: {"log": ["lam"]}))
        .add_edge(e.START, "a")
        .add_edge(e.START, "lam")
        .compile()
    )


def _sends(e: Any) -> Any:
    def fan(state: State) -> list[Any]:
        return [e.Send("worker", {"log": [str(i)]}) for i in range(2)]

    return (
        e.StateGraph(State)
        .add_node("plan", _node("plan"))
        .add_node("worker", _node("worker"))
        .add_node("sum", _node("sum"))
        .add_edge(e.START, "plan")
        .add_conditional_edges("plan", fan, ["worker"])
        .add_edge("worker", "sum")
        .compile()
    )


def _self_loop(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("a", _node("a"))
        .add_edge(e.START, "a")
        .add_conditional_edges("a", lambda s: e.END, ["a", e.END])
        .compile()
    )


def _deferred(e: Any) -> Any:
    return (
        e.StateGraph(State)
        .add_node("a", _node("a"))
        .add_node("b", _node("b"))
        .add_node("c", _node("c"))
        .add_node("d", _node("d"))
        .add_node("final", _node("final"), defer=True)
        .add_node("joined", _node("joined"), defer=True)
        .add_edge(e.START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_edge("c", "d")
        .add_edge("b", "final")
        .add_edge("d", "final")
        .add_edge(["b", "d"], "joined")
        .compile()
    )


@pytest.mark.parametrize(
    "build",
    [
        _labelled_entry,
        _fan_in,
        _literal_loop,
        _unmapped_router,
        _destinations,
        _sends,
        _self_loop,
        _deferred,
    ],
)
def test_drawing_matches_langgraph(build: Callable[[Any], Any]) -> None:
    _same(build)


def test_drawing_shows_labels_dashes_and_metadata() -> None:
    _, mermaid = _same(_labelled_entry)
    assert "__start__ -. &nbsp;go-left&nbsp; .-> left;" in mermaid
    assert "left -. &nbsp;x&nbsp; .-> __end__;" in mermaid
    assert "right --> __end__;" in mermaid
    as_json, _ = _same(_fan_in)
    nodes = {n["id"]: n for n in json.loads(as_json)["nodes"]}
    assert nodes["b"]["metadata"] == {"__interrupt": "before,after"}
    assert nodes["c"]["metadata"] == {"__interrupt": "after"}
    assert nodes["d"]["metadata"] == {"owner": "me"}
    assert nodes["a"]["data"]["id"] == ["langgraph", "_internal", "_runnable", "RunnableCallable"]


def _nested(e: Any, via_function: bool) -> Any:
    inner = e.StateGraph(State).add_node("deep", _node("deep")).add_edge(e.START, "deep").compile()
    middle_builder = (
        e.StateGraph(State)
        .add_node("m1", _node("m1"))
        .add_node("inner", inner)
        .add_edge(e.START, "m1")
        .add_edge("m1", "inner")
    )
    middle = middle_builder.compile()

    def call_middle(state: State) -> Any:
        return middle.invoke(state)

    return (
        e.StateGraph(State)
        .add_node("first", _node("first"))
        .add_node("middle", call_middle if via_function else middle)
        .add_node("last", _node("last"))
        .add_edge(e.START, "first")
        .add_edge("first", "middle")
        .add_edge("middle", "last")
        .compile()
    )


@pytest.mark.parametrize("via_function", [False, True])
@pytest.mark.parametrize("xray", [False, True, 1, 2])
def test_xray_expands_subgraphs_as_langgraph(via_function: bool, xray: int | bool) -> None:
    _, mermaid = _same(lambda e: _nested(e, via_function), xray=xray)
    if not xray:
        assert "first --> middle;" in mermaid
    elif xray == 1 and xray is not True:  # one level: the inner graph stays one node
        assert "middle\\3am1 --> middle\\3ainner;" in mermaid
    else:
        assert "middle\\3am1 --> middle\\3ainner\\3adeep;" in mermaid


def test_aget_graph_is_get_graph() -> None:
    graph = _nested(ENGINES["streamtap"], False)
    drawn = asyncio.run(graph.aget_graph(xray=True))
    assert drawn.to_json() == graph.get_graph(xray=True).to_json()


def test_get_subgraphs_matches_langgraph() -> None:
    def listing(e: Any, **kwargs: Any) -> list[str]:
        return [ns for ns, _ in _nested(e, False).get_subgraphs(**kwargs)]

    for kwargs in (
        {},
        {"recurse": True},
        {"namespace": "middle"},
        {"namespace": "middle|inner"},
        {"namespace": "middle|inner", "recurse": True},
        {"namespace": "mid"},
    ):
        assert listing(ENGINES["streamtap"], **kwargs) == listing(ENGINES["langgraph"], **kwargs)
    graph = _nested(ENGINES["streamtap"], False)
    found = dict(graph.get_subgraphs(recurse=True))
    assert found["middle"] is graph.nodes["middle"].subgraphs[0]
    assert list(found["middle|inner"].nodes) == ["deep"]

    async def collect() -> list[str]:
        return [ns async for ns, _ in graph.aget_subgraphs(recurse=True)]

    assert asyncio.run(collect()) == ["middle", "middle|inner"]


class _Holder:
    def __init__(self, graph: Any) -> None:
        self.graph = graph


def _detected(e: Any, shape: str) -> str | None:
    sub = e.StateGraph(State).add_node("x", _node("x")).add_edge(e.START, "x").compile(name="sub")
    holder = _Holder(sub)

    def helper(state: State) -> Any:
        return sub.invoke(state)

    def via_helper(state: State) -> Any:  # a function calling a function: not followed
        return helper(state)

    def via_attribute(state: State) -> Any:
        return holder.graph.invoke(state)

    def via_generator(state: State) -> Any:
        yield sub.invoke(state)

    nodes = {
        "closure": helper,
        "helper": via_helper,
        "attribute": via_attribute,
        "generator": via_generator,
        "sequence": RunnableLambda(lambda s: s) | sub,
        "no_checkpointer": e.StateGraph(State)
        .add_node("y", _node("y"))
        .add_edge(e.START, "y")
        .compile(checkpointer=False),
    }
    graph = e.StateGraph(State).add_node("n", nodes[shape]).add_edge(e.START, "n").compile()
    found = graph.nodes["n"].subgraphs
    return getattr(found[0], "name", "?") if found else None


@pytest.mark.parametrize(
    "shape", ["closure", "helper", "attribute", "generator", "sequence", "no_checkpointer"]
)
def test_subgraph_detection_matches_langgraph(shape: str) -> None:
    assert _detected(ENGINES["streamtap"], shape) == _detected(ENGINES["langgraph"], shape)


def test_copy_and_with_config() -> None:
    e = ENGINES["streamtap"]
    seen: list[RunnableConfig] = []

    def look(state: State, config: RunnableConfig) -> dict[str, Any]:
        seen.append(config)
        return {"log": ["look"]}

    graph = e.StateGraph(State).add_node("look", look).add_edge(e.START, "look").compile()
    bound = graph.with_config({"tags": ["bound"], "configurable": {"who": "me"}}, recursion_limit=7)
    assert bound is not graph and type(bound) is type(graph)
    assert bound.config is not None and bound.config["recursion_limit"] == 7
    assert graph.config is None
    assert bound.with_config(tags=["more"]).config["tags"] == ["bound", "more"]  # type: ignore[index]
    assert bound.invoke({"log": []}, {"tags": ["call"]}) == {"log": ["look"]}
    assert "bound" in seen[-1]["tags"] and "call" in seen[-1]["tags"]
    assert seen[-1]["configurable"]["who"] == "me"
    assert seen[-1]["recursion_limit"] == 7
    copied = graph.copy({"name": "renamed"})
    assert copied.name == "renamed" and graph.name == "LangGraph"
    assert copied.nodes is graph.nodes
    with pytest.raises(TypeError, match="unexpected keyword argument 'nonsense'"):
        graph.copy({"nonsense": 1})
    node = graph.nodes["look"].copy({"metadata": {"k": 1}})
    assert node.metadata == {"k": 1} and graph.nodes["look"].metadata is None
    assert (
        e.StateGraph(State)
        .add_node("a", look)
        .add_edge(e.START, "a")
        .compile(name="named")
        .get_name()
        == "named"
    )


def _random_graph(e: Any, seed: int) -> Any:
    """A graph of plain edges, joins, routers (dict / list / no path map), destinations
    and deferred nodes, drawn from ``seed``."""
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(rng.randint(1, 6))]
    targets = [*names, e.END]
    builder = e.StateGraph(State)
    for name in names:
        kwargs: dict[str, Any] = {"defer": rng.random() < 0.15}
        if rng.random() < 0.2:
            dests = rng.sample(targets, rng.randint(1, 2))
            kwargs["destinations"] = (
                tuple(dests) if rng.random() < 0.5 else {d: f"to {d}" for d in dests}
            )
        builder.add_node(name, _node(name), **kwargs)
    builder.add_edge(e.START, rng.choice(names))
    for i in range(rng.randint(0, 2 * len(names))):
        src, roll = rng.choice([*names, e.START]), rng.random()
        if roll < 0.45:
            builder.add_edge(src, rng.choice(targets))
        elif roll < 0.6 and len(names) >= 2:
            builder.add_edge(rng.sample(names, 2), rng.choice(names))
        else:
            dests = rng.sample(targets, rng.randint(0, min(3, len(targets))))
            mode = rng.choice(["dict", "list", "none"])
            path_map = (
                {f"k{j}": d for j, d in enumerate(dests)}
                if mode == "dict"
                else (dests if mode == "list" else None)
            )
            router = _node("unused")
            router.__name__ = f"route_{i}"  # LangGraph refuses two routers of one name
            builder.add_conditional_edges(src, router, path_map)
    return builder.compile()


def test_random_graphs_draw_as_langgraph() -> None:
    for seed in range(150):
        try:
            theirs = _drawn(_random_graph(ENGINES["langgraph"], seed))
        except TypeError:  # LangGraph cannot sort None and str labels of one edge
            continue
        assert _drawn(_random_graph(ENGINES["streamtap"], seed)) == theirs, seed


class _Model(BaseModel):
    query: str
    docs: Annotated[list[str], operator.add] = []


@dataclass
class _Data:
    query: str
    hits: Annotated[list[int], operator.add] = field(default_factory=list)
    note: str | None = None
    score: Annotated[float | None, "meta"] = None


class _In(te.TypedDict):  # pydantic needs typing_extensions' TypedDict before 3.12
    log: Annotated[list[str], operator.add]
    extra: te.NotRequired[int]


class _Out(te.TypedDict):
    log: Annotated[list[str], operator.add]


@pytest.mark.parametrize("schema", [_In, _Model, _Data, Annotated[list[str], operator.add]])
def test_json_schemas_match_langgraph(schema: type[Any]) -> None:
    def build(e: Any) -> Any:
        builder = e.StateGraph(schema, output_schema=_Out) if schema is _In else None
        builder = builder or e.StateGraph(schema)
        builder.add_node("n", lambda s: None)
        return builder.add_edge(e.START, "n").compile(name="g")

    ours, theirs = build(ENGINES["streamtap"]), build(ENGINES["langgraph"])
    assert ours.get_input_jsonschema() == theirs.get_input_jsonschema()
    assert ours.get_output_jsonschema() == theirs.get_output_jsonschema()
