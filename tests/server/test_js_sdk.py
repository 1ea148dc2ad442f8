"""The official JS client, ``@langchain/langgraph-sdk`` from npm (the current 1.x and the 2.0.0
npm holds), against a streamtap server: tests/js/sdk_routes.mjs drives every route a LangGraph
frontend calls on a ``streamtap.graph`` graph and on a LangGraph graph; these tests assert on
what the client got. One node process per (SDK, engine), one ``npm ci`` per session."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from streamtap.server import create_app
from streamtap.server._graphs import assistant_uuid
from streamtap.server._serde import dumps
from tests.server._js_support import (
    ENGINES,
    INNER_TOKENS,
    PROGRESS,
    SDKS,
    TOKENS,
    js_graphs,
    needs_node,
    npm_ci,
    run_node,
)
from tests.server._support import LiveServer

pytestmark = needs_node()
ANSWER = "".join(TOKENS)
COMBOS = [(sdk, engine) for sdk in SDKS for engine in ENGINES]
_VARYING = {"id", "run_id", "thread_id", "assistant_id", "graph_id", "tid", "created_id"}
_VARYING |= {"second_id", "langgraph_checkpoint_ns", "checkpoint_ns", "checkpoint_id", "parent"}
_UUIDISH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")


@pytest.fixture(scope="session")
def js_dir() -> Any:
    return npm_ci()


@pytest.fixture(scope="module")
def graphs() -> dict[str, Any]:
    return {**js_graphs("st"), **js_graphs("lg")}


@pytest.fixture(scope="module")
def server(js_dir: Any, graphs: dict[str, Any]) -> Iterator[LiveServer]:
    with LiveServer(create_app(graphs, disconnect_grace=0.2)) as live:
        yield live


@pytest.fixture(scope="module")
def all_results(server: LiveServer) -> dict[tuple[str, str], dict[str, Any]]:
    return {combo: run_node("sdk_routes.mjs", combo[0], server.url, combo[1]) for combo in COMBOS}


@pytest.fixture(params=COMBOS, ids=[f"{sdk}-{engine}" for sdk, engine in COMBOS])
def got(request: Any, all_results: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """What one SDK got against one engine's graphs, plus ``sdk`` and ``engine``."""
    sdk, engine = request.param
    return {**all_results[(sdk, engine)], "sdk": sdk, "engine": engine}


def _ok(got: dict[str, Any], scenario: str) -> Any:
    result = got[scenario]
    assert "error" not in result, result
    return result


def _own(value: Any) -> Any:
    return json.loads(dumps(value))


def _contents(parts: list[dict[str, Any]], event: str) -> list[Any]:
    return [p["data"][0]["content"] for p in parts if p["event"] == event]


def test_messages_state_schema_is_langgraphs() -> None:
    """Found by ``assistants.getSchemas``: MessagesState was a typing.TypedDict, which pydantic
    refuses on Python 3.11 (HTTP 500 for every MessagesState graph)."""
    st, lg = js_graphs("st")["st_agent"], js_graphs("lg")["lg_agent"]
    for ours, theirs in (
        (st.get_input_jsonschema(), lg.get_input_jsonschema()),
        (st.get_output_jsonschema(), lg.get_output_jsonschema()),
    ):
        assert ours.pop("description").startswith("State with a single ``messages`` list")
        assert ours == theirs  # LangGraph's MessagesState has no docstring


def test_assistants_graph_schemas_and_subgraphs(got: dict[str, Any], graphs: Any) -> None:
    result = _ok(got, "assistants")
    engine = got["engine"]
    ours = [[name, assistant_uuid(name)] for name in graphs if name.startswith(engine + "_")]
    assert [a for a in result["all"] if a[0].startswith(engine + "_")] == ours
    nested = graphs[f"{engine}_nested"]
    assert result["got"] == {
        "assistant_id": assistant_uuid(f"{engine}_nested"),
        "graph_id": f"{engine}_nested",
        "name": f"{engine}_nested",
    }
    drawn = nested.get_graph().to_json()
    assert result["graph_nodes"] == ["__start__", "sub", "__end__"]
    assert result["graph_nodes"] == [n["id"] for n in drawn["nodes"]]
    assert result["graph_edges"] == [["__start__", "sub"], ["sub", "__end__"]]
    xray = nested.get_graph(xray=True).to_json()
    assert result["xray_nodes"] == [n["id"] for n in xray["nodes"]]
    assert "sub:inner" in result["xray_nodes"]
    schemas = result["schemas"]
    assert schemas["graph_id"] == f"{engine}_nested"
    assert schemas["input_schema"] == _own(nested.get_input_jsonschema())
    assert schemas["output_schema"] == _own(nested.get_output_jsonschema())
    assert list(schemas["state_schema"]["properties"]) == ["messages"]
    assert result["subgraphs"] == ["sub"] and result["recursive"] == ["sub"]
    assert result["subgraph_state"] == ["messages"]
    assert result["missing"] == {"status": 404, "name": "Error"}


