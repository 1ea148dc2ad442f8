"""Time travel: replaying from a saved checkpoint re-runs what followed it (interrupts fire
again) on a fork; LangGraph is the oracle on the same graph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver

from tests.graph.test_cross_engine import ENGINES, approval_graph

CONFIG = {"configurable": {"thread_id": "tt"}}


def _replay(engine: str) -> Any:
    graph = approval_graph(engine, InMemorySaver())
    graph.invoke({"log": []}, CONFIG)
    graph.invoke(ENGINES[engine].Command(resume="hello"), CONFIG)
    before_ask = next(s for s in graph.get_state_history(CONFIG) if s.next == ("ask",))
    replayed = graph.invoke(None, before_ask.config)
    history = [
        (s.metadata["source"], s.metadata["step"], s.next) for s in graph.get_state_history(CONFIG)
    ]
    head = graph.get_state(CONFIG)
    fork_parent = head.parent_config["configurable"]["checkpoint_id"]
    return (
        replayed["log"],
        [i.value for i in replayed["__interrupt__"]],
        history,
        fork_parent == before_ask.config["configurable"]["checkpoint_id"],
        head.next,
    )


def test_replay_before_an_interrupt_raises_it_again() -> None:
    ours, theirs = _replay("streamtap"), _replay("langgraph")
    assert ours == theirs
    log, interrupts, history, forked_from_it, head_next = ours
    assert log == ["a"]  # the old answer is not reused
    assert interrupts == ["ok?"]
    assert history[0] == ("fork", 2, ("ask",))
    assert forked_from_it and head_next == ("ask",)


def _resume_the_replay(engine: str) -> Any:
    graph = approval_graph(engine, InMemorySaver())
    graph.invoke({"log": []}, CONFIG)
    graph.invoke(ENGINES[engine].Command(resume="first"), CONFIG)
    before_ask = next(s for s in graph.get_state_history(CONFIG) if s.next == ("ask",))
    graph.invoke(None, before_ask.config)
    return graph.invoke(ENGINES[engine].Command(resume="second"), CONFIG)


def test_a_replayed_interrupt_takes_a_new_answer() -> None:
    ours = _resume_the_replay("streamtap")
    assert ours == _resume_the_replay("langgraph")
    assert ours["log"] == ["a", "human:second", "b"]


def _durability(engine: str, durability: str) -> Any:
    graph = approval_graph(engine, InMemorySaver())
    graph.invoke({"log": []}, CONFIG, durability=durability)
    paused = [
        (s.metadata["source"], s.metadata["step"], s.next) for s in graph.get_state_history(CONFIG)
    ]
    out = graph.invoke(ENGINES[engine].Command(resume="y"), CONFIG, durability=durability)
    done = [
        (s.metadata["source"], s.metadata["step"], s.next) for s in graph.get_state_history(CONFIG)
    ]
    return paused, out, done


def test_durability_exit_saves_once_at_the_end() -> None:
    for durability in ("sync", "async", "exit"):
        ours = _durability("streamtap", durability)
        assert ours == _durability("langgraph", durability), durability
    paused, out, done = _durability("streamtap", "exit")
    assert paused == [("loop", 1, ("ask",))]  # the paused step only, with its interrupt
    assert out["log"] == ["a", "human:y", "b"]
    assert done == [("loop", 3, ()), ("loop", 1, ("ask",))]


def _three_interrupts(engine: str, durability: str) -> Any:
    e = ENGINES[engine]
    builder = e.StateGraph(State3)
    for name in "abc":
        builder.add_node(name, _asker(e, name))
        builder.add_edge(e.START, name)
    graph = builder.compile(checkpointer=InMemorySaver())
    result = graph.invoke({"log": []}, CONFIG, durability=durability)
    rounds = 0
    while (pending := result.get("__interrupt__")) and rounds < 5:
        result = graph.invoke(
            e.Command(resume={pending[0].id: "yes"}), CONFIG, durability=durability
        )
        rounds += 1
    return rounds, sorted(result["log"])


class State3(TypedDict):
    log: Annotated[list[str], operator.add]


def _asker(e: Any, name: str) -> Any:
    return lambda state: {"log": [f"{name}:{e.interrupt(name)}"]}


def test_answers_one_at_a_time_keep_earlier_results_in_every_durability() -> None:
    for durability in ("sync", "async", "exit"):
        ours = _three_interrupts("streamtap", durability)
        assert (
            ours
            == _three_interrupts("langgraph", durability)
            == (
                3,
                ["a:yes", "b:yes", "c:yes"],
            )
        ), durability


def _resume_at_a_superseded_checkpoint(engine: str) -> Any:
    e, runs = ENGINES[engine], []

    def work(state: State3) -> dict[str, Any]:
        runs.append("work")
        return {"log": ["work"]}

    builder = e.StateGraph(State3)
    builder.add_node("work", work)
    builder.add_node("ask", _asker(e, "ask"))
    builder.add_edge(e.START, "work")
    builder.add_edge(e.START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"log": []}, CONFIG)
    paused = graph.get_state(CONFIG).config
    first = graph.invoke(e.Command(resume="yes"), CONFIG)
    # the thread has moved past `paused`: a resume addressed there re-runs the finished
    # `work` too (its saved write belongs to the branch the thread took since)
    again = graph.invoke(e.Command(resume="again"), paused)
    return sorted(first["log"]), sorted(again["log"]), runs


def test_a_resume_at_a_checkpoint_the_thread_moved_past_reruns_finished_tasks() -> None:
    ours = _resume_at_a_superseded_checkpoint("streamtap")
    assert ours == _resume_at_a_superseded_checkpoint("langgraph")
    # `work` ran twice; `ask` keeps the answer it had already been given on that checkpoint
    assert ours == (["ask:yes", "work"], ["ask:yes", "work"], ["work", "work"])
