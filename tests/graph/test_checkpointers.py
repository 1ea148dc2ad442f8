"""Graphs on LangGraph's savers (the saver contract itself is langgraph-checkpoint's own):
messages round-trip, and state survives a process restart."""

from __future__ import annotations

import operator
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

import streamtap.graph as st

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "sqlite-memory", "sqlite-file"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> BaseCheckpointSaver:
    if request.param == "memory":
        return st.InMemorySaver()
    if request.param == "sqlite-memory":
        return st.SqliteSaver(":memory:")
    return st.SqliteSaver(tmp_path / "cp.sqlite")


class S(TypedDict):
    messages: Annotated[list, st.add_messages]
    log: Annotated[list, operator.add]


def chat_graph(saver: BaseCheckpointSaver) -> Any:
    def reply(state: S) -> dict[str, Any]:
        answer = st.interrupt("approve?")
        return {"messages": [AIMessage(f"approved: {answer}", id="a1")], "log": ["reply"]}

    builder = st.StateGraph(S)
    builder.add_node("reply", reply)
    builder.add_edge(st.START, "reply")
    return builder.compile(checkpointer=saver)


def test_graph_state_roundtrip_with_messages(saver: BaseCheckpointSaver) -> None:
    graph = chat_graph(saver)
    cfg = {"configurable": {"thread_id": "chat"}}
    graph.invoke({"messages": [HumanMessage("hi", id="h1")], "log": []}, cfg)
    snap = graph.get_state(cfg)
    assert snap.next == ("reply",)
    assert snap.interrupts[0].value == "approve?"
    out = graph.invoke(st.Command(resume="yes"), cfg)
    assert [m.content for m in out["messages"]] == ["hi", "approved: yes"]
    history = list(graph.get_state_history(cfg))
    assert [h.metadata["step"] for h in history] == [1, 0, -1]
    assert [h.next for h in history] == [(), ("reply",), ("__start__",)]


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tests.graph.test_checkpointers import chat_graph
    import streamtap.graph as st
    from langchain_core.messages import HumanMessage

    graph = chat_graph(st.SqliteSaver({db!r}))
    cfg = {{"configurable": {{"thread_id": "restart"}}}}
    if sys.argv[1] == "start":
        for chunk in graph.stream({{"messages": [HumanMessage("hi", id="h1")], "log": []}}, cfg):
            print(chunk)
    else:
        snap = graph.get_state(cfg)
        print("next", snap.next, snap.interrupts[0].value)
        for chunk in graph.stream(st.Command(resume="from process 2"), cfg, stream_mode="values"):
            print(chunk["log"], [m.content for m in chunk["messages"]])
        assert "langgraph.graph" not in sys.modules and "langgraph.pregel" not in sys.modules
    """
)


def test_sqlite_state_survives_a_process_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "graph.sqlite")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), db=db))
    first = subprocess.run(
        [sys.executable, str(script), "start"], capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert "__interrupt__" in first.stdout and "approve?" in first.stdout
    second = subprocess.run(
        [sys.executable, str(script), "resume"], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0, second.stderr
    lines = second.stdout.strip().splitlines()
    assert lines == [
        "next ('reply',) approve?",
        "[] ['hi']",
        "['reply'] ['hi', 'approved: from process 2']",
    ]
