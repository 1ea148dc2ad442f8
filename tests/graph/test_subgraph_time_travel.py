"""Time travel inside subgraphs, durability="exit" below the top graph, and a cancelled
run's checkpoint: LangGraph is the oracle on the same graphs and the same saver type."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tests.graph.test_cross_engine import ENGINES

CONFIG = {"configurable": {"thread_id": "sub-tt"}}


class State(TypedDict):
    value: Annotated[list[str], operator.add]


def _asking_subgraph(e: Any, called: list[str]) -> Any:
    """START -> step_a -> ask_1 (interrupt) -> ask_2 (interrupt), with its own state."""

    def step_a(state: State) -> dict[str, Any]:
        called.append("step_a")
        return {"value": ["step_a"]}

    def ask(n: int) -> Any:
        def _ask(state: State) -> dict[str, Any]:
            called.append(f"ask_{n}")
            return {"value": [f"ask_{n}:{e.interrupt(f'Q{n}?')}"]}

        return _ask

    return (
        e.StateGraph(State)
        .add_node("step_a", step_a)
        .add_node("ask_1", ask(1))
        .add_node("ask_2", ask(2))
        .add_edge(e.START, "step_a")
        .add_edge("step_a", "ask_1")
        .add_edge("ask_1", "ask_2")
        .compile(checkpointer=True)
    )


def _to_subgraph_checkpoint(engine: str) -> Any:
    e, called = ENGINES[engine], []
    graph = (
        e.StateGraph(State)
        .add_node("executor", _asking_subgraph(e, called))
        .add_edge(e.START, "executor")
        .compile(checkpointer=InMemorySaver())
    )
    graph.invoke({"value": []}, CONFIG)
    at_first = graph.get_state(CONFIG, subgraphs=True).tasks[0].state.config
    graph.invoke(e.Command(resume="one"), CONFIG)
    done = graph.invoke(e.Command(resume="two"), CONFIG)

    called.clear()
    replayed = graph.invoke(None, at_first)
    replay_called = list(called)
    called.clear()
    forked = graph.invoke(None, graph.update_state(at_first, {"value": ["forked"]}))
    fork_called = list(called)
    called.clear()
    graph.invoke(e.Command(resume="uno"), CONFIG)
    after = graph.invoke(e.Command(resume="dos"), CONFIG)
    return (
        done,
        [i.value for i in replayed["__interrupt__"]],
        replay_called,
        [i.value for i in forked["__interrupt__"]],
        fork_called,
        after,
        called,
    )


def test_a_subgraph_snapshot_config_replays_inside_the_subgraph() -> None:
    ours = _to_subgraph_checkpoint("streamtap")
    assert ours == _to_subgraph_checkpoint("langgraph")
    done, replay_asks, replay_called, fork_asks, fork_called, after, last_called = ours
    assert done["value"] == ["step_a", "ask_1:one", "ask_2:two"]
    # the subgraph's own checkpoint at the first interrupt: ask_1 fires again, step_a does not
    assert replay_asks == ["Q1?"] and replay_called == ["ask_1"]
    assert fork_asks == ["Q1?"] and fork_called == ["ask_1"]
    # the replayed branch takes new answers; the fork's update is part of it
    assert after["value"][-2:] == ["ask_1:uno", "ask_2:dos"]
    # each resume runs the asking node once: ask_1 answers, ask_2 asks, then answers
    assert last_called == ["ask_1", "ask_2", "ask_2"]


def _parent_replay(engine: str) -> Any:
    """A stateful subgraph re-entered by its parent's replay starts from its state then."""
    e, started = ENGINES[engine], []

    def step(state: State) -> dict[str, Any]:
        started.append(list(state["value"]))
        return {"value": [f"a:{e.interrupt('q')}"]}

    sub = (
        e.StateGraph(State)
        .add_node("step", step)
        .add_edge(e.START, "step")
        .compile(checkpointer=True)
    )
    graph = (
        e.StateGraph(State)
        .add_node("p", lambda s: {"value": ["p"]})
        .add_node("sub", sub)
        .add_edge(e.START, "p")
        .add_edge("p", "sub")
        .compile(checkpointer=InMemorySaver())
    )
    for answer in ("1", "2"):
        graph.invoke({"value": []}, CONFIG)
        graph.invoke(e.Command(resume=answer), CONFIG)
    before_sub = next(s for s in graph.get_state_history(CONFIG) if s.next == ("sub",))
    started.clear()
    replayed = graph.invoke(None, before_sub.config)
    return started, [i.value for i in replayed["__interrupt__"]]