def test_assistants_search_filters_by_graph_id(got: dict[str, Any]) -> None:
    assert _ok(got, "assistants")["filtered"] == [f"{got['engine']}_nested"]


def test_threads_create_search_state_history_update_copy_patch_delete(
    got: dict[str, Any],
) -> None:
    r = _ok(got, "threads")
    graph_id = f"{got['engine']}_agent"
    owner = f"js-{got['sdk']}"
    tagged = {"owner": owner, "graph_id": graph_id, "assistant_id": assistant_uuid(graph_id)}
    assert r["created"] == {"status": "idle", "metadata": {"owner": owner}, "values": None}
    assert r["fresh_status"] == "idle"
    assert r["wait_messages"] == ["hi", ANSWER]
    assert r["after"] == {"status": "idle", "metadata": tagged, "values": ["hi", ANSWER]}
    assert r["search"] == [r["tid"]]  # by graph_id (set by the run) and the client's own key

    history = r["history"]
    assert [(h["step"], h["source"], h["next"], h["messages"]) for h in history] == [
        (1, "loop", [], ["hi", ANSWER]),
        (0, "loop", ["agent"], ["hi"]),
        (-1, "input", ["__start__"], []),
    ]
    assert [h["parent"] for h in history] == [h["checkpoint_id"] for h in history[1:]] + [None]
    assert r["state"] == {
        "values": ["hi", ANSWER],
        "next": [],
        "checkpoint_id": history[0]["checkpoint_id"],
        "checkpoint_thread": r["tid"],
        "parent_checkpoint_id": history[1]["checkpoint_id"],
        "step": 1,
    }
    assert r["updated_thread"] == r["tid"]
    assert r["edited"] == {
        "values": ["hi", ANSWER, "edited"],
        "checkpoint_id": r["updated_checkpoint"],
        "parent": history[0]["checkpoint_id"],
        "writer": "update",
    }
    assert r["older"] == {"values": [], "step": -1}
    assert r["copy"] == {"differs": True, "metadata": tagged}
    assert len(r["own_history"]) == 4
    assert r["copied_history"] == r["own_history"]
    assert r["own_history"][0] == [r["updated_checkpoint"], ["hi", ANSWER, "edited"]]
    assert r["patched"] == {**tagged, "title": "greeting"}
    assert r["copy_deleted"] == {"status": 404, "name": "Error"}
    assert r["missing"] == {"status": 404, "name": "Error"}


def test_stream_values_updates_custom(got: dict[str, Any]) -> None:
    r = _ok(got, "stream_modes")
    values = r["values"]
    assert [p["event"] for p in values] == ["metadata", "values", "values", "end"]
    run_id = values[0]["data"]["run_id"]
    assert values[0]["data"] == {"run_id": run_id, "attempt": 1}
    assert values[-1]["data"] == {"run_id": run_id, "status": "success"}
    final = values[2]["data"]["messages"]
    assert [(m["type"], m["content"]) for m in final] == [("human", "hi"), ("ai", ANSWER)]
    updates = r["updates"]
    assert [p["event"] for p in updates] == ["metadata", "updates", "end"]
    [(node, update)] = updates[1]["data"].items()
    assert node == "agent"
    assert [(m["type"], m["content"]) for m in update["messages"]] == [("ai", ANSWER)]
    assert [p["event"] for p in r["custom"]] == ["metadata", "custom", "custom", "end"]
    assert [p["data"] for p in r["custom"][1:-1]] == [{"progress": p} for p in PROGRESS]


def test_stream_messages_tuple_and_messages(got: dict[str, Any]) -> None:
    r = _ok(got, "stream_modes")
    tuples = r["messages_tuple"]
    assert [p["event"] for p in tuples] == ["metadata", *["messages"] * 5, "end"]
    assert _contents(tuples, "messages") == [*TOKENS, ""]
    assert all(p["data"][0]["type"] == "AIMessageChunk" for p in tuples[1:-1])
    assert len({p["data"][0]["id"] for p in tuples[1:-1]}) == 1  # one message, five chunks
    meta = tuples[1]["data"][1]
    graph_id = f"{got['engine']}_agent"
    assert (meta["langgraph_node"], meta["graph_id"]) == ("agent", graph_id)
    assert meta["assistant_id"] == assistant_uuid(graph_id)
    assert meta["run_id"] == tuples[0]["data"]["run_id"]
    # the Platform's "messages" mode: the message so far, accumulated per token
    messages = r["messages"]
    assert [p["event"] for p in messages] == [
        "metadata",
        "messages/metadata",
        *["messages/partial"] * 5,
        "end",
    ]
    partial = [p["data"][0]["content"] for p in messages[2:-1]]
    assert partial == ["Hel", "Hello", "Hello wor", ANSWER, ANSWER]
    [message_id] = messages[1]["data"]
    assert all(p["data"][0]["id"] == message_id for p in messages[2:-1])
    assert messages[1]["data"][message_id]["metadata"]["langgraph_node"] == "agent"


