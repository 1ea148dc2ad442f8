"""A node's Runtime (context, store, stream writer, execution info), graceful drains and
the parameters LangGraph injects by name: LangGraph is the oracle on the same graphs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypedDict

import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.runtime as lg_runtime
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

import streamtap.graph as st

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        Runtime=lg_runtime.Runtime,
        RunControl=lg_runtime.RunControl,
        get_runtime=lg_runtime.get_runtime,
        GraphDrained=lg_errors.GraphDrained,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        Runtime=st.Runtime,
        RunControl=st.RunControl,
        get_runtime=st.get_runtime,
        GraphDrained=st.GraphDrained,
    ),
}


@dataclass
class Ctx:
    user: str


class State(TypedDict, total=False):
    out: list[str]
    sub: str


def _context_and_store(engine: str) -> Any:
    e = ENGINES[engine]
    store = InMemoryStore()
    store.put(("users",), "u1", {"name": "Ada"})

    def greet(state: State, runtime: lg_runtime.Runtime[Ctx]) -> dict[str, Any]:
        item = runtime.store.get(("users",), runtime.context.user) if runtime.store else None
        via_get = e.get_runtime(Ctx).context.user
        return {"out": [f"hi {item.value['name'] if item else '?'}", via_get]}

    def remember(state: State, store: BaseStore) -> dict[str, Any]:
        store.put(("seen",), "greet", {"ok": True})
        return {}

    graph = (
        e.StateGraph(State, context_schema=Ctx)
        .add_node("greet", greet)
        .add_node("remember", remember)
        .add_edge(e.START, "greet")
        .add_edge("greet", "remember")
        .compile(store=store)
    )
    # a dict context is coerced to the dataclass context_schema
    out = graph.invoke({"out": []}, context={"user": "u1"})
    return out, store.get(("seen",), "greet").value


def test_a_node_reads_context_and_store_from_its_runtime() -> None:
    ours = _context_and_store("streamtap")
    assert ours == _context_and_store("langgraph")
    assert ours == ({"out": ["hi Ada", "u1"]}, {"ok": True})


def _execution_info(engine: str) -> Any:
    e, seen = ENGINES[engine], []

    def node(state: State, runtime: lg_runtime.Runtime) -> dict[str, Any]:
        info = runtime.execution_info
        seen.append((info.thread_id, info.checkpoint_ns, info.task_id, info.node_attempt))
        return {}

    sub = e.StateGraph(State).add_node("inner", node).add_edge(e.START, "inner").compile()
    graph = (
        e.StateGraph(State)
        .add_node("outer", node)
        .add_node("sub", sub)
        .add_edge(e.START, "outer")
        .add_edge("outer", "sub")
        .compile(checkpointer=InMemorySaver())
    )
    graph.invoke({"out": []}, {"configurable": {"thread_id": "t-1"}})
    return seen


def test_execution_info_names_the_task_as_langgraph_does() -> None:
    ours = _execution_info("streamtap")

    def shape(seen: list[Any]) -> list[Any]:  # task ids hash the (random) checkpoint id
        ids = {tid: f"<task {i}>" for i, (_, _, tid, _) in enumerate(seen)}
        out = []
        for thread, ns, tid, attempt in seen:
            for real, name in ids.items():
                ns = ns.replace(real, name)
            out.append((thread, re.sub(r"sub:[0-9a-f-]{36}", "sub:<id>", ns), ids[tid], attempt))
        return out

    assert shape(ours) == shape(_execution_info("langgraph"))
    assert shape(ours) == [
        ("t-1", "outer:<task 0>", "<task 0>", 1),
        ("t-1", "sub:<id>|inner:<task 1>", "<task 1>", 1),
    ]


def _server_info(engine: str) -> Any:
    e, seen = ENGINES[engine], []

    def node(state: State, runtime: lg_runtime.Runtime) -> dict[str, Any]:
        info = runtime.server_info
        seen.append(None if info is None else (info.assistant_id, info.graph_id))
        return {}

    graph = e.StateGraph(State).add_node("n", node).add_edge(e.START, "n").compile()
    graph.invoke({}, {"configurable": {"assistant_id": "a-1", "graph_id": "g"}})
    graph.invoke({})
    return seen


def test_server_info_comes_from_the_config_a_server_sets() -> None:
    ours = _server_info("streamtap")
    assert ours == _server_info("langgraph") == [("a-1", "g"), None]


def _drain(engine: str) -> Any:
    e, ran = ENGINES[engine], []
    control = e.RunControl()

    def first(state: State) -> dict[str, Any]:
        ran.append("first")
        control.request_drain("sigterm")
        return {"out": ["first"]}

    def second(state: State) -> dict[str, Any]:
        ran.append("second")
        return {"out": ["second"]}

    graph = (
        e.StateGraph(State)
        .add_node("first", first)
        .add_node("second", second)
        .add_edge(e.START, "first")
        .add_edge("first", "second")
        .compile(checkpointer=InMemorySaver())
    )
    config = {"configurable": {"thread_id": "drain"}}
    with pytest.raises(e.GraphDrained) as info:
        graph.invoke({"out": []}, config, control=control)
    paused = (str(info.value), list(ran), graph.get_state(config).next)
    return paused, graph.invoke(None, config), ran


def test_a_drained_run_stops_between_steps_and_continues_later() -> None:
    ours = _drain("streamtap")
    assert ours == _drain("langgraph")
    paused, done, ran = ours
    assert paused == ("Graph drained: sigterm", ["first"], ("second",))
    assert done == {"out": ["second"]} and ran == ["first", "second"]


def _context_in_subgraph(engine: str) -> Any:
    e = ENGINES[engine]

    def inner(state: State, runtime: lg_runtime.Runtime[Ctx]) -> dict[str, Any]:
        return {"sub": runtime.context.user}

    sub = e.StateGraph(State).add_node("inner", inner).add_edge(e.START, "inner").compile()
    graph = (
        e.StateGraph(State, context_schema=Ctx)
        .add_node("sub", sub)
        .add_edge(e.START, "sub")
        .compile()
    )
    return graph.invoke({}, context=Ctx(user="from-parent"))


def test_a_subgraph_sees_its_parents_context() -> None:
    ours = _context_in_subgraph("streamtap")
    assert ours == _context_in_subgraph("langgraph") == {"sub": "from-parent"}


@pytest.mark.parametrize("engine", ["streamtap", "langgraph"])
def test_a_config_parameter_typed_otherwise_is_not_injected(engine: str) -> None:
    e = ENGINES[engine]

    def node(state: State, config: dict) -> dict[str, Any]:  # type: ignore[type-arg]
        return {}

    # LangGraph warns when the node is added and passes nothing: the call then fails
    with pytest.warns(UserWarning, match="'config' parameter should be typed"):
        graph = e.StateGraph(State).add_node("n", node).add_edge(e.START, "n").compile()
    with pytest.raises(TypeError, match="config"):
        graph.invoke({})


def _metadata(engine: str) -> Any:
    e, saver = ENGINES[engine], InMemorySaver()
    graph = (
        e.StateGraph(State)
        .add_node("n", lambda s: {"out": ["n"]})
        .add_edge(e.START, "n")
        .compile(checkpointer=saver)
    )
    conf = {"thread_id": "m", "user": "ada", "max_tokens": 5, "openai_api_key": "sk-abcdefgh123"}
    graph.invoke({"out": []}, {"configurable": conf})
    meta = saver.get_tuple({"configurable": {"thread_id": "m"}}).metadata
    return {k: meta.get(k) for k in ("user", "max_tokens", "openai_api_key")}


def test_checkpoint_metadata_keeps_the_runs_config_values_but_no_credential() -> None:
    # LangGraph's savers copy configurable values into checkpoint metadata, the key too
    assert _metadata("langgraph")["openai_api_key"] == "sk-abcdefgh123"
    # streamtap keeps the same values, except a credential (stored data never holds one)
    assert _metadata("streamtap") == {"user": "ada", "max_tokens": 5, "openai_api_key": None}
