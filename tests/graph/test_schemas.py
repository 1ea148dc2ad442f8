"""State schemas as LangGraph accepts them: a bare-value state, input/output and node schemas
that add keys, private node state, routers typed with their own schema, ``Command[Literal]``
ends, pydantic coercion, JSON schemas. LangGraph is the oracle on the same graphs.

No ``from __future__ import annotations`` here: both engines read node and router
annotations at run time, so the schemas they name must resolve (module level).
"""

import operator
import warnings
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ValidationError
from typing_extensions import TypedDict

from tests.graph.test_cross_engine import ENGINES

ENGINE_NAMES = ("langgraph", "streamtap")
CONFIG = {"configurable": {"thread_id": "schemas"}}


def _observe(build: Any, engine: Any) -> Any:
    try:
        return build(engine)
    except Exception as exc:  # the same failure is the same observation
        return ("raised", type(exc).__name__, str(exc).splitlines()[0])


def both(build: Any) -> Any:
    """``build(engine)`` returns what a scenario observed; both engines must observe the same."""
    seen = {name: _observe(build, ENGINES[name]) for name in ENGINE_NAMES}
    assert seen["streamtap"] == seen["langgraph"]
    return seen["langgraph"]


def _history(graph: Any) -> list[Any]:
    return [
        (s.values, s.next, [(t.name, t.result) for t in s.tasks])
        for s in graph.get_state_history(CONFIG)
    ]


# ---------------------------------------------------------------------- a bare-value state


@pytest.mark.parametrize(
    "schema", [Annotated[list, operator.add], Annotated[list[str], operator.add]]
)
def test_a_reducer_state_is_one_bare_value(schema: Any) -> None:
    def build(e: Any) -> Any:
        def one(state: list[str]) -> list[str]:
            return [f"one:{len(state)}"]

        def two(state: list[str]) -> Any:
            return [e.Command(update=["two"]), ["three"]]

        graph = (
            e.StateGraph(schema)
            .add_sequence([one, two])
            .add_edge(e.START, "one")
            .compile(checkpointer=InMemorySaver())
        )
        invoked = graph.invoke(["0"], CONFIG)
        streamed = list(graph.stream(["a"], CONFIG, stream_mode=["values", "updates"]))
        updated = graph.update_state(CONFIG, ["patched"], as_node="two")
        state = graph.get_state(CONFIG)
        return invoked, streamed, state.values, state.next, bool(updated), _history(graph)

    both(build)


def test_a_last_value_state_and_command_updates() -> None:
    def build(e: Any) -> Any:
        def node_a(state: Any) -> Any:
            return [e.Command(update="a1"), e.Command(update="a2")]

        def node_b(state: Any) -> str:
            return "b"

        added = (
            e.StateGraph(Annotated[str, operator.add])
            .add_sequence([node_a, node_b])
            .add_edge(e.START, "node_a")
            .compile()
        )
        last = e.StateGraph(int).add_node("inc", lambda n: n + 1)
        last = last.add_edge(e.START, "inc").compile(checkpointer=InMemorySaver())
        return (
            added.invoke(""),
            list(added.stream("", stream_mode="updates")),
            last.invoke(1, CONFIG),
            last.invoke(e.Command(update=10, goto="inc"), CONFIG),
            last.get_state(CONFIG).values,
        )

    both(build)


def test_a_bare_value_state_with_an_interrupt_streams_the_interrupts_alone() -> None:
    def build(e: Any) -> Any:
        def ask(state: list[str]) -> list[str]:
            return [e.interrupt("name?")]

        graph = (
            e.StateGraph(Annotated[list, operator.add])
            .add_node("ask", ask)
            .add_edge(e.START, "ask")
            .compile(checkpointer=InMemorySaver())
        )
        paused = list(graph.stream(["hi"], CONFIG, stream_mode="values"))
        resumed = graph.invoke(e.Command(resume="bob"), CONFIG)
        return [
            {
                k: [i.value for i in v] if k == "__interrupt__" else v
                for k, v in (p.items() if isinstance(p, dict) else [("value", p)])
            }
            for p in paused
        ], resumed

    both(build)


# ---------------------------------------------------------------------- extra keys


class State(TypedDict):
    a: int
    b: int


class In(TypedDict):
    a: int
    z: int


class Out(TypedDict):
    b: int


class Private(TypedDict):
    p: int


def test_input_output_and_node_schemas_add_their_keys_as_channels() -> None:
    def build(e: Any) -> Any:
        def first(state: State) -> dict[str, int]:
            return {"b": state["a"] + 1, "p": 5, "z": 3, "unknown": 0}

        def second(state: Private) -> dict[str, int]:
            return {"a": state["p"]}

        graph = (
            e.StateGraph(State, input_schema=In, output_schema=Out)
            .add_node(first)
            .add_node(second)
            .add_edge(e.START, "first")
            .add_edge("first", "second")
            .compile(checkpointer=InMemorySaver())
        )
        given = {"a": 1, "z": 2}
        return (
            list(graph.stream(given, CONFIG, stream_mode="values")),
            list(graph.stream({**given, "b": 7}, CONFIG, stream_mode="updates")),
            graph.invoke(given, CONFIG),
            graph.invoke(given, CONFIG, stream_mode="updates"),
            list(graph.stream(given, CONFIG, output_keys=["a", "p"], stream_mode="values")),
            graph.get_state(CONFIG).values,
        )

    both(build)


