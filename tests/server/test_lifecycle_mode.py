"""The ``lifecycle`` stream mode through the official Python client, on both engines.

The oracle is LangGraph itself, in process: for the same graph built with plain
``langgraph``, ``stream_events(version="v3")``'s ``run.lifecycle`` projection (its
``LifecycleTransformer``). The server must stream exactly those payloads, with only the
task ids that differ per run normalised, and nothing the client did not ask for.
"""

from __future__ import annotations

import json
import operator
import re
import types
import warnings
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph_sdk import get_client
from typing_extensions import TypedDict
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamtap.server._serde import dumps, loads

ENGINES = ("st", "lg")
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}
START_ITEMS = {"items": []}


class Items(TypedDict):
    items: Annotated[list[str], operator.add]


def _engine(name: str) -> types.SimpleNamespace:
    if name == "lg":
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.graph import END, START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode
        from langgraph.prebuilt.tool_node import ToolCallWithContext
        from langgraph.types import Command, Send, interrupt
    else:
        from streamtap.graph import (  # type: ignore[assignment]
            END,
            START,
            Command,
            InMemorySaver,
            MessagesState,
            Send,
            StateGraph,
            interrupt,
        )
        from streamtap.graph.prebuilt import ToolCallWithContext, ToolNode  # type: ignore[assignment]
    return types.SimpleNamespace(
        END=END,
        START=START,
        Command=Command,
        InMemorySaver=InMemorySaver,
        MessagesState=MessagesState,
        Send=Send,
        StateGraph=StateGraph,
        ToolCallWithContext=ToolCallWithContext,
        ToolNode=ToolNode,
        interrupt=interrupt,
    )


# -- the graphs, one builder per scenario, for either engine ---------------------------


def _leaf(g: Any, name: str, *, fail: bool = False, ask: bool = False) -> Callable[..., Any]:
    def node(state: Items) -> dict[str, Any]:
        if fail:
            raise ValueError(f"{name} broke")
        if ask:
            return {"items": [f"{name}={g.interrupt('go on?')}"]}
        return {"items": [name]}

    return node


def _sub(g: Any, name: str, inner: Any = None, **leaf: Any) -> Any:
    builder = g.StateGraph(Items)
    builder.add_node("a", _leaf(g, f"{name}.a", **leaf))
    builder.add_edge(g.START, "a")
    if inner is not None:
        builder.add_node(inner[0], inner[1])
        builder.add_edge("a", inner[0])
    return builder.compile()


def _parent(g: Any, child: Any) -> Any:
    builder = g.StateGraph(Items)
    builder.add_node("first", _leaf(g, "first"))
    builder.add_node("child", child)
    builder.add_node("last", _leaf(g, "last"))
    builder.add_edge(g.START, "first")
    builder.add_edge("first", "child")
    builder.add_edge("child", "last")
    return builder


def nested(g: Any) -> Any:
    """parent -> child (a subgraph) -> grand (a subgraph of the subgraph)."""
    return _parent(g, _sub(g, "child", inner=("grand", _sub(g, "grand"))))


def failing(g: Any) -> Any:
    """The subgraph's subgraph raises: both end ``failed``, the run with an error."""
    return _parent(g, _sub(g, "child", inner=("grand", _sub(g, "grand", fail=True))))


def interrupted(g: Any) -> Any:
    """The subgraph's node asks (``interrupt``); resumed with ``Command(resume=...)``."""
    return _parent(g, _sub(g, "child", ask=True))


def sent(g: Any) -> Any:
    """A ``Send`` per item to a subgraph node: two subgraphs at once."""
    builder = g.StateGraph(Items)
    builder.add_node("first", _leaf(g, "first"))
    builder.add_node("child", _sub(g, "child"))
    builder.add_edge(g.START, "first")
    builder.add_conditional_edges(
        "first", lambda s: [g.Send("child", {"items": [x]}) for x in ("x", "y")], ["child"]
    )
    return builder


