"""Threads move between LangGraph and streamtap.graph on one saver, both ways.

The same graph is written twice, once with each engine's imports; a thread
started on one pauses (``interrupt()``, ``interrupt_before``, a failed step) and
is resumed on the other. Both must agree on everything stored: task ids,
checkpoint ids' order, channel versions, pending writes and metadata.
"""

from __future__ import annotations

import operator
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

import streamtap.graph as st

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        END=lg_graph.END,
        interrupt=lg_types.interrupt,
        Command=lg_types.Command,
        Send=lg_types.Send,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        END=st.END,
        interrupt=st.interrupt,
        Command=st.Command,
        Send=st.Send,
    ),
}
PAIRS = [("langgraph", "streamtap"), ("streamtap", "langgraph")]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointSaver]:
    if request.param == "memory":
        yield InMemorySaver()
    elif request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "threads.sqlite", check_same_thread=False)
        yield SqliteSaver(conn)
        conn.close()
    else:
        from langgraph.checkpoint.postgres import PostgresSaver

        dsn = request.getfixturevalue("postgres_db")
        with PostgresSaver.from_conn_string(dsn) as pg:
            pg.setup()
            yield pg


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def approval_graph(engine: str, saver: BaseCheckpointSaver) -> Any:
    e = ENGINES[engine]

    def a(state: State) -> dict[str, Any]:
        return {"log": ["a"]}

    def ask(state: State) -> dict[str, Any]:
        answer = e.interrupt("ok?")
        return {"log": [f"human:{answer}"]}

    def b(state: State) -> dict[str, Any]:
        return {"log": ["b"]}

    builder = e.StateGraph(State)
    builder.add_node("a", a)
    builder.add_node("ask", ask)
    builder.add_node("b", b)
    builder.add_edge(e.START, "a")
    builder.add_edge("a", "ask")
    builder.add_edge("ask", "b")
    builder.add_edge("b", e.END)
    return builder.compile(checkpointer=saver)


def _history(graph: Any, config: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (s.metadata["source"], s.metadata["step"], s.next, s.values)
        for s in graph.get_state_history(config)
    ]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_interrupt_resumes_on_the_other_engine(
    saver: BaseCheckpointSaver, first: str, second: str
) -> None:
    config = {"configurable": {"thread_id": "t1"}}
    started = approval_graph(first, saver)
    paused = started.invoke({"log": []}, config)
    assert paused["log"] == ["a"]
    [pending] = paused["__interrupt__"]
    assert pending.value == "ok?"

    resumed_on = approval_graph(second, saver)
    # both engines read the paused thread alike: same next node, same task id
    seen_first, seen_second = started.get_state(config), resumed_on.get_state(config)
    assert seen_second.next == seen_first.next == ("ask",)
    assert [t.id for t in seen_second.tasks] == [t.id for t in seen_first.tasks]
    assert [i.id for i in seen_second.interrupts] == [pending.id]

    out = resumed_on.invoke(ENGINES[second].Command(resume="yes"), config)
    assert out == {"log": ["a", "human:yes", "b"]}
    # and the history the two engines list is the same list
    assert _history(started, config) == _history(resumed_on, config)
    assert [h[:3] for h in _history(resumed_on, config)] == [
        (
            "loop",
            3,
            (),
        ),
        ("loop", 2, ("b",)),
        ("loop", 1, ("ask",)),
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_the_same_run_stores_the_same_checkpoints(
    saver: BaseCheckpointSaver, first: str, second: str
) -> None:
    """Run to the interrupt on each engine (two threads): the stored checkpoints agree
    in everything but ids and timestamps."""
    runs = {}
    for engine, thread in ((first, "x"), (second, "y")):
        config = {"configurable": {"thread_id": thread}}
        approval_graph(engine, saver).invoke({"log": []}, config)
        runs[engine] = list(saver.list(config))
    lg, ours = runs["langgraph"], runs["streamtap"]
    assert len(lg) == len(ours)
    for theirs, mine in zip(lg, ours, strict=True):
        for key in ("channel_values", "versions_seen", "updated_channels", "v"):
            assert _normal(mine.checkpoint[key]) == _normal(theirs.checkpoint[key]), key
        assert _normal(mine.checkpoint["channel_versions"]) == _normal(
            theirs.checkpoint["channel_versions"]
        )
        assert {k: mine.metadata[k] for k in ("source", "step", "parents")} == {
            k: theirs.metadata[k] for k in ("source", "step", "parents")
        }
        # interrupt ids hash the task's namespace, which holds the (per-thread) task id
        assert _writes(mine.pending_writes) == _writes(theirs.pending_writes)


def _writes(writes: Any) -> list[tuple[str, Any]]:
    return sorted(
        (c, [i.value for i in v] if c == "__interrupt__" else v) for _, c, v in writes or ()
    )


def _normal(value: Any) -> Any:
    """Versions are ``<counter>.<random>`` strings on LangGraph's savers: compare counters."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\d{32}\.[\d.]+", value):
        return int(value.split(".")[0])
    return value


class Fan(TypedDict):
    items: list[str]
    done: Annotated[list[str], operator.add]


def fanout_graph(
    engine: str, saver: BaseCheckpointSaver, fail: set[str], ran: list[str] | None = None
) -> Any:
    e = ENGINES[engine]

    def plan(state: Fan) -> dict[str, Any]:
        return {}

    def route(state: Fan) -> list[Any]:
        return [e.Send("work", {"items": [item], "done": []}) for item in state["items"]]

    def work(state: Fan) -> dict[str, Any]:
        item = state["items"][0]
        if ran is not None:
            ran.append(item)
        if item in fail:
            raise RuntimeError(f"boom {item}")
        return {"done": [item]}

    builder = e.StateGraph(Fan)
    builder.add_node("plan", plan)
    builder.add_node("work", work)
    builder.add_edge(e.START, "plan")
    builder.add_conditional_edges("plan", route, ["work"])
    builder.add_edge("work", e.END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_sends_and_a_failed_step_resume_on_the_other_engine(
    saver: BaseCheckpointSaver, first: str, second: str
) -> None:
    """A step with parallel ``Send`` tasks fails in one task: the other engine re-runs
    only the failed task, keeping the finished one's saved writes."""
    config = {"configurable": {"thread_id": "fan"}}
    with pytest.raises(RuntimeError, match="boom b"):
        fanout_graph(first, saver, fail={"b"}).invoke({"items": ["a", "b"], "done": []}, config)
    paused = fanout_graph(second, saver, fail=set()).get_state(config)
    assert [t.name for t in paused.tasks] == ["work", "work"]
    assert [t.error is None for t in paused.tasks] == [True, False]
    ran: list[str] = []
    out = fanout_graph(second, saver, fail=set(), ran=ran).invoke(None, config)
    assert out["done"] == ["a", "b"]  # applied in task order, as LangGraph applies them
    assert ran == ["b"]  # the finished task's saved writes were reused, not re-run
