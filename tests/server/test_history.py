"""Thread history, thread metadata and interrupts, driven by the official langgraph-sdk.

What agent-chat-ui (``useStream``) calls after every answer and when it reopens a thread:
``POST /threads/{id}/history``; its thread list searches threads by ``graph_id``.
"""

from __future__ import annotations

from typing import Any

import httpx
from langgraph_sdk import get_client, get_sync_client

from streamtap.graph import InMemorySaver
from streamtap.server._graphs import assistant_uuid
from tests.server._support import ScriptedChat, approval_graph
from tests.server.conftest import HUMAN


async def _interrupted(serve: Any) -> tuple[Any, Any, str, Any]:
    """A thread paused at the approval interrupt, and the saver holding it."""
    saver = InMemorySaver()
    server = serve({"approve": approval_graph(ScriptedChat(tokens=["draft"]))}, checkpointer=saver)
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()  # no metadata: the run gives it its graph
    tid = thread["thread_id"]
    async for _ in client.runs.stream(tid, "approve", input=HUMAN, stream_mode="values"):
        pass
    return server, client, tid, saver


async def test_a_run_tags_its_thread_and_search_finds_it_by_graph(serve: Any) -> None:
    _, client, tid, _ = await _interrupted(serve)
    thread = await client.threads.get(tid)
    assert thread["metadata"] == {"graph_id": "approve", "assistant_id": assistant_uuid("approve")}
    found = await client.threads.search(metadata={"graph_id": "approve"})
    assert [t["thread_id"] for t in found] == [tid]
    assert await client.threads.search(metadata={"graph_id": "other"}) == []


async def test_an_interrupted_thread_shows_its_interrupts_by_task(serve: Any) -> None:
    _, client, tid, _ = await _interrupted(serve)
    state = await client.threads.get_state(tid)
    task = state["tasks"][0]
    assert (task["name"], task["path"]) == ("approve", ["__pregel_pull", "approve"])
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert thread["interrupts"] == {task["id"]: task["interrupts"]}
    assert thread["interrupts"][task["id"]][0]["value"] == {"question": "send it?"}
    # the checkpoint fields langgraph-api gives (the deprecated flat ids included)
    assert state["checkpoint"]["checkpoint_id"] == state["checkpoint_id"]
    assert state["checkpoint"]["thread_id"] == tid
    assert state["parent_checkpoint"]["checkpoint_id"] == state["parent_checkpoint_id"]


async def test_history_lists_the_graphs_own_states_newest_first(serve: Any) -> None:
    server, client, tid, saver = await _interrupted(serve)
    history = await client.threads.get_history(tid, limit=10)
    graph = approval_graph(ScriptedChat(tokens=["draft"]))
    graph.checkpointer = saver  # the same graph on the server's saver: the oracle
    own = [s async for s in graph.aget_state_history({"configurable": {"thread_id": tid}})]
    assert [h["checkpoint_id"] for h in history] == [
        s.config["configurable"]["checkpoint_id"] for s in own
    ]
    assert [h["next"] for h in history] == [list(s.next) for s in own]
    assert [h["metadata"]["step"] for h in history] == [1, 0, -1]
    assert history[0]["values"]["messages"][-1]["content"] == "draft"
    assert history[0]["tasks"][0]["interrupts"][0]["value"] == {"question": "send it?"}
    # paging and filters, as the Platform reads them
    older = await client.threads.get_history(tid, limit=2, before=history[0]["checkpoint"])
    assert [h["checkpoint_id"] for h in older] == [h["checkpoint_id"] for h in history[1:3]]
    inputs = await client.threads.get_history(tid, metadata={"source": "input"})
    assert [h["metadata"]["step"] for h in inputs] == [-1]
    # the GET form and the sync client agree
    with httpx.Client(base_url=server.url) as http:
        got = http.get(f"/threads/{tid}/history", params={"limit": 2})
    assert got.status_code == 200
    assert [h["checkpoint_id"] for h in got.json()] == [h["checkpoint_id"] for h in history[:2]]
    sync = get_sync_client(url=server.url, api_key=None)
    assert sync.threads.get_history(tid, limit=1)[0]["checkpoint_id"] == history[0]["checkpoint_id"]


async def test_history_of_an_unknown_thread_is_404_and_bad_limits_are_422(serve: Any) -> None:
    server, _, tid, _ = await _interrupted(serve)
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/threads/nope/history", json={}).status_code == 404
        bad = http.post(f"/threads/{tid}/history", json={"limit": 0})
        assert bad.status_code == 422 and bad.json()["fields"] == ["limit"]


async def test_update_state_branches_and_copy_keeps_the_history(serve: Any) -> None:
    _, client, tid, _ = await _interrupted(serve)
    first = (await client.threads.get_history(tid))[-1]  # the input checkpoint
    # answer the interrupt by hand, as the approve node
    done = await client.threads.update_state(
        tid, {"messages": [{"role": "ai", "content": "edited", "id": "e"}]}, as_node="approve"
    )
    state = await client.threads.get_state(tid)
    assert state["checkpoint"]["checkpoint_id"] == done["checkpoint"]["checkpoint_id"]
    assert state["next"] == [] and state["values"]["messages"][-1]["content"] == "edited"
    assert (await client.threads.get(tid))["status"] == "idle"
    # the state at an older checkpoint, by id and by checkpoint object
    at = await client.threads.get_state(tid, checkpoint_id=first["checkpoint_id"])
    assert at["checkpoint_id"] == first["checkpoint_id"] and at["metadata"]["step"] == -1
    again = await client.threads.get_state(tid, checkpoint=first["checkpoint"])
    assert again["values"] == at["values"]
    # a copy has the same states under a new id, and grows apart from the original
    copy = await client.threads.copy(tid)
    assert copy["thread_id"] != tid and copy["metadata"]["graph_id"] == "approve"
    original = await client.threads.get_history(tid, limit=20)
    copied = await client.threads.get_history(copy["thread_id"], limit=20)
    assert [h["checkpoint_id"] for h in copied] == [h["checkpoint_id"] for h in original]
    assert [h["values"] for h in copied] == [h["values"] for h in original]
    await client.threads.update_state(copy["thread_id"], {"messages": []}, as_node="approve")
    assert len(await client.threads.get_history(tid, limit=20)) == len(original)
    patched = await client.threads.update(tid, metadata={"title": "groceries"})
    assert patched["metadata"] == {
        "graph_id": "approve",
        "assistant_id": assistant_uuid("approve"),
        "title": "groceries",
    }
