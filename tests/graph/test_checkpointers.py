"""InMemorySaver and SqliteSaver: the saver contract, and state surviving a restart."""

from __future__ import annotations

import operator
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage

import streamtap.graph as st
from streamtap.graph.checkpoint.base import BaseCheckpointSaver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "sqlite-memory", "sqlite-file"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> BaseCheckpointSaver:
    if request.param == "memory":
        return st.InMemorySaver()
    if request.param == "sqlite-memory":
        return st.SqliteSaver(":memory:")
    return st.SqliteSaver(tmp_path / "cp.sqlite")


def _cp(cid: str, x: int) -> Any:
    return {
        "v": 1,
        "id": cid,
        "ts": "t",
        "channel_values": {"x": x},
        "branches": [],
        "sends": [],
        "barriers": {},
    }


def test_put_get_list_and_writes(saver: BaseCheckpointSaver) -> None:
    cfg = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    c1 = saver.put(cfg, _cp("1", 1), {"source": "input", "step": -1})
    c2 = saver.put(c1, _cp("2", 2), {"source": "loop", "step": 0})
    latest = saver.get_tuple(cfg)
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"x": 2}
    assert latest.parent_config == c1
    assert saver.get_tuple(c1).checkpoint["id"] == "1"  # type: ignore[union-attr]
    assert [t.checkpoint["id"] for t in saver.list(cfg)] == ["2", "1"]
    assert [t.checkpoint["id"] for t in saver.list(cfg, limit=1)] == ["2"]
    assert [t.checkpoint["id"] for t in saver.list(cfg, before=c2)] == ["1"]
    assert [t.checkpoint["id"] for t in saver.list(cfg, filter={"source": "input"})] == ["1"]
    # regular writes keep their first value; control writes (one slot each) are replaced
    saver.put_writes(c2, [("x", 5), ("__interrupt__", "first")], "task")
    saver.put_writes(c2, [("x", 6), ("__interrupt__", "second")], "task")
    saver.put_writes(c2, [("__resume__", "A")], "other")
    writes = saver.get_tuple(cfg).pending_writes  # type: ignore[union-attr]
    assert sorted(writes) == sorted(
        [("task", "x", 5), ("task", "__interrupt__", "second"), ("other", "__resume__", "A")]
    )
    saver.delete_thread("t")
    assert saver.get_tuple(cfg) is None


def test_namespaces_are_separate(saver: BaseCheckpointSaver) -> None:
    saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, _cp("1", 1), {})
    saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": "sub:x"}}, _cp("2", 2), {})
    assert saver.get_tuple({"configurable": {"thread_id": "t"}}).checkpoint["id"] == "1"  # type: ignore[union-attr]
    assert (
        saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": "sub:x"}}).checkpoint[
            "id"
        ]
        == "2"
    )  # type: ignore[union-attr]


def test_saver_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="thread_id"):
        st.InMemorySaver().get_tuple({"configurable": {}})


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
        assert "langgraph" not in sys.modules
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