def test_stream_several_modes_in_graph_order(got: dict[str, Any]) -> None:
    combined = _ok(got, "stream_modes")["combined"]
    assert [p["event"] for p in combined] == [
        "metadata",
        "values",
        "custom",
        "custom",
        *["messages"] * 5,
        "updates",
        "values",
        "end",
    ]
    assert _contents(combined, "messages") == [*TOKENS, ""]
    assert combined[-2]["data"]["messages"][-1]["content"] == ANSWER


def test_stream_events_mode(got: dict[str, Any]) -> None:
    r = _ok(got, "stream_modes")
    chat = ["events", "on_chat_model_stream", "ScriptedChat"]
    assert r["events"] == [
        ["metadata"],
        ["events", "on_chain_start", "LangGraph"],
        ["events", "on_chain_start", "agent"],
        ["events", "on_chat_model_start", "ScriptedChat"],
        *[chat] * 5,
        ["events", "on_chat_model_end", "ScriptedChat"],
        ["events", "on_chain_stream", "agent"],
        ["events", "on_chain_end", "agent"],
        ["events", "on_chain_end", "LangGraph"],
        ["end"],
    ]
    assert r["event_chunks"] == [*TOKENS, ""]


def test_stream_subgraphs(got: dict[str, Any]) -> None:
    r = _ok(got, "stream_modes")
    parts = r["subgraphs"]
    events = [p["event"] for p in parts]
    namespace = events[1].split("|", 1)[1]
    assert re.fullmatch(r"sub:[0-9a-f-]{36}", namespace)
    assert events == [
        "metadata",
        *[f"messages|{namespace}"] * 3,
        f"updates|{namespace}",
        "updates",
        "end",
    ]
    assert [p["data"][0]["content"] for p in parts[1:4]] == [*INNER_TOKENS, ""]
    assert parts[1]["data"][1]["langgraph_node"] == "inner"
    assert parts[4]["data"]["inner"]["messages"][0]["content"] == "inner"
    assert [m["content"] for m in parts[5]["data"]["sub"]["messages"]] == ["hi", "inner"]
    # without stream_subgraphs: no namespaced events, the subgraph's message arrives whole
    flat = r["no_subgraphs"]
    assert [p["event"] for p in flat] == ["metadata", "messages", "updates", "end"]
    assert flat[1]["data"][0]["content"] == "inner"


def test_stream_tools_mode(got: dict[str, Any]) -> None:
    r = _ok(got, "stream_modes")
    if got["sdk"] != "sdk1":
        assert "tools" not in r  # the 2.0.0 client has no "tools" mode in its types
        return
    tools = r["tools"]
    assert [p["event"] for p in tools] == ["metadata", "tools", "tools", "end"]
    assert tools[1]["data"] == {
        "event": "tool-started",
        "tool_call_id": "call_1",
        "tool_name": "get_weather",
        "input": {"city": "Paris"},
    }
    finished = tools[2]["data"]
    assert (finished["event"], finished["tool_call_id"]) == ("tool-finished", "call_1")
    output = finished["output"]
    assert (output["type"], output["content"], output["tool_call_id"]) == (
        "tool",
        "sunny in Paris",
        "call_1",
    )


def test_stream_lifecycle_mode(got: dict[str, Any]) -> None:
    """``streamMode: ["lifecycle"]``: the subgraph's start and end, and nothing else (1.15.0
    types the mode; 2.0.0 does not, and sends it all the same)."""
    parts = _ok(got, "stream_modes")["lifecycle"]
    assert [p["event"] for p in parts] == ["metadata", "lifecycle", "lifecycle", "end"]
    started, completed = parts[1]["data"], parts[2]["data"]
    (namespace,) = started["namespace"]
    task_id = namespace.removeprefix("sub:")
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id)
    assert started == {
        "event": "started",
        "namespace": [namespace],
        "graph_name": "sub",
        "trigger_call_id": task_id,
    }
    assert completed == {"event": "completed", "namespace": [namespace]}


