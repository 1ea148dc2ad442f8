"""``Overwrite``: a write that bypasses a key's reducer, in all its forms; LangGraph is the
oracle, and a pending overwrite moves between the engines on one saver."""

from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langgraph.checkpoint.memory import InMemorySaver

import streamtap.graph as st

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        Overwrite=lg_types.Overwrite,
        Command=lg_types.Command,
        interrupt=lg_types.interrupt,
        InvalidUpdateError=lg_errors.InvalidUpdateError,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        Overwrite=st.Overwrite,
        Command=st.Command,
        interrupt=st.interrupt,
        InvalidUpdateError=st.InvalidUpdateError,
    ),
}


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def _fan_out(engine: str, form: str, overwriters: tuple[str, ...]) -> Any:
    e = ENGINES[engine]

    def write(name: str) -> Any:
        def node(state: State) -> dict[str, Any]:
            if name not in overwriters:
                return {"log": [name]}
            if form == "class":
                return {"log": e.Overwrite([name])}
            if form == "marker":
                return {"log": {"__overwrite__": [name]}}
            return {"log": {"value": [name], "type": "__overwrite__"}}  # JSON of the class

        return node

    builder = e.StateGraph(State)
    for name in "abcd":
        builder.add_node(name, write(name))
    builder.add_edge(e.START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    builder.add_edge(["b", "c"], "d")
    graph = builder.compile(checkpointer=InMemorySaver())
    try:
        return graph.invoke({"log": ["in"]}, {"configurable": {"thread_id": "o"}})
    except e.InvalidUpdateError as exc:
        return type(exc).__name__, "Can receive only one Overwrite value" in str(exc)


@pytest.mark.parametrize("form", ["class", "marker", "json"])
def test_an_overwrite_replaces_every_write_of_its_step(form: str) -> None:
    ours = _fan_out("streamtap", form, ("b",))
    assert ours == _fan_out("langgraph", form, ("b",))
    # a's write and c's (same step) are replaced by b's; d then adds through the reducer
    assert ours == {"log": ["b", "d"]}


def test_two_overwrites_in_one_step_raise() -> None:
    ours = _fan_out("streamtap", "class", ("b", "c"))
    assert ours == _fan_out("langgraph", "class", ("b", "c"))
    assert ours == ("InvalidUpdateError", True)


def _pending_overwrite(first: str, second: str) -> Any:
    """A step where one node overwrote and its sibling paused: the overwrite is a pending
    write on the saver, resumed by the other engine."""
    saver, config = InMemorySaver(), {"configurable": {"thread_id": "p"}}

    def build(engine: str) -> Any:
        e = ENGINES[engine]
        builder = e.StateGraph(State)
        builder.add_node("over", lambda s: {"log": e.Overwrite(["over"])})
        builder.add_node("ask", lambda s: {"log": [f"ask:{e.interrupt('q')}"]})
        builder.add_edge(e.START, "over")
        builder.add_edge(e.START, "ask")
        return builder.compile(checkpointer=saver)

    paused = build(first).invoke({"log": ["in"]}, config)
    done = build(second).invoke(ENGINES[second].Command(resume="y"), config)
    return [i.value for i in paused["__interrupt__"]], done


@pytest.mark.parametrize(
    ("first", "second"), [("langgraph", "streamtap"), ("streamtap", "langgraph")]
)
def test_a_pending_overwrite_resumes_on_the_other_engine(first: str, second: str) -> None:
    assert _pending_overwrite(first, second) == _pending_overwrite(first, first)
    assert _pending_overwrite(first, second) == (["q"], {"log": ["over"]})
