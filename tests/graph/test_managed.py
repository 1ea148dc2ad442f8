"""Managed values (``RemainingSteps``, ``IsLastStep``): computed per task, never stored;
LangGraph is the oracle."""

from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import langgraph.graph as lg_graph
import langgraph.managed as lg_managed
from langgraph.checkpoint.memory import InMemorySaver

import streamtap.graph as st

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        END=lg_graph.END,
        RemainingSteps=lg_managed.RemainingSteps,
        IsLastStep=lg_managed.IsLastStep,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        END=st.END,
        RemainingSteps=st.RemainingSteps,
        IsLastStep=st.IsLastStep,
    ),
}


class StState(TypedDict):
    seen: Annotated[list[tuple[int, bool]], operator.add]
    remaining_steps: st.RemainingSteps
    last: st.IsLastStep


class LgState(TypedDict):
    seen: Annotated[list[tuple[int, bool]], operator.add]
    remaining_steps: lg_managed.RemainingSteps
    last: lg_managed.IsLastStep


STATES: dict[str, Any] = {"streamtap": StState, "langgraph": LgState}


def _loop_until_told(engine: str) -> Any:
    """A loop that would hit recursion_limit, stopping itself when steps run out."""
    e = ENGINES[engine]
    State = STATES[engine]

    def agent(state: Any) -> dict[str, Any]:
        # a write to a managed key is dropped
        return {"seen": [(state["remaining_steps"], state["last"])], "remaining_steps": 99}

    graph = (
        e.StateGraph(State)
        .add_node("agent", agent)
        .add_edge(e.START, "agent")
        .add_conditional_edges("agent", lambda s: e.END if s["remaining_steps"] <= 2 else "agent")
        .compile(checkpointer=InMemorySaver())
    )
    config = {"configurable": {"thread_id": "m"}, "recursion_limit": 5}
    out = graph.invoke({"seen": []}, config)
    stored = graph.get_state(config)
    return out, sorted(stored.values), e.StateGraph(State).managed.keys()


def test_remaining_steps_lets_a_loop_stop_before_the_recursion_limit() -> None:
    out, stored_keys, managed = _loop_until_told("streamtap")
    lg_out, lg_stored, lg_managed_keys = _loop_until_told("langgraph")
    assert (out, stored_keys, set(managed)) == (lg_out, lg_stored, set(lg_managed_keys))
    # the first node runs in step 1 of 5 (the input is step 0); the loop ends itself at 2
    assert out == {"seen": [(4, False), (3, False), (2, False)]}
    assert stored_keys == ["seen"] and set(managed) == {"remaining_steps", "last"}
