"""Shared by the JS client tests: the graphs they drive, ``npm ci`` once, running a node script.

The same graphs are built on both engines (``streamtap.graph`` and LangGraph), under the
prefixes ``st_`` and ``lg_``, so one server answers both and the JS scripts take the prefix.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool

from tests.server._support import ScriptedChat

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")
NPM = shutil.which("npm")
ENGINES = ("st", "lg")
SDKS = ("sdk1", "sdk2")
#: what the ``agent`` graphs' model streams, and what ``custom`` mode carries before it
TOKENS = ["Hel", "lo", " wor", "ld"]
PROGRESS = [50, 100]
INNER_TOKENS = ["in", "ner"]


def _node_major() -> int:
    if NODE is None:
        return 0
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30)
    return int(version.stdout.strip().lstrip("v").split(".")[0] or 0)


NODE_MAJOR = _node_major()


def needs_node() -> pytest.MarkDecorator:
    if NODE is None or NPM is None:
        return pytest.mark.skip(reason="node/npm not installed (Debian packages: nodejs npm)")
    return pytest.mark.skipif(
        NODE_MAJOR < 20,
        reason=f"node {NODE_MAJOR} is too old: @langchain/langgraph-sdk's dependencies need >= 20",
    )


def npm_ci() -> Path:
    """``npm ci`` from the committed lock into tests/js/node_modules, once per lock.

    npm runs in a subprocess: the in-process network guard does not apply to it, and it is
    the only thing in the suite that reaches a registry.
    """
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".streamtap-lock"
    wanted = lock.read_text(encoding="utf-8")
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return JS_DIR
    assert NPM is not None
    done = subprocess.run(
        [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {JS_DIR}:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(wanted, encoding="utf-8")
    return JS_DIR


def run_node(script: str, *args: str, timeout: float = 120) -> Any:
    """Run ``tests/js/<script>`` with ``args``; its stdout is one JSON document."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(JS_DIR / script), *args],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"node {script} {args} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def js_graphs(engine: str) -> dict[str, Any]:
    """``{prefix_name: compiled graph}`` for ``engine`` ``st`` (streamtap.graph) or ``lg``."""
    if engine == "lg":
        from langgraph.config import get_stream_writer
        from langgraph.graph import END, START, MessagesState, StateGraph
        from langgraph.types import interrupt
    else:
        from streamtap.graph import (  # type: ignore[assignment]
            END,
            START,
            MessagesState,
            StateGraph,
            get_stream_writer,
            interrupt,
        )

    model = ScriptedChat(tokens=TOKENS)
    slow = ScriptedChat(tokens=["x "] * 500, delay=0.01)
    inner_model = ScriptedChat(tokens=INNER_TOKENS)
    draft = ScriptedChat(tokens=["Draft ", "ready"])

    async def agent(state: MessagesState) -> dict[str, Any]:
        writer = get_stream_writer()
        for pct in PROGRESS:
            writer({"progress": pct})
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def slow_agent(state: MessagesState) -> dict[str, Any]:
        text = "".join([str(c.content) async for c in slow.astream(state["messages"])])
        return {"messages": [AIMessage(text, id="slow")]}

    async def paced(state: MessagesState) -> dict[str, Any]:
        await asyncio.sleep(0.3)  # long enough for a client to join it while it runs
        return {"messages": [AIMessage("paced", id="paced")]}

    async def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await inner_model.ainvoke(state["messages"])]}

    async def write(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await draft.ainvoke(state["messages"])]}

    def approve(state: MessagesState) -> dict[str, Any]:
        answer = interrupt({"question": "send it?"})
        return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}

    async def call_tool(state: MessagesState) -> dict[str, Any]:
        call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}
        asked = AIMessage("", id="asking", tool_calls=[call])
        result = await get_weather.ainvoke({**call, "type": "tool_call"})
        assert isinstance(result, ToolMessage)
        return {"messages": [asked, result]}

    calls = itertools.count(1)

    async def count(state: MessagesState) -> dict[str, Any]:
        """Answers "Answer number N", N counting this graph's calls, token by token."""
        numbered = ScriptedChat(tokens=["Answer ", "number ", str(next(calls))], delay=0.15)
        return {"messages": [await numbered.ainvoke(state["messages"])]}

    def single(name: str, fn: Any) -> Any:
        builder = StateGraph(MessagesState)
        builder.add_node(name, fn)
        builder.add_edge(START, name)
        builder.add_edge(name, END)
        return builder

    sub = single("inner", inner).compile()
    nested = StateGraph(MessagesState)
    nested.add_node("sub", sub)
    nested.add_edge(START, "sub")
    nested.add_edge("sub", END)
    approval = StateGraph(MessagesState)
    approval.add_node("write", write)
    approval.add_node("approve", approve)
    approval.add_edge(START, "write")
    approval.add_edge("write", "approve")
    approval.add_edge("approve", END)
    graphs = {
        "agent": single("agent", agent).compile(),
        "slow": single("agent", slow_agent).compile(),
        "paced": single("paced", paced).compile(),
        "count": single("agent", count).compile(),
        "nested": nested.compile(),
        "approve": approval.compile(),
        "tools": single("tools", call_tool).compile(),
    }
    return {f"{engine}_{name}": graph for name, graph in graphs.items()}