class Full(TypedDict):
    hello: str
    bye: str
    items: Annotated[list[str], operator.add]


class Items(TypedDict):
    items: list[str]


class ForA(TypedDict):
    hello: str
    items: Annotated[list[str], operator.add]


class ForB(TypedDict):
    bye: str
    now: int


class ForC(TypedDict):
    hello: str
    now: int


def test_node_schemas_filter_what_each_node_reads() -> None:
    """LangGraph's ``test_node_schemas_custom_output``, without messages."""

    def build(e: Any) -> Any:
        seen: list[Any] = []

        def a(state: ForA) -> None:
            seen.append(("a", dict(state)))

        def b(state: ForB) -> dict[str, Any]:
            seen.append(("b", dict(state)))
            return {"now": 123, "hello": "again"}

        def c(state: ForC) -> None:
            seen.append(("c", dict(state)))

        graph = (
            e.StateGraph(Full, output_schema=Items)
            .add_node("a", a)
            .add_node("b", b, input_schema=ForB)
            .add_node("c", c)
            .add_edge(e.START, "a")
            .add_edge("a", "b")
            .add_edge("b", "c")
            .compile()
        )
        given = {"hello": "there", "bye": "world", "items": ["x"], "now": 345}
        return graph.invoke(given), list(graph.stream(given)), seen

    invoked, _, seen = both(build)
    assert invoked == {"items": ["x"]}
    assert seen[1] == ("b", {"bye": "world"})


class Overall(TypedDict):
    foo: Annotated[int, operator.add]
    bar: str


class RouterState(TypedDict):
    baz: str


class Node2State(TypedDict):
    foo: Annotated[int, operator.add]
    baz: str


@pytest.mark.parametrize("typed_router", [False, True])
def test_a_router_reads_its_own_schema_else_its_nodes(typed_router: bool) -> None:
    def build(e: Any) -> Any:
        seen: list[Any] = []

        def node_1(state: Overall) -> dict[str, Any]:
            return {"foo": 1, "baz": "meow"}

        def node_2(state: Node2State) -> dict[str, Any]:
            return {"foo": 1, "bar": state["baz"]}

        def typed(state: RouterState) -> str:
            seen.append(dict(state))
            return "node_2" if state["baz"] == "meow" else e.END

        def untyped(state):  # type: ignore[no-untyped-def]  # reads node_1's schema
            seen.append(dict(state))
            return "node_2"

        graph = (
            e.StateGraph(Overall)
            .add_node(node_1)
            .add_node(node_2)
            .add_conditional_edges("node_1", typed if typed_router else untyped)
            .add_edge(e.START, "node_1")
            .compile()
        )
        return graph.invoke({"foo": 0}), seen

    assert both(build)[0] == {"foo": 2, "bar": "meow"}


def test_a_key_declared_twice_with_different_reducers_is_refused() -> None:
    class A(TypedDict):
        x: Annotated[list, operator.add]

    class B(TypedDict):
        x: Annotated[list, operator.or_]

    class Plain(TypedDict):
        x: list

    for name in ENGINE_NAMES:
        e = ENGINES[name]
        e.StateGraph(A, input_schema=Plain)  # a plain key keeps the reducer
        with pytest.raises(ValueError, match="Channel 'x' already exists with a different type"):
            e.StateGraph(A, input_schema=B)
        with pytest.raises(ValueError, match="Channel 'x' already exists with a different type"):
            e.StateGraph(Plain).add_node("n", lambda s: s, input_schema=A)


def test_a_schema_that_is_no_type_warns() -> None:
    for name in ENGINE_NAMES:
        with pytest.warns(UserWarning, match="Invalid state_schema"):
            ENGINES[name].StateGraph("not a type")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ENGINES[name].StateGraph(Annotated[list, operator.add])


# ---------------------------------------------------------------------- Command[Literal]


def test_command_literal_return_names_the_nodes_ends() -> None:
    def build(e: Any) -> Any:
        def route(state: State) -> e.Command[Literal["b", "c"]] | None:
            return e.Command(goto="c", update={"a": 1})

        builder = e.StateGraph(State)
        builder.add_node("route", route)
        builder.add_node("b", lambda s: {"b": 2})
        builder.add_node("c", lambda s: {"b": 3})
        builder.add_edge(e.START, "route")
        graph = builder.compile()
        drawn = graph.get_graph()
        return (
            tuple(builder.nodes["route"].ends),
            graph.invoke({"a": 0}),
            sorted((edge.source, edge.target, edge.conditional) for edge in drawn.edges),
        )

    both(build)


