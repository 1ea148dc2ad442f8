"""``update_state`` / ``bulk_update_state``, with LangGraph as the oracle on the same input.

Each scenario runs once per engine on its own saver; the snapshots, history and the
run continued after the update must be the same.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import langgraph.errors as lg_errors
import pytest
from langgraph.checkpoint.memory import InMemorySaver

import streamtap.graph as st
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.types import StateUpdate
from tests.graph.test_cross_engine import ENGINES

CONFIG = {"configurable": {"thread_id": "t"}}


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    flag: str


def chain(engine: str, **compile_kwargs: Any) -> Any:
    """START -> a -> (router: flag) -> b | c -> END."""
    e = ENGINES[engine]

    def node(name: str) -> Callable[[State], dict[str, Any]]:
        return lambda state: {"log": [name]}

    builder = e.StateGraph(State)
    for name in "abc":
        builder.add_node(name, node(name))
    builder.add_edge(e.START, "a")
    builder.add_conditional_edges("a", lambda s: "c" if s.get("flag") == "c" else "b", ["b", "c"])
    builder.add_edge("b", e.END)
    builder.add_edge("c", e.END)
    return builder.compile(checkpointer=InMemorySaver(), **compile_kwargs)


def _view(snapshot: Any) -> tuple[Any, ...]:
    meta = snapshot.metadata or {}
    return (snapshot.values, snapshot.next, meta.get("source"), meta.get("step"))


def _both(scenario: Callable[[str], Any]) -> Any:
    results = {engine: scenario(engine) for engine in ENGINES}
    assert results["streamtap"] == results["langgraph"]
    return results["streamtap"]


def test_update_a_paused_thread_then_resume() -> None:
    def scenario(engine: str) -> Any:
        graph = chain(engine, interrupt_before=["b", "c"])
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        before = _view(graph.get_state(CONFIG))
        # as_node inferred: "a" wrote last; the router reruns on the updated state
        config = graph.update_state(CONFIG, {"log": ["edited"], "flag": "c"})
        after = _view(graph.get_state(CONFIG))
        out = graph.invoke(None, CONFIG)
        history = [_view(s) for s in graph.get_state_history(CONFIG)]
        return before, after, out, history, sorted(config["configurable"])

    before, after, out, history, keys = _both(scenario)
    assert before[1] == ("b",)
    assert after == ({"log": ["a", "edited"], "flag": "c"}, ("c",), "update", 2)
    assert out == {"log": ["a", "edited", "c"], "flag": "c"}
    assert [h[2:] for h in history][:2] == [("loop", 3), ("update", 2)]
    assert keys == ["checkpoint_id", "checkpoint_ns", "thread_id"]


def test_update_a_fresh_thread_as_input_then_run() -> None:
    def scenario(engine: str) -> Any:
        graph = chain(engine)
        graph.update_state(CONFIG, {"log": ["seed"], "flag": ""})
        after = _view(graph.get_state(CONFIG))
        return after, graph.invoke(None, CONFIG)

    after, out = _both(scenario)
    assert after == ({"log": ["seed"], "flag": ""}, ("a",), "update", 0)
    assert out["log"] == ["seed", "a", "b"]


def test_update_as_a_named_node_and_as_end() -> None:
    def scenario(engine: str) -> Any:
        graph = chain(engine, interrupt_before=["b", "c"])
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        graph.update_state(CONFIG, {"log": ["by-b"]}, as_node="b")
        as_b = _view(graph.get_state(CONFIG))
        graph.update_state(CONFIG, None, as_node=st.END)
        as_end = _view(graph.get_state(CONFIG))
        return as_b, as_end, graph.invoke(None, CONFIG)

    as_b, as_end, out = _both(scenario)
    assert as_b[1] == ()  # b's edge goes to END: nothing left to run
    assert as_end[1] == () and as_end[2] == "update"
    assert out["log"] == ["a", "by-b"]


def test_bulk_update_state_writes_one_checkpoint_per_superstep() -> None:
    def scenario(engine: str) -> Any:
        graph = chain(engine)
        updates = (
            StateUpdate
            if engine == "streamtap"
            else __import__("langgraph.types").types.StateUpdate
        )
        graph.bulk_update_state(
            CONFIG,
            [
                [updates({"log": ["x"], "flag": ""}, "__start__")],
                [updates({"log": ["y"]}, "a"), updates({"log": ["z"]}, "c")],
            ],
        )
        return [_view(s) for s in graph.get_state_history(CONFIG)]

    history = _both(scenario)
    assert [h[2:] for h in history] == [("update", 1), ("update", 0)]
    assert history[0][0]["log"] == ["x", "y", "z"]


def test_fork_from_an_earlier_checkpoint() -> None:
    def scenario(engine: str) -> Any:
        graph = chain(engine)
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        after_a = next(s for s in graph.get_state_history(CONFIG) if s.next == ("b",))
        fork = graph.update_state(after_a.config, {"flag": "c"}, as_node="a")
        forked = graph.get_state(fork)
        out = graph.invoke(None, fork)
        return (
            _view(forked),
            forked.parent_config["configurable"]["checkpoint_id"]
            == (after_a.config["configurable"]["checkpoint_id"]),
            out,
        )

    forked, parent_ok, out = _both(scenario)
    assert parent_ok
    assert forked[1] == ("c",)
    assert out["log"] == ["a", "c"]


def test_update_errors_match_langgraph() -> None:
    for engine, error in (
        ("streamtap", InvalidUpdateError),
        ("langgraph", lg_errors.InvalidUpdateError),
    ):
        graph = chain(engine)
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        with pytest.raises(error, match="Node nope does not exist"):
            graph.update_state(CONFIG, {"log": ["x"]}, as_node="nope")
        with pytest.raises(error, match="as_node is required"):
            graph.bulk_update_state(
                CONFIG, [[({"log": ["x"]}, None, None), ({"log": ["y"]}, None, None)]]
            )
        with pytest.raises(ValueError, match="No supersteps"):
            graph.bulk_update_state(CONFIG, [])


async def test_aupdate_state_on_an_async_saver(tmp_path: Any) -> None:
    async with st.AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
        builder = st.StateGraph(State)
        builder.add_node("a", lambda s: {"log": ["a"]})
        builder.add_edge(st.START, "a")
        graph = builder.compile(checkpointer=saver, interrupt_before=["a"])
        await graph.ainvoke({"log": [], "flag": ""}, CONFIG)
        await graph.aupdate_state(CONFIG, {"log": ["edited"]}, as_node="__start__")
        assert (await graph.aget_state(CONFIG)).values["log"] == ["edited"]
        assert (await graph.ainvoke(None, CONFIG))["log"] == ["edited", "a"]


def test_each_commands_update_is_kept_across_resumes() -> None:
    """Three resumes, each with an update: savers key a write by position, so the second
    command's update must not land on the first one's slot."""

    def scenario(engine: str) -> Any:
        e = ENGINES[engine]

        def ask_three_times(state: State) -> dict[str, Any]:
            return {"log": ["a:" + "".join(e.interrupt(str(q)) for q in range(1, 4))]}

        builder = e.StateGraph(State)
        builder.add_node("a", ask_three_times)
        builder.add_edge(e.START, "a")
        graph = builder.compile(checkpointer=InMemorySaver())
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        for i in range(1, 4):
            result = graph.invoke(e.Command(resume=str(i), update={"log": [f"u{i}"]}), CONFIG)
        return sorted(result["log"])

    assert _both(scenario) == ["a:123", "u1", "u2", "u3"]


def test_updates_show_as_task_results_in_the_history() -> None:
    """An update's writes are also saved on the checkpoint it builds on, under the id of
    the task it stands for, so that checkpoint's history shows the result (as LangGraph)."""

    def scenario(engine: str) -> Any:
        e = ENGINES[engine]
        graph = chain(engine)
        update = StateUpdate if engine == "streamtap" else _lg_state_update()
        graph.bulk_update_state(
            CONFIG,
            [
                [update({}, "__input__")],
                [update({"log": ["s"], "flag": ""}, e.START)],
                [update({"log": ["x"]}, "a")],
            ],
        )
        return [[(t.name, t.result) for t in s.tasks] for s in graph.get_state_history(CONFIG)]

    history = _both(scenario)
    assert ("__start__", {"log": ["s"], "flag": ""}) in [t for ts in history for t in ts]
    assert ("a", {"log": ["x"]}) in [t for ts in history for t in ts]


def _lg_state_update() -> Any:
    from langgraph.types import StateUpdate as LangGraphStateUpdate

    return LangGraphStateUpdate


def test_copy_fork_with_updates_for_its_next_tasks() -> None:
    """``as_node="__copy__"`` with updates: a sibling fork, then the updates written on it as
    the results of its next tasks (LangGraph's ``fork_and_update``)."""

    def scenario(engine: str) -> Any:
        graph = chain(engine, interrupt_before=["b", "c"])
        graph.invoke({"log": [], "flag": ""}, CONFIG)
        paused = graph.get_state(CONFIG)
        update = StateUpdate if engine == "streamtap" else _lg_state_update()
        fork = graph.bulk_update_state(
            paused.config, [[update([({"log": ["by-b"]}, "b")], "__copy__")]]
        )
        history = [_view(s) for s in graph.get_state_history(CONFIG)]
        return _view(graph.get_state(fork)), history[:3]

    forked, history = _both(scenario)
    assert forked == ({"log": ["a", "by-b"], "flag": ""}, (), "update", 3)
    assert [h[2:] for h in history] == [("update", 3), ("fork", 2), ("loop", 1)]
