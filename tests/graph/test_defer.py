"""Deferred nodes (``add_node(..., defer=True)``) run once nothing else is left to run;
LangGraph is the oracle, stored checkpoints included."""

from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langgraph.checkpoint.memory import InMemorySaver

import streamtap.graph as st

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        Command=lg_types.Command,
        interrupt=lg_types.interrupt,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        Command=st.Command,
        interrupt=st.interrupt,
    ),
}


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def _builder(engine: str, *, ask: bool = False) -> Any:
    """START -> a -> (b1 -> b2 -> b3 | c) -> summary (deferred): the branches differ in length."""
    e = ENGINES[engine]

    def step(name: str) -> Any:
        def node(state: State) -> dict[str, Any]:
            if ask and name == "b2":
                return {"log": [f"b2:{e.interrupt('go?')}"]}
            return {"log": [name]}

        return node

    builder = e.StateGraph(State)
    for name in ("a", "b1", "b2", "b3", "c"):
        builder.add_node(name, step(name))
    builder.add_node("summary", lambda s: {"log": [f"summary of {len(s['log'])}"]}, defer=True)
    builder.add_edge(e.START, "a")
    builder.add_edge("a", "b1")
    builder.add_edge("b1", "b2")
    builder.add_edge("b2", "b3")
    builder.add_edge("a", "c")
    builder.add_edge("b3", "summary")
    builder.add_edge("c", "summary")
    return builder


def _run(engine: str) -> Any:
    graph = _builder(engine).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "d"}}
    steps = [list(chunk) for chunk in graph.stream({"log": []}, config, stream_mode="updates")]
    saved = graph.get_state(config)
    return steps, saved.values, saved.next


def test_a_deferred_node_runs_once_after_every_branch() -> None:
    ours = _run("streamtap")
    assert ours == _run("langgraph")
    steps, values, pending = ours
    # c finished with b1, but summary waits until b3 is done too, and runs once
    assert steps == [["a"], ["b1"], ["c"], ["b2"], ["b3"], ["summary"]]
    assert values["log"] == ["a", "b1", "c", "b2", "b3", "summary of 5"] and pending == ()


@pytest.mark.parametrize(
    ("first", "second"), [("langgraph", "streamtap"), ("streamtap", "langgraph")]
)
def test_a_waiting_deferred_node_resumes_on_the_other_engine(first: str, second: str) -> None:
    saver, config = InMemorySaver(), {"configurable": {"thread_id": "x"}}
    paused = _builder(first, ask=True).compile(checkpointer=saver).invoke({"log": []}, config)
    assert [i.value for i in paused["__interrupt__"]] == ["go?"]
    # c has finished: the deferred summary's join holds it across the engines
    done = (
        _builder(second, ask=True)
        .compile(checkpointer=saver)
        .invoke(ENGINES[second].Command(resume="yes"), config)
    )
    assert done["log"] == ["a", "b1", "c", "b2:yes", "b3", "summary of 5"]
