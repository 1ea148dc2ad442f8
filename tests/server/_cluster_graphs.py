"""The graphs the cluster tests' ``streamtap serve`` processes serve (``graphs``).

``approval``: ``_support.approval_graph`` (a model's answer, then an interrupt); ``chat``:
``_support.chat_graph`` on a model streaming ``t0`` ... ``t19``, 20 ms apart (``ainvoke``:
a v3 run streams a model's tokens only then, with either engine, as LangGraph does).

``agent``: ``prepare`` (fast) then ``answer``, which streams ``configurable.tokens``
tokens ``t0``, ``t1``... paced by ``configurable.delay`` seconds. Both write a line per
execution to the file ``$STREAMTAP_TEST_TRACE`` names (one ``write`` on an ``O_APPEND``
file: lines of several processes never interleave), so a test sees what ran where and
when: ``prepare RUN THREAD PID`` and ``answer RUN THREAD PID START END`` (monotonic
clock, the same for every process of the machine).
"""

from __future__ import annotations

import os
import time
from typing import Any

from langchain_core.messages import AIMessage, message_chunk_to_message
from langchain_core.runnables import RunnableConfig

from streamtap.graph import END, START, MessagesState, StateGraph
from tests.server._support import ScriptedChat


def _trace(*fields: object) -> None:
    path = os.environ.get("STREAMTAP_TEST_TRACE")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (" ".join(map(str, fields)) + "\n").encode())
        finally:
            os.close(fd)


def _ids(config: RunnableConfig) -> tuple[str, str]:
    c = config.get("configurable") or {}
    return str(c.get("run_id")), str(c.get("thread_id"))


def prepare(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    run_id, thread_id = _ids(config)
    _trace("prepare", run_id, thread_id, os.getpid())
    return {"messages": [AIMessage("prepared", id=f"prepared-{run_id}")]}


async def answer(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    c = config.get("configurable") or {}
    run_id, thread_id = _ids(config)
    model = ScriptedChat(
        tokens=[f"t{i}" for i in range(int(c.get("tokens", 3)))],
        delay=float(c.get("delay", 0.0)),
    )
    start = time.monotonic()
    reply: Any = None
    try:  # streamed whatever the run's stream modes, so the pace is the same for every run
        async for chunk in model.astream(state["messages"]):
            reply = chunk if reply is None else reply + chunk
    finally:
        _trace("answer", run_id, thread_id, os.getpid(), start, time.monotonic())
    return {"messages": [message_chunk_to_message(reply)]}


def graphs() -> dict[str, Any]:
    builder = StateGraph(MessagesState)
    builder.add_node("prepare", prepare)
    builder.add_node("answer", answer)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "answer")
    builder.add_edge("answer", END)
    from tests.server._support import approval_graph, chat_graph

    return {
        "agent": builder.compile(),
        "approval": approval_graph(ScriptedChat(tokens=["ok"])),
        "chat": chat_graph(ScriptedChat(tokens=[f"t{i}" for i in range(20)], delay=0.02)),
    }