def test_command_literal_ends_must_be_nodes() -> None:
    for name in ENGINE_NAMES:
        e = ENGINES[name]

        def route(state: State, e: Any = e) -> e.Command[Literal["nowhere"]]:
            return e.Command(goto="nowhere")

        builder = e.StateGraph(State).add_node("route", route).add_edge(e.START, "route")
        with pytest.raises(ValueError, match="Found edge ending at unknown node `nowhere`"):
            builder.compile()


# ---------------------------------------------------------------------- pydantic and dataclasses


class Inner(BaseModel):
    yo: int


class PState(BaseModel):
    query: str
    inner: Inner
    answer: str | None = None
    docs: Annotated[list[str], operator.add] = []


class PInput(BaseModel):
    query: str
    inner: Inner


class POutput(BaseModel):
    answer: str
    docs: list[str]


def test_pydantic_state_is_coerced_for_each_node_and_output() -> None:
    def build(e: Any) -> Any:
        seen: list[Any] = []

        def rewrite(data: PState) -> dict[str, Any]:
            seen.append(type(data).__name__)
            return {"query": f"q: {data.query}", "docs": ["d1"]}

        def answer(data: PState) -> dict[str, Any]:
            seen.append(data.inner.yo)
            return {"answer": ",".join(data.docs)}

        def decide(data: PState) -> str:
            seen.append(isinstance(data, PState))
            return "answer"

        graph = (
            e.StateGraph(PState, input_schema=PInput, output_schema=POutput)
            .add_node(rewrite)
            .add_node(answer)
            .add_edge(e.START, "rewrite")
            .add_conditional_edges("rewrite", decide, ["answer"])
            .compile()
        )
        given = PInput(query="sf", inner=Inner(yo=1))
        return graph.invoke(given), list(graph.stream(given)), seen

    both(build)


def test_pydantic_validation_errors_surface_from_the_node_that_reads() -> None:
    def build(e: Any) -> Any:
        graph = e.StateGraph(PState).add_node("n", lambda s: {}).add_edge(e.START, "n").compile()
        with pytest.raises(ValidationError) as info:
            graph.invoke({"query": "q", "inner": {"yo": "not a number"}})
        return info.value.__notes__, graph.invoke({"query": "q", "inner": {"yo": "3"}})

    notes, coerced = both(build)
    assert notes == ["Before task with name 'n' and path '('__pregel_pull', 'n')'"]
    assert coerced == {"query": "q", "inner": {"yo": "3"}, "docs": []}


@dataclass
class DState:
    a: int
    items: Annotated[list[str], operator.add] = field(default_factory=list)


def test_dataclass_state_defaults_and_updates() -> None:
    def build(e: Any) -> Any:
        def n(state: DState) -> DState:
            return DState(a=state.a + 1, items=[str(state.a)])

        graph = e.StateGraph(DState).add_node(n).add_edge(e.START, "n").compile()
        return graph.invoke(DState(a=1)), graph.invoke({"a": 5})

    both(build)


# ---------------------------------------------------------------------- JSON schemas and models


class TD(TypedDict):
    a: int
    b: Annotated[list[str], operator.add]


class TDOut(TypedDict):
    b: Annotated[list[str], operator.add]
    out: NotRequired[float]


class Ctx(TypedDict):
    user: str


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state_schema": TD},
        {"state_schema": TD, "input_schema": In, "output_schema": TDOut},
        {"state_schema": DState},
        {"state_schema": PState, "input_schema": PInput, "output_schema": POutput},
        {"state_schema": Annotated[list, operator.add]},
        {"state_schema": list[str]},
        {"state_schema": int},
        {"state_schema": TD, "context_schema": Ctx},
        {"state_schema": DState, "output_schema": TDOut, "context_schema": DState},
    ],
)
def test_json_schemas_and_models(kwargs: dict[str, Any]) -> None:
    def build(e: Any) -> Any:
        graph = e.StateGraph(**kwargs).add_node("n", lambda s: None)
        graph = graph.add_edge(e.START, "n").compile()
        return (
            graph.get_input_jsonschema(),
            graph.get_output_jsonschema(),
            graph.get_context_jsonschema(),
            graph.input_schema.model_json_schema(),
            graph.output_schema.model_json_schema(),
        )

    both(build)


def test_output_keys_must_be_channels() -> None:
    e = ENGINES["streamtap"]
    graph = e.StateGraph(State).add_node("n", lambda s: None).add_edge(e.START, "n").compile()
    with pytest.raises(ValueError, match="Key nope not in channels"):
        list(graph.stream({"a": 1}, output_keys=["nope"]))
    with pytest.raises(NotImplementedError, match="output_keys='a'"):
        list(graph.stream({"a": 1}, output_keys="a"))