def test_background_runs_join_join_stream_get_cancel(got: dict[str, Any]) -> None:
    r = _ok(got, "background")
    graph_id = f"{got['engine']}_agent"
    assert r["created"] == {
        "status": "pending",
        "thread_id": r["tid"],
        "assistant_id": assistant_uuid(graph_id),
    }
    assert r["joined"] == ["hi", ANSWER]
    assert r["got"] == {"run_id": r["created_id"], "status": "success", "thread_id": r["tid"]}
    # a resumable run's whole log, replayed after it ended
    replay = r["replay"]
    assert [p["event"] for p in replay] == [
        "metadata",
        "values",
        *["messages"] * 5,
        "values",
        "end",
    ]
    assert replay[0]["data"] == {"run_id": r["created_id"], "attempt": 1}
    assert _contents(replay, "messages") == [*TOKENS, ""]
    assert replay[-1]["data"] == {"run_id": r["created_id"], "status": "success"}
    # joined while it runs: its own stream modes, to the end
    live = r["live"]
    assert [p["event"] for p in live][-2:] == ["updates", "end"]
    assert live[-2]["data"] == {"paced": {"messages": [live[-2]["data"]["paced"]["messages"][0]]}}
    assert live[-2]["data"]["paced"]["messages"][0]["content"] == "paced"
    assert live[-1]["data"] == {"run_id": r["second_id"], "status": "success"}
    assert r["list"] == [[r["second_id"], "success"], [r["created_id"], "success"]]
    assert r["slow"] == {"running": "running", "cancelled": "interrupted", "thread": "idle"}


def test_wait_on_a_thread_and_stateless(got: dict[str, Any]) -> None:
    r = _ok(got, "wait")
    assert r["first"] == ["hi", ANSWER]
    assert r["second"] == ["hi", ANSWER, "more", ANSWER]
    assert r["stateless"] == ["hi", ANSWER]
    assert r["unknown"] == {"status": 404, "name": "Error"}


def test_store_put_get_search_namespaces_delete(got: dict[str, Any]) -> None:
    r = _ok(got, "store")
    ns = ["js", got["engine"], got["sdk"]]
    assert r["item"] == {
        "namespace": ns,
        "key": "a",
        "value": {"text": "alpha", "n": 1},
        "stamped": True,
    }
    assert r["search"] == [["c", {"text": "gamma", "n": 3}]]
    assert r["everything"] == ["a", "b", "c"]
    assert r["paged"] == 1
    assert r["spaces"] == [ns, [*ns, "deeper"]]
    assert r["shallow"] == [ns]
    assert r["gone"] == {"status": 404}


def test_interrupt_and_resume_with_command(got: dict[str, Any]) -> None:
    r = _ok(got, "interrupt")
    first = r["first"]
    assert [p["event"] for p in first] == [
        "metadata",
        "values",
        "updates",
        "values",
        "updates",
        "values",
        "end",
    ]
    assert first[2]["data"]["write"]["messages"][0]["content"] == "Draft ready"
    [pending] = first[4]["data"]["__interrupt__"]
    assert pending["value"] == {"question": "send it?"}
    assert first[5]["data"]["__interrupt__"] == [pending]
    assert [m["content"] for m in first[5]["data"]["messages"]] == ["hi", "Draft ready"]
    assert first[-1]["data"]["status"] == "success"
    # threads.get shows the interrupt by task, getState by task and flat
    assert r["thread"]["status"] == "interrupted"
    [(task_id, interrupts)] = r["thread"]["interrupts"].items()
    assert _UUIDISH.fullmatch(task_id) and interrupts == [pending]
    assert r["state"] == {
        "next": ["approve"],
        "interrupts": [pending],
        "tasks": [["approve", [pending]]],
    }
    resumed = r["resumed"]
    assert [p["event"] for p in resumed] == ["metadata", "values", "values", "end"]
    final = [m["content"] for m in resumed[2]["data"]["messages"]]
    assert final == ["hi", "Draft ready", "approved: yes"]
    assert "__interrupt__" not in resumed[2]["data"]
    assert r["after"] == {"status": "idle", "values": final}
    assert r["paused"]["values"] == ["hi", "Draft ready"]
    assert [i["value"] for i in r["paused"]["interrupt"]] == [{"question": "send it?"}]
    assert r["answered"] == ["hi", "Draft ready", "approved: no"]


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {_strip(k): _strip(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, str):
        return _UUIDISH.sub("<id>", value).replace("st_", "<g>_").replace("lg_", "<g>_")
    return value


@pytest.mark.parametrize("sdk", SDKS)
def test_both_engines_answer_the_client_alike(
    sdk: str, all_results: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Everything but ids (and LangGraph's own version of the schemas) is the same on a
    streamtap.graph graph and on a LangGraph graph."""
    st, lg = all_results[(sdk, "st")], all_results[(sdk, "lg")]
    assert st.keys() == lg.keys()
    for scenario in st:
        if scenario in ("assistants", "store"):
            continue  # no graph runs: prefixes differ, the rest is checked per engine above
        ours, theirs = _strip(st[scenario]), _strip(lg[scenario])
        for key in ours:
            assert ours[key] == theirs[key], (scenario, key)
