"""LangGraph's own server as the oracle: the same graph behind ``langgraph dev`` and
behind ``streamtap serve`` (LangGraph's graph, and the graph built with streamtap.graph),
driven the same way over the Agent Streaming Protocol, gives the same ``messages``,
``lifecycle`` and ``input`` events (ids, seqs and timestamps aside)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from bench.server_load import (
    ServerProcess,
    agent_graph,
    langgraph_agent_graph,
    langgraph_dev_available,
    scripted_model,
)


def _serves_the_protocol() -> bool:
    """langgraph-api serves the thread-stream routes from 0.16 on."""
    if not langgraph_dev_available():
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("langgraph-api").split(".")[:2])
    return (major, minor) >= (0, 16)


pytestmark = pytest.mark.skipif(
    not _serves_the_protocol(),
    reason="the oracle needs langgraph-cli[inmem] (langgraph-api >= 0.16)",
)
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
CHANNELS = ["messages", "lifecycle", "input", "values"]
_RUN_ID = re.compile(r"lc_run--[0-9a-f-]+")


async def _scenario(base: str, thread: str) -> list[tuple[str, list[str], Any]]:
    """run.start, then the thread's events until the root's terminal lifecycle."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = await http.post(
            f"/threads/{thread}/commands",
            json={
                "id": 1,
                "method": "run.start",
                "params": {"assistant_id": "agent", "input": HUMAN},
            },
        )
        assert started.json()["type"] == "success", started.text
        seen: list[tuple[str, list[str], Any]] = []
        body = {"channels": CHANNELS}
        async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                params = event["params"]
                seen.append((event["method"], params["namespace"], params["data"]))
                data = params["data"]
                if (
                    event["method"] == "lifecycle"
                    and not params["namespace"]
                    and data.get("event") in ("completed", "failed", "interrupted")
                ):
                    return seen
    raise AssertionError("the stream ended before the run did")


def _normalized(events: list[tuple[str, list[str], Any]]) -> list[Any]:
    out: list[Any] = []
    for method, namespace, data in events:
        if method == "values":  # messages' text only: LangGraph compacts them differently
            texts = [
                m["content"]
                if isinstance(m["content"], str)
                else [b.get("text") for b in m["content"]]
                for m in data.get("messages", [])
            ]
            out.append((method, namespace, texts))
            continue
        text = _RUN_ID.sub("lc_run--*", json.dumps(data, sort_keys=True))
        data = json.loads(text)
        if method == "messages" and data.get("event") == "message-start":
            data.pop("metadata", None)  # provider / model names differ by serving set-up
        if method == "messages" and data.get("event") == "message-finish":
            data.pop("metadata", None)
        out.append((method, namespace, data))
    return out


async def test_messages_lifecycle_and_values_match_langgraph_dev(serve: Any) -> None:
    with ServerProcess(4, delay=0.0, target="langgraph-dev") as oracle:
        theirs = _normalized(await _scenario(oracle.url, "5a0f4c52-0000-4000-8000-0000000000a1"))
    model = scripted_model(4, 0.0)
    for graph in (langgraph_agent_graph(model), agent_graph(scripted_model(4, 0.0))):
        server = serve({"agent": graph})
        ours = _normalized(await _scenario(server.url, "5a0f4c52-0000-4000-8000-0000000000a2"))
        assert ours == theirs