def _tool_graph(g: Any, calls: int) -> Any:
    """An agent whose tool calls are sent one by one (as ``create_agent`` sends them) to a
    ``ToolNode``; the tool runs a graph tagged ``lc_agent_name``, a subagent: its
    lifecycle names the tool call that caused it."""
    research = g.StateGraph(Items)
    research.add_node("work", _leaf(g, "work"))
    research.add_edge(g.START, "work")
    researcher = research.compile(name="researcher")

    @tool
    def ask(q: str) -> str:
        """Ask the researcher."""
        out = researcher.invoke({"items": [q]}, {"metadata": {"lc_agent_name": "researcher"}})
        return ",".join(out["items"])

    def agent(state: Any) -> dict[str, Any]:
        if len(state["messages"]) > 1:
            return {"messages": [AIMessage("done", id="final")]}
        tool_calls = [{"name": "ask", "args": {"q": q}, "id": f"call_{q}"} for q in "ab"[:calls]]
        return {"messages": [AIMessage("", id="asking", tool_calls=tool_calls)]}

    def route(state: Any) -> Any:
        last = state["messages"][-1]
        if not last.tool_calls:
            return g.END
        return [
            g.Send(
                "tools",
                g.ToolCallWithContext(__type="tool_call_with_context", tool_call=call, state=state),
            )
            for call in last.tool_calls
        ]

    builder = g.StateGraph(g.MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", g.ToolNode([ask]))
    builder.add_edge(g.START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", g.END])
    builder.add_edge("tools", "agent")
    return builder


def tool_call(g: Any) -> Any:
    return _tool_graph(g, 1)


def tool_calls(g: Any) -> Any:
    return _tool_graph(g, 2)


SCENARIOS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "nested": (nested, START_ITEMS),
    "failing": (failing, START_ITEMS),
    "interrupted": (interrupted, START_ITEMS),
    "sent": (sent, START_ITEMS),
    "tool_call": (tool_call, HUMAN),
    "tool_calls": (tool_calls, HUMAN),
}
#: where subgraphs run at once: which starts or ends first is the scheduler's
PARALLEL = frozenset({"sent", "tool_calls"})


def _graphs() -> dict[str, Any]:
    graphs = {}
    for engine in ENGINES:
        g = _engine(engine)
        for name, (build, _) in SCENARIOS.items():
            graphs[f"{engine}_{name}"] = build(g).compile()
    return graphs


# -- the oracle and the normalisation ----------------------------------------------------


def _oracle(name: str, resume: Any = None) -> list[Any]:
    """What LangGraph's own v3 run stream projects as ``run.lifecycle`` (first run, then
    the resumed one when ``resume`` is given), JSON-shaped."""
    g = _engine("lg")
    build, graph_input = SCENARIOS[name]
    graph = build(g).compile(checkpointer=g.InMemorySaver())
    config = {"configurable": {"thread_id": "oracle"}}
    runs = [graph_input] if resume is None else [graph_input, g.Command(resume=resume)]
    out: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The v3 streaming protocol on Pregel is experimental"
        for run_input in runs:
            run = graph.stream_events(run_input, config, version="v3")
            try:
                for payload in run.lifecycle:
                    out.append(loads(dumps(payload)))
            except ValueError:
                assert name == "failing"
    return out


def _oracle_log(name: str) -> list[Any]:
    """LangGraph's raw v3 event log (every protocol event, JSON-shaped)."""
    g = _engine("lg")
    build, graph_input = SCENARIOS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = build(g).compile().stream_events(graph_input, version="v3")
        return [loads(dumps(event)) for event in run]


_TASK_ID = re.compile(r"^(?P<name>[^:]*):(?P<id>.+)$")


def _normal(payloads: list[Any], *, ignore_order: bool = False) -> list[Any]:
    """Task ids (random per run) replaced by their order of appearance, consistently in
    namespaces and ``trigger_call_id``; where subgraphs run at once only the payloads'
    shape is compared (as a sorted list), after checking each one's order."""
    if ignore_order:
        _check_order(payloads)
    ids: dict[str, str] = {}

    def one(task_id: str) -> str:
        return "*" if ignore_order else ids.setdefault(task_id, f"task{len(ids)}")

    out = []
    for payload in payloads:
        payload = dict(payload)
        segments = []
        for segment in payload["namespace"]:
            match = _TASK_ID.match(segment)
            assert match, segment
            segments.append(f"{match['name']}:{one(match['id'])}")
        payload["namespace"] = segments
        if "trigger_call_id" in payload:
            payload["trigger_call_id"] = one(payload["trigger_call_id"])
        out.append(payload)
    if ignore_order:
        out.sort(key=lambda p: json.dumps(p, sort_keys=True))
    return out


def _check_order(payloads: list[Any]) -> None:
    """Each namespace starts once, before it ends once; its parent's start precedes it."""
    started: list[tuple[str, ...]] = []
    ended: list[tuple[str, ...]] = []
    for payload in payloads:
        ns = tuple(payload["namespace"])
        if payload["event"] == "started":
            assert ns not in started and (len(ns) == 1 or ns[:-1] in started)
            assert payload["trigger_call_id"] == ns[-1].partition(":")[2]
            started.append(ns)
        else:
            assert ns in started and ns not in ended
            ended.append(ns)
    assert sorted(started) == sorted(ended)


async def _stream(
    client: Any, thread_id: str | None, assistant: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    return [(p.event, p.data) async for p in client.runs.stream(thread_id, assistant, **kwargs)]


def _lifecycle(parts: list[tuple[str, Any]]) -> list[Any]:
    return [data for event, data in parts if event == "lifecycle"]


# -- tests -------------------------------------------------------------------------------


@pytest.fixture
def server(serve: Any) -> Any:
    return serve(_graphs())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["nested", "failing", "sent", "tool_call", "tool_calls"])
async def test_lifecycle_is_langgraphs(server: Any, engine: str, name: str) -> None:
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    graph_input = SCENARIOS[name][1]
    parts = await _stream(
        client, thread["thread_id"], f"{engine}_{name}", input=graph_input, stream_mode="lifecycle"
    )
    got = _lifecycle(parts)
    expected = _oracle(name)
    parallel = name in PARALLEL
    assert _normal(got, ignore_order=parallel) == _normal(expected, ignore_order=parallel)
    assert got, "the scenario has subgraphs"
    if name == "failing":  # the failures are told before the run's error
        assert [e for e, _ in parts] == ["metadata", *["lifecycle"] * len(got), "error", "end"]
        assert [p["event"] for p in got[-2:]] == ["failed", "failed"]
        assert got[-1]["error"] == "grand.a broke"
    else:
        assert [e for e, _ in parts] == ["metadata", *["lifecycle"] * len(got), "end"]
    if name.startswith("tool_call"):
        assert {p["cause"]["tool_call_id"] for p in got if "cause" in p} == {
            f"call_{q}" for q in "ab"[: 1 if name == "tool_call" else 2]
        }


@pytest.mark.parametrize("engine", ENGINES)
async def test_interrupted_and_resumed_subgraph(server: Any, engine: str) -> None:
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    tid, assistant = thread["thread_id"], f"{engine}_interrupted"
    first = await _stream(client, tid, assistant, input=START_ITEMS, stream_mode="lifecycle")
    assert (await client.threads.get(tid))["status"] == "interrupted"
    second = await _stream(
        client, tid, assistant, command={"resume": "yes"}, stream_mode="lifecycle"
    )
    got = _lifecycle(first) + _lifecycle(second)
    assert _normal(got) == _normal(_oracle("interrupted", resume="yes"))
    assert [p["event"] for p in got] == ["started", "interrupted", "started", "completed"]
    state = await client.threads.get_state(tid)
    # the subgraph returns its whole state, which the parent's reducer appends
    assert state["values"]["items"] == ["first", "first", "child.a=yes", "last"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_only_lifecycle_is_streamed(server: Any, engine: str) -> None:
    """The ``tasks`` mode and the subgraphs the transformer needs stay on the server."""
    client = get_client(url=server.url, api_key=None)
    for subgraphs in (False, True):
        parts = await _stream(
            client,
            None,
            f"{engine}_nested",
            input=START_ITEMS,
            stream_mode=["lifecycle"],
            stream_subgraphs=subgraphs,
        )
        events = [e for e, _ in parts]
        assert events == ["metadata", *["lifecycle"] * 4, "end"]
        assert [(len(p["namespace"]), p["event"]) for p in _lifecycle(parts)] == [
            (1, "started"),
            (2, "started"),
            (2, "completed"),
            (1, "completed"),
        ]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _ids_out(value: Any) -> Any:
    """Ids (task ids, in event names too, and run ids) out, to compare two runs' events."""
    return json.loads(_UUID.sub("*", json.dumps(value)))


@pytest.mark.parametrize("engine", ENGINES)
async def test_other_modes_are_as_without_lifecycle(server: Any, engine: str) -> None:
    """``["values", "lifecycle"]`` names events as langgraph-api does: ``values`` /
    ``values|<ns>`` as asked, and ``lifecycle`` always at the root (LangGraph's mux
    forwards its transformer's channel there); the other modes' events are what a run
    without ``lifecycle`` sends."""
    client = get_client(url=server.url, api_key=None)
    assistant = f"{engine}_nested"
    for subgraphs in (False, True):
        for modes in (["values"], ["tasks"], ["updates", "custom"]):
            kwargs = {"input": START_ITEMS, "stream_subgraphs": subgraphs}
            plain = await _stream(client, None, assistant, stream_mode=modes, **kwargs)
            both = await _stream(
                client, None, assistant, stream_mode=[*modes, "lifecycle"], **kwargs
            )
            others = [(e, d) for e, d in both if e != "lifecycle"]
            assert _ids_out(others[1:-1]) == _ids_out(plain[1:-1])
            assert len(_lifecycle(both)) == 4
    parts = await _stream(
        client,
        None,
        assistant,
        input=START_ITEMS,
        stream_mode=["values", "lifecycle"],
        stream_subgraphs=True,
    )
    # langgraph-api names a v3 log event ``method`` or ``method|ns...`` (normalize_protocol_event)
    expected = [
        (e["method"] + "".join(f"|{s}" for s in e["params"]["namespace"]), e["params"]["data"])
        for e in _oracle_log("nested")
        if e["method"] in ("values", "lifecycle")
    ]
    assert _ids_out(parts[1:-1]) == _ids_out(expected)
    names = [_UUID.sub("", e).replace(":", "") for e, _ in parts]
    assert names == [
        "metadata",
        "values",
        "values",
        "values|child",  # the subgraph's input, before its first task
        "lifecycle",  # child started: its first task
        "values|child",
        "values|child|grand",
        "lifecycle",  # grand started
        "values|child|grand",
        "lifecycle",  # grand completed: its parent task's result
        "values|child",
        "lifecycle",  # child completed
        "values",
        "values",
        "end",
    ]


@pytest.mark.parametrize("engine", ENGINES)
async def test_background_run_join_stream_and_websocket(server: Any, engine: str) -> None:
    client = get_client(url=server.url, api_key=None)
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        f"{engine}_nested",
        input=START_ITEMS,
        stream_mode=["lifecycle"],
        stream_resumable=True,
    )
    joined = [
        (p.event, p.data)
        async for p in client.runs.join_stream(
            thread["thread_id"], run["run_id"], last_event_id="0"
        )
    ]
    expected = _normal(_oracle("nested"))
    assert _normal(_lifecycle(joined)) == expected

    frames = []
    async with connect(server.url.replace("http", "ws") + "/ws") as ws:
        body = {"assistant_id": f"{engine}_nested", "input": START_ITEMS}
        await ws.send(json.dumps({**body, "stream_mode": "lifecycle"}))
        try:
            async for message in ws:
                frames.append(json.loads(message))
        except ConnectionClosed:
            pass
    assert [f["event"] for f in frames] == ["metadata", *["lifecycle"] * 4, "end"]
    assert _normal([f["data"] for f in frames[1:-1]]) == expected


async def test_without_langgraph_the_mode_is_refused_with_the_reason(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setattr("streamtap.server._schema.lifecycle_available", lambda: False)
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/runs/stream", json={"assistant_id": "st_nested", "stream_mode": ["lifecycle"]}
        )
    assert response.status_code == 422
    assert "langgraph package" in response.text
