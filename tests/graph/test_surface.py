"""Public surface: imports, reducers, builder validation, Runnable integration."""

from __future__ import annotations

import operator
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig

import streamtap.graph as st
from streamtap.graph.types import StreamWriter
from tests.graph._fakes import TokenFake
from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import normalize

ROOT = Path(__file__).resolve().parents[2]


def test_public_names() -> None:
    from streamtap.graph import (  # noqa: F401
        END,
        START,
        Command,
        GraphRecursionError,
        InMemorySaver,
        Interrupt,
        InvalidUpdateError,
        MessagesState,
        Send,
        SqliteSaver,
        StateGraph,
        StateSnapshot,
        add_messages,
        get_stream_writer,
        interrupt,
    )
    from streamtap.middleware import StreamMessagesHandler  # noqa: F401


#: what langgraph-checkpoint (+ -sqlite) installs under the ``langgraph`` namespace: the saver
#: interface, savers, serializer and store interface streamtap.graph persists with
_CHECKPOINT_PACKAGES = ("langgraph.checkpoint", "langgraph.store")
#: and langgraph.warnings, a leaf of warning classes importing nothing: the base of
#: streamtap.graph.warnings' twins where langgraph is installed
_ALLOWED = (*_CHECKPOINT_PACKAGES, "langgraph.warnings")


