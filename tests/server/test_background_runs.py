"""Background runs (``runs.create``, ``join``, ``join_stream``, ``get``) and ``runs.wait``,
driven by the official langgraph-sdk, async and sync."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from typing_extensions import TypedDict

from tests.server._support import ScriptedChat, approval_graph, chat_graph
from tests.server.conftest import HUMAN


async def test_a_background_run_is_joined_and_its_events_replayed(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b"]))})
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid, "agent", input=HUMAN, stream_mode=["values", "updates"], stream_resumable=True
    )
    assert run["status"] in ("pending", "running") and run["thread_id"] == tid
    joined = await client.runs.join(tid, run["run_id"])
    assert [m["content"] for m in joined["messages"]] == ["hi", "ab"]
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
    # a resumable run's whole log, from the start, after it ended
    events = [p.event async for p in client.runs.join_stream(tid, run["run_id"])]
    assert events[0] == "metadata" and events[-1] == "end"
    assert "updates" in events and "values" in events
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_wait_answers_the_last_values_on_a_thread_and_stateless(serve: Any) -> None:
    server = serve({"approve": approval_graph(ScriptedChat(tokens=["draft"]))})
    client = get_client(url=server.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    paused = await client.runs.wait(tid, "approve", input=HUMAN)
    assert paused["__interrupt__"][0]["value"] == {"question": "send it?"}
    assert [m["content"] for m in paused["messages"]] == ["hi", "draft"]
    done = await client.runs.wait(tid, "approve", command={"resume": "yes"})
    assert [m["content"] for m in done["messages"]][-1] == "approved: yes"
    stateless = await client.runs.wait(None, "approve", input=HUMAN)
    assert "__interrupt__" in stateless
    sync = get_sync_client(url=server.url, api_key=None)
    again = sync.runs.wait(None, "approve", input=HUMAN)
    assert again["__interrupt__"][0]["value"] == {"question": "send it?"}


def _failing_graph() -> Any:
    from streamtap.graph import START, MessagesState, StateGraph

    def boom(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError("model exploded (key sk-abcdefghijklmnopqrstuv)")

    return StateGraph(MessagesState).add_node("boom", boom).add_edge(START, "boom").compile()


async def test_a_failed_wait_raises_in_the_sdk_and_is_masked(serve: Any) -> None:
    server = serve({"agent": _failing_graph()})
    client = get_client(url=server.url, api_key=None)
    with pytest.raises(Exception, match="RuntimeError: model exploded") as raised:
        await client.runs.wait(None, "agent", input=HUMAN)
    assert "abcdefghijklmnop" not in str(raised.value)
    answer = await client.runs.wait(None, "agent", input=HUMAN, raise_error=False)
    assert answer["__error__"]["error"] == "RuntimeError"


async def test_a_busy_thread_refuses_a_second_background_run(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["x"] * 50, delay=0.02))})
    client = get_client(url=server.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    # messages mode: the model streams, slowly, so the run is still going
    first = await client.runs.create(tid, "agent", input=HUMAN, stream_mode="messages-tuple")
    async with httpx.AsyncClient(base_url=server.url) as http:
        second = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "agent", "input": HUMAN, "multitask_strategy": "reject"},
        )
        assert second.status_code == 409
        located = await http.post("/runs", json={"assistant_id": "agent", "input": HUMAN})
        assert located.headers["location"].endswith("/join")
    await client.runs.join(tid, first["run_id"])


async def test_the_tools_mode_streams_tool_calls(serve: Any) -> None:
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    from streamtap.graph import START, MessagesState, StateGraph
    from streamtap.graph.prebuilt import ToolNode

    @tool
    def double(x: int) -> int:
        """Double x."""
        return 2 * x

    def agent(state: MessagesState) -> dict[str, Any]:
        call = {"name": "double", "args": {"x": 21}, "id": "c1", "type": "tool_call"}
        return {"messages": [AIMessage("", id="ai", tool_calls=[call])]}

    builder = (
        StateGraph(MessagesState).add_node("agent", agent).add_node("tools", ToolNode([double]))
    )
    graph = builder.add_edge(START, "agent").add_edge("agent", "tools").compile()
    server = serve({"agent": graph})
    client = get_client(url=server.url, api_key=None)
    parts = [p async for p in client.runs.stream(None, "agent", input=HUMAN, stream_mode="tools")]
    tools = [p.data for p in parts if p.event == "tools"]
    assert [(t["event"], t["tool_call_id"]) for t in tools] == [
        ("tool-started", "c1"),
        ("tool-finished", "c1"),
    ]
    assert tools[0]["input"] == {"x": 21}


async def test_an_idle_stream_gets_heartbeat_comments(serve: Any) -> None:
    server = serve(
        {"agent": chat_graph(ScriptedChat(tokens=["a", "b"], delay=0.4))}, ping_interval=0.1
    )
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = {"assistant_id": "agent", "input": HUMAN, "stream_mode": "messages-tuple"}
        async with http.stream("POST", "/runs/stream", json=body) as response:
            async for line in response.aiter_lines():
                lines.append(line)
    assert ": heartbeat" in lines


class _Log(TypedDict):
    log: Annotated[list[str], operator.add]


def _counting_graph() -> Any:
    """A slow one-node graph appending each input to a log (a reducer key)."""
    from streamtap.graph import START, StateGraph

    async def slow(state: _Log) -> _Log:
        await asyncio.sleep(0.3)
        return {"log": ["done"]}

    return StateGraph(_Log).add_node("slow", slow).add_edge(START, "slow").compile()


@pytest.mark.parametrize("strategy", [None, "enqueue", "interrupt", "rollback"])
async def test_multitask_strategies_on_a_busy_thread(serve: Any, strategy: str | None) -> None:
    server = serve({"log": _counting_graph()})
    client = get_client(url=server.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.create(tid, "log", input={"log": ["first"]})
    extra = {"multitask_strategy": strategy} if strategy else {}
    second = await client.runs.create(tid, "log", input={"log": ["second"]}, **extra)
    await client.runs.join(tid, second["run_id"])
    statuses = [(await client.runs.get(tid, r["run_id"]))["status"] for r in (first, second)]
    values = (await client.threads.get_state(tid))["values"]["log"]
    if strategy in (None, "enqueue"):  # the Platform's default: the second waits its turn
        assert statuses == ["success", "success"]
        assert values == ["first", "done", "second", "done"]
    elif strategy == "interrupt":  # the first stops; what it saved stays
        assert statuses == ["interrupted", "success"]
        assert values == ["first", "second", "done"]
    else:  # rollback: the second starts where the first started
        assert statuses == ["interrupted", "success"]
        assert values == ["second", "done"]


async def test_rollback_keeps_what_the_thread_had_before_the_cancelled_run(serve: Any) -> None:
    server = serve({"log": _counting_graph()})
    client = get_client(url=server.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "log", input={"log": ["zero"]})
    first = await client.runs.create(tid, "log", input={"log": ["first"]})
    second = await client.runs.create(
        tid, "log", input={"log": ["second"]}, multitask_strategy="rollback"
    )
    await client.runs.join(tid, second["run_id"])
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "interrupted"
    values = (await client.threads.get_state(tid))["values"]["log"]
    assert values == ["zero", "done", "second", "done"]


@pytest.mark.parametrize("engine", ["streamtap", "langgraph"])
async def test_copilotkits_default_modes_stream_events_beside_the_others(
    serve: Any, engine: str
) -> None:
    from tests.server._support import chat_graph as st_chat

    if engine == "langgraph":
        from langgraph.graph import END, START, MessagesState, StateGraph

        model = ScriptedChat(tokens=["a", "b"])

        async def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        graph = StateGraph(MessagesState).add_node("agent", agent)
        graph = graph.add_edge(START, "agent").add_edge("agent", END).compile()
    else:
        graph = st_chat(ScriptedChat(tokens=["a", "b"]))
    server = serve({"agent": graph})
    client = get_client(url=server.url, api_key=None)
    modes = ["events", "values", "updates", "messages-tuple"]
    parts = [p async for p in client.runs.stream(None, "agent", input=HUMAN, stream_mode=modes)]
    kinds = {p.event for p in parts}
    assert {"metadata", "events", "values", "updates", "messages", "end"} <= kinds
    events = [p.data for p in parts if p.event == "events"]
    names = [(e["event"], e["name"]) for e in events]
    assert ("on_chat_model_stream", "ScriptedChat") in names
    assert ("on_chain_start", "agent") in names
    # the graph run's own stream chunks are the other modes, never "events"
    assert not any(e["event"] == "on_chain_stream" and not e["parent_ids"] for e in events)
    tokens = [e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == "ab"


async def test_cancel_actions_batch_and_crons(serve: Any) -> None:
    server = serve({"log": _counting_graph()})
    client = get_client(url=server.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "log", input={"log": ["zero"]})
    # interrupt: the run stops, the thread keeps what it saved (the input)
    run = await client.runs.create(tid, "log", input={"log": ["one"]})
    await asyncio.sleep(0.1)  # inside its 0.3 s node: the input is saved (before, it races)
    assert await client.runs.cancel(tid, run["run_id"], wait=True) is None  # 202, once stopped
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get_state(tid))["values"]["log"] == ["zero", "done", "one"]
    # rollback: the thread is back where the run started
    run = await client.runs.create(tid, "log", input={"log": ["two"]})
    await asyncio.sleep(0.1)
    await client.runs.cancel(tid, run["run_id"], wait=True, action="rollback")
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["zero", "done", "one"]
    assert state["metadata"]["source"] == "fork"
    batch = await client.runs.create_batch(
        [{"assistant_id": "log", "input": {"log": [str(i)]}} for i in range(3)]
    )
    assert len({r["run_id"] for r in batch}) == 3
    async with httpx.AsyncClient(base_url=server.url) as http:
        cron = await http.post("/runs/crons", json={"assistant_id": "log", "schedule": "* * * * *"})
        assert cron.status_code == 501 and "scheduler" in cron.json()["detail"]
        bad = await http.post(f"/threads/{tid}/runs/{run['run_id']}/cancel?action=explode")
        assert bad.status_code == 422