def test_a_parent_replay_reenters_a_stateful_subgraph_at_its_earlier_state() -> None:
    ours = _parent_replay("streamtap")
    assert ours == _parent_replay("langgraph")
    (seen,), asks = ours
    # the second run's replay sees what the first run left, not the second run's answer
    assert "a:1" in seen and "a:2" not in seen
    assert asks == ["q"]


def _exit_durability(engine: str) -> Any:
    e, saver = ENGINES[engine], InMemorySaver()
    inner = (
        e.StateGraph(State)
        .add_node("one", lambda s: {"value": ["one"]})
        .add_node("two", lambda s: {"value": ["two"]})
        .add_edge(e.START, "one")
        .add_edge("one", "two")
        .compile(checkpointer=saver)
    )
    graph = (
        e.StateGraph(State)
        .add_node("inner", inner)
        .add_edge(e.START, "inner")
        .compile(checkpointer=saver)
    )
    events = list(graph.stream({"value": []}, CONFIG, stream_mode="debug", durability="exit"))
    last = [ev["payload"] for ev in events if ev["type"] == "checkpoint"][-1]
    stored = list(saver.list(CONFIG))
    head = graph.get_state(CONFIG)
    return (
        len(stored),
        last["config"]["configurable"]["checkpoint_id"]
        == head.config["configurable"]["checkpoint_id"],
        head.values,
    )


def test_exit_durability_saves_no_checkpoint_of_a_task_subgraph() -> None:
    ours = _exit_durability("streamtap")
    assert ours == _exit_durability("langgraph")
    # one checkpoint in all namespaces; the last debug event names it
    assert ours == (1, True, {"value": ["one", "two"]})


def _subgraph_history(engine: str) -> Any:
    e = ENGINES[engine]
    child = (
        e.StateGraph(State)
        .add_node("c1", lambda s: {"value": ["c1"]})
        .add_node("c2", lambda s: {"value": ["c2"]})
        .add_edge(e.START, "c1")
        .add_edge("c1", "c2")
        .compile()
    )
    graph = (
        e.StateGraph(State)
        .add_node("child", child)
        .add_edge(e.START, "child")
        .compile(checkpointer=InMemorySaver())
    )
    namespaces = {
        ns
        for ns, _ in graph.stream({"value": []}, CONFIG, stream_mode="updates", subgraphs=True)
        if ns
    }
    (ns,) = namespaces
    sub = {"configurable": {**CONFIG["configurable"], "checkpoint_ns": ns[0]}}
    return [(s.metadata["step"], s.next, s.values) for s in graph.get_state_history(sub)]


def test_the_history_of_a_subgraph_namespace_is_read_with_the_subgraph() -> None:
    ours = _subgraph_history("streamtap")
    assert ours == _subgraph_history("langgraph")
    assert [n for _, n, _ in ours] == [(), ("c2",), ("c1",), ("__start__",)]


class _SlowPut(InMemorySaver):
    """A saver whose async put takes a while: a cancel arrives during the run."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append("put.start")
        await asyncio.sleep(0.05)
        self.log.append("put.end")
        return await super().aput(*args, **kwargs)


async def _cancelled(engine: str) -> Any:
    e, log = ENGINES[engine], []

    async def slow(state: State) -> dict[str, Any]:
        log.append("node.start")
        try:
            await asyncio.sleep(5)
        finally:
            log.append("node.end")
        return {"value": ["never"]}

    saver = _SlowPut(log)
    graph = (
        e.StateGraph(State)
        .add_node("slow", slow)
        .add_edge(e.START, "slow")
        .compile(checkpointer=saver)
    )
    run = asyncio.create_task(graph.ainvoke({"value": ["in"]}, CONFIG, durability="exit"))
    await asyncio.sleep(0.2)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    head = await graph.aget_state(CONFIG)
    return log, head.values, head.next


async def test_a_cancelled_run_still_saves_its_exit_checkpoint() -> None:
    ours = await _cancelled("streamtap")
    assert ours == await _cancelled("langgraph")
    # the node is cancelled, then the checkpoint it started from is saved to the end
    assert ours == (
        ["node.start", "node.end", "put.start", "put.end"],
        {"value": ["in"]},
        ("slow",),
    )