@pytest.mark.parametrize("module", ["streamtap", "streamtap.graph", "streamtap.middleware"])
def test_import_does_not_import_langgraph(module: str) -> None:
    """The LangGraph runtime is never imported; its checkpoint library may be (streamtap.graph)."""
    code = (
        f"import sys; import {module}; "
        "runtime = sorted(m for m in sys.modules if m.split('.')[0] == 'langgraph' "
        f"and m != 'langgraph' and not m.startswith({_ALLOWED!r})); "
        "assert not runtime, runtime"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def _add_messages_cases(name: str) -> list[Any]:
    add = impl(name).add_messages
    out: list[Any] = []
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    out.append(add(left, [AIMessage("b2", id="2"), HumanMessage("c", id="3")]))
    out.append(add(left, RemoveMessage(id="1")))
    out.append(add(left, [("user", "tuple"), {"role": "assistant", "content": "dict"}, "str"]))
    out.append(add(left, [AIMessageChunk("chunk", id="9")]))
    out.append(add(left, [RemoveMessage(id="__remove_all__"), HumanMessage("fresh", id="f")]))
    try:
        add(left, RemoveMessage(id="missing"))
    except ValueError as exc:
        out.append(exc)
    return out


def test_add_messages_matches_langgraph() -> None:
    assert normalize(_add_messages_cases(ST), number_ids=False) == normalize(
        _add_messages_cases(LG), number_ids=False
    )


class S(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def _builder() -> st.StateGraph:
    b = st.StateGraph(S)
    b.add_node("a", lambda s: {"log": ["a"]})
    return b


def test_builder_validation_errors() -> None:
    with pytest.raises(ValueError, match="entrypoint"):
        _builder().compile()
    b = _builder()
    b.add_edge(st.START, "a")
    b.add_edge("a", "nowhere")
    with pytest.raises(ValueError, match="unknown node `nowhere`"):
        b.compile()
    with pytest.raises(ValueError, match="already present"):
        _builder().add_node("a", lambda s: None)
    with pytest.raises(ValueError, match="reserved"):
        _builder().add_node(st.END, lambda s: None)
    with pytest.raises(ValueError, match="Cannot infer a node name"):
        _builder().add_node(lambda s: None)
    b = _builder()
    b.add_edge(st.START, "a")
    with pytest.raises(ValueError, match="Interrupt node `zzz` not found"):
        b.compile(interrupt_before=["zzz"])
    with pytest.raises(TypeError, match="checkpointer"):
        b.compile(checkpointer=object())  # type: ignore[arg-type]


def test_stream_argument_errors() -> None:
    b = _builder()
    b.add_edge(st.START, "a")
    graph = b.compile()
    with pytest.raises(ValueError, match="Unknown stream_mode"):
        list(graph.stream({"x": 0}, stream_mode="bogus"))  # type: ignore[arg-type]
    with pytest.raises(st.EmptyInputError):
        list(graph.stream(None))
    with pytest.raises(ValueError, match="recursion_limit"):
        list(graph.stream({"x": 0}, {"recursion_limit": 0}))
    with pytest.raises(RuntimeError, match="without checkpointer"):
        list(graph.stream(st.Command(resume=1)))
    saved = b.compile(checkpointer=st.InMemorySaver())
    with pytest.raises(ValueError, match="thread_id"):
        list(saved.stream({"x": 0}))
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        st.get_stream_writer()


def test_async_node_under_sync_stream_is_a_clear_error() -> None:
    async def anode(state: S) -> dict[str, Any]:
        return {}

    b = st.StateGraph(S)
    b.add_node("anode", anode)
    b.add_edge(st.START, "anode")
    with pytest.raises(TypeError, match='No synchronous function provided to "anode"'):
        list(b.compile().stream({"x": 0}))


def test_node_receives_config_and_writer() -> None:
    seen: dict[str, Any] = {}

    # injected as LangGraph injects them: by name, with these annotations (or none)
    def node(state: S, config: RunnableConfig, writer: StreamWriter) -> dict[str, Any]:
        seen["node"] = config["metadata"]["langgraph_node"]
        writer({"via": "param"})
        return {"x": 1}

    b = st.StateGraph(S)
    b.add_node("node", node)
    b.add_edge(st.START, "node")
    out = list(b.compile().stream({"x": 0}, stream_mode="custom"))
    assert out == [{"via": "param"}]
    assert seen == {"node": "node"}


def _runnable_surface(name: str) -> list[Any]:
    g = impl(name)
    b = g.StateGraph(S)
    b.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    b.add_edge(g.START, "a")
    graph = b.compile()
    bound = graph.with_config(tags=["bound"], recursion_limit=5)
    return [
        graph.batch([{"x": 1}, {"x": 2}]),
        bound.invoke({"x": 3}),
        list(bound.stream({"x": 0}, stream_mode="values")),
        graph.invoke({"x": 0}, version="v2"),
        graph.invoke({"x": 0}, stream_mode="updates"),
    ]


def test_runnable_surface_matches_langgraph() -> None:
    assert normalize(_runnable_surface(ST)) == normalize(_runnable_surface(LG))


async def _events(name: str) -> list[Any]:
    g = impl(name)
    model = TokenFake(tokens=["a", "b"])

    def via_get(state: Any) -> dict[str, Any]:
        g.get_stream_writer()({"progress": 50})
        return {"messages": [model.invoke(state["messages"])]}

    b = g.StateGraph(g.MessagesState)
    b.add_node("via_get", via_get)
    b.add_edge(g.START, "via_get")
    events = []
    async for ev in b.compile().astream_events(
        {"messages": [HumanMessage("hi", id="h")]}, version="v2", stream_mode=["custom", "updates"]
    ):
        chunk = ev["data"].get("chunk")
        events.append((ev["event"], ev["name"], sorted(ev.get("tags", [])), normalize([chunk])))
    return events


async def test_astream_events_match_langgraph() -> None:
    ours = await _events(ST)
    assert ("on_chat_model_stream", "TokenFake") in [(e[0], e[1]) for e in ours]
    assert ours[0][:2] == ("on_chain_start", "LangGraph")
    assert ours[-1][:2] == ("on_chain_end", "LangGraph")
    # when the custom item surfaces relative to the model's events races in LangGraph
    assert sorted(map(repr, ours)) == sorted(map(repr, await _events(LG)))


async def test_ainvoke_and_abatch() -> None:
    b = _builder()
    b.add_edge(st.START, "a")
    graph = b.compile()
    assert await graph.ainvoke({"x": 1, "log": []}) == {"x": 1, "log": ["a"]}
    assert await graph.abatch([{"x": 1}, {"x": 2}]) == [
        {"x": 1, "log": ["a"]},
        {"x": 2, "log": ["a"]},
    ]
