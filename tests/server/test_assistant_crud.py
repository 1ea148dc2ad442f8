"""Assistants a client configures, through the official SDK (async and sync clients):
create / get / update (a new version each) / versions / set_latest / search / count /
delete, with langgraph-api's shapes and statuses, and runs of a created assistant that
see its config and context under their own, on a streamtap.graph and a LangGraph graph."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph_sdk import get_client, get_sync_client
from typing_extensions import TypedDict

from streamtap.server._graphs import assistant_uuid
from tests.server._support import LiveServer

ASSISTANT_KEYS = {
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
}


class S(TypedDict, total=False):
    topic: str
    seen: dict[str, Any]


class Ctx(TypedDict, total=False):
    user: str
    tone: str


def _graph(engine: str) -> Any:
    """One node that reports what the run handed it: its context and its configurable."""
    if engine == "langgraph":
        from langgraph.graph import START, StateGraph
        from langgraph.runtime import Runtime
    else:
        from streamtap.graph import START, StateGraph  # type: ignore[assignment]
        from streamtap.graph.runtime import Runtime  # type: ignore[assignment]

    def see(state: S, config: RunnableConfig, runtime: Runtime[Ctx]) -> S:
        configurable = config.get("configurable") or {}
        keep = ("user", "tone", "extra", "assistant_id", "graph_id")
        return {
            "seen": {
                "context": dict(runtime.context or {}),
                "configurable": {k: configurable[k] for k in keep if k in configurable},
                "recursion_limit": config.get("recursion_limit"),
            }
        }

    builder = StateGraph(S, context_schema=Ctx)
    return builder.add_node("see", see).add_edge(START, "see").compile()


def _status(call: Callable[[], Any]) -> tuple[int, str]:
    try:
        call()
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code, exc.response.json()["detail"]
    raise AssertionError("the call succeeded")


async def _astatus(call: Callable[[], Any]) -> tuple[int, str]:
    try:
        await call()
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code, exc.response.json()["detail"]
    raise AssertionError("the call succeeded")


@pytest.fixture
def server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve({"agent": _graph("streamtap"), "other": _graph("langgraph")})


async def test_create_and_get_have_the_platforms_shape(server: LiveServer) -> None:
    client = get_client(url=server.url, api_key=None)
    made = await client.assistants.create(
        "agent",
        context={"user": "ann"},
        metadata={"team": "a"},
        name="Ann's agent",
        description="answers Ann",
    )
    assert set(made) == ASSISTANT_KEYS
    assert uuid.UUID(made["assistant_id"])
    assert made["graph_id"] == "agent"
    # langgraph-api keeps config.configurable and context the same
    assert made["config"] == {"configurable": {"user": "ann"}}
    assert made["context"] == {"user": "ann"}
    assert made["metadata"] == {"team": "a"}
    assert (made["name"], made["description"], made["version"]) == ("Ann's agent", "answers Ann", 1)
    assert made["created_at"] == made["updated_at"]
    assert await client.assistants.get(made["assistant_id"]) == made

    from_config = await client.assistants.create(
        "agent", config={"configurable": {"user": "bo"}, "recursion_limit": 7}
    )
    assert from_config["context"] == {"user": "bo"}
    assert from_config["config"] == {"configurable": {"user": "bo"}, "recursion_limit": 7}
    assert (from_config["name"], from_config["description"]) == ("Untitled", None)
    assert from_config["metadata"] == {}

    system = await client.assistants.get("agent")
    assert system == {
        "assistant_id": assistant_uuid("agent"),
        "graph_id": "agent",
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": "agent",
        "description": None,
        "version": 1,
        "created_at": system["created_at"],
        "updated_at": system["created_at"],
    }
    assert await client.assistants.get(assistant_uuid("agent")) == system


async def test_an_existing_id_raises_409_or_is_returned_with_do_nothing(
    server: LiveServer,
) -> None:
    client = get_client(url=server.url, api_key=None)
    aid = str(uuid.uuid4())
    first = await client.assistants.create("agent", assistant_id=aid, name="first")
    assert first["assistant_id"] == aid
    status, detail = await _astatus(
        lambda: client.assistants.create("other", assistant_id=aid, if_exists="raise")
    )
    assert status == 409 and aid in detail and "do_nothing" in detail
    same = await client.assistants.create(
        "other", assistant_id=aid, name="second", if_exists="do_nothing"
    )
    assert same == first
    # a system assistant's id is taken too
    status, _ = await _astatus(
        lambda: client.assistants.create("agent", assistant_id=assistant_uuid("agent"))
    )
    assert status == 409


async def test_bad_creates_say_what_to_do(server: LiveServer) -> None:
    client = get_client(url=server.url, api_key=None)
    status, detail = await _astatus(lambda: client.assistants.create("nope"))
    assert status == 404 and "'nope'" in detail and "['agent', 'other']" in detail
    status, detail = await _astatus(lambda: client.assistants.create("agent", assistant_id="a-1"))
    assert status == 422 and "assistant_id" in detail and "UUID" in detail
    status, detail = await _astatus(lambda: client.assistants.create(None))
    assert status == 422 and "graph_id" in detail
    status, detail = await _astatus(
        lambda: client.assistants.create(
            "agent", config={"configurable": {"user": "a"}}, context={"user": "b"}
        )
    )
    assert status == 400 and "not both" in detail
    status, detail = await _astatus(
        lambda: client.assistants.create("agent", config={"recursion_limit": 0})
    )
    assert status == 422 and "recursion_limit" in detail
    async with httpx.AsyncClient(base_url=server.url) as http:
        bad = await http.post("/assistants", json={"graph_id": "agent", "if_exists": "replace"})
        assert bad.status_code == 422 and bad.json()["fields"] == ["if_exists"]
        missing = await http.get(f"/assistants/{uuid.uuid4()}")
        assert missing.status_code == 404 and "POST /assistants" in missing.json()["detail"]


async def test_updates_are_versions_and_set_latest_picks_one(server: LiveServer) -> None:
    sync = get_sync_client(url=server.url, api_key=None)
    v1 = sync.assistants.create(
        "agent", context={"user": "ann"}, metadata={"team": "a"}, name="ann"
    )
    aid = v1["assistant_id"]

    v2 = sync.assistants.update(aid, name="ann 2", metadata={"stage": "beta"})
    assert v2["version"] == 2 and v2["name"] == "ann 2"
    assert v2["metadata"] == {"team": "a", "stage": "beta"}  # merged in
    assert (v2["config"], v2["context"]) == (v1["config"], v1["context"])  # kept
    assert v2["created_at"] == v1["created_at"] and v2["updated_at"] > v1["updated_at"]

    v3 = sync.assistants.update(aid, context={"user": "bo", "tone": "dry"}, graph_id="other")
    assert v3["version"] == 3 and v3["graph_id"] == "other"
    assert v3["context"] == {"user": "bo", "tone": "dry"}
    assert v3["config"] == {"configurable": {"user": "bo", "tone": "dry"}}
    assert sync.assistants.get(aid) == v3

    versions = sync.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert all(set(v) == ASSISTANT_KEYS - {"updated_at"} for v in versions)
    assert versions[2] == {k: v1[k] for k in ASSISTANT_KEYS - {"updated_at"}}
    assert [v["name"] for v in versions] == ["ann 2", "ann 2", "ann"]
    assert [v["version"] for v in sync.assistants.get_versions(aid, limit=1, offset=1)] == [2]
    by_meta = sync.assistants.get_versions(aid, metadata={"stage": "beta"})
    assert [v["version"] for v in by_meta] == [3, 2]

    back = sync.assistants.set_latest(aid, 1)
    assert {k: back[k] for k in ("version", "name", "graph_id", "context", "metadata")} == {
        "version": 1,
        "name": "ann",
        "graph_id": "agent",
        "context": {"user": "ann"},
        "metadata": {"team": "a"},
    }
    assert back["created_at"] == v1["created_at"] and back["updated_at"] > v3["updated_at"]
    assert sync.assistants.get(aid) == back
    assert len(sync.assistants.get_versions(aid)) == 3  # no new version
    v4 = sync.assistants.update(aid, description="from v1")
    assert v4["version"] == 4 and v4["name"] == "ann"  # the highest + 1, on top of v1

    status, detail = _status(lambda: sync.assistants.set_latest(aid, 99))
    assert status == 404 and "Version 99" in detail
    unknown = str(uuid.uuid4())
    assert _status(lambda: sync.assistants.get_versions(unknown))[0] == 404
    assert _status(lambda: sync.assistants.update(unknown, name="x"))[0] == 404
    assert _status(lambda: sync.assistants.set_latest(unknown, 1))[0] == 404
    assert _status(lambda: sync.assistants.update(aid, graph_id="nope"))[0] == 404
    # a system assistant versions as any other
    system = sync.assistants.update("agent", config={"recursion_limit": 9})
    assert system["version"] == 2 and system["metadata"] == {"created_by": "system"}
    assert [v["version"] for v in sync.assistants.get_versions("agent")] == [2, 1]


async def test_search_and_count_filter_sort_page_and_select(server: LiveServer) -> None:
    client = get_client(url=server.url, api_key=None)
    a = await client.assistants.create("agent", name="Alpha", metadata={"k": {"x": 1, "y": 2}})
    b = await client.assistants.create("other", name="beta", metadata={"k": {"x": 1}})
    c = await client.assistants.create("agent", name="Gamma alpha")
    system = [assistant_uuid("agent"), assistant_uuid("other")]

    every = await client.assistants.search(limit=100)
    # newest first; the served graphs' assistants were all created at start, in order
    assert [x["assistant_id"] for x in every] == [
        c["assistant_id"],
        b["assistant_id"],
        a["assistant_id"],
        *system,
    ]
    assert all(set(x) == ASSISTANT_KEYS for x in every)
    agent = await client.assistants.search(graph_id="agent")
    assert [x["assistant_id"] for x in agent] == [c["assistant_id"], a["assistant_id"], system[0]]
    named = await client.assistants.search(name="ALPHA")
    assert [x["name"] for x in named] == ["Gamma alpha", "Alpha"]
    nested = await client.assistants.search(metadata={"k": {"x": 1}})
    assert [x["name"] for x in nested] == ["beta", "Alpha"]
    built_in = await client.assistants.search(metadata={"created_by": "system"})
    assert [x["name"] for x in built_in] == ["agent", "other"]
    by_name = await client.assistants.search(sort_by="name", sort_order="asc", limit=100)
    assert [x["name"] for x in by_name] == ["agent", "Alpha", "beta", "Gamma alpha", "other"]
    oldest = await client.assistants.search(sort_by="created_at", sort_order="asc", limit=2)
    assert [x["assistant_id"] for x in oldest] == system
    picked = await client.assistants.search(select=["assistant_id", "name"], limit=1)
    assert picked == [{"assistant_id": c["assistant_id"], "name": "Gamma alpha"}]

    first = await client.assistants.search(limit=2, response_format="object")
    assert [x["name"] for x in first["assistants"]] == ["Gamma alpha", "beta"]
    assert first["next"] == "2"
    last = await client.assistants.search(limit=2, offset=4, response_format="object")
    assert [x["name"] for x in last["assistants"]] == ["other"] and last["next"] is None

    assert await client.assistants.count() == 5
    assert await client.assistants.count(graph_id="agent") == 3
    assert await client.assistants.count(name="alpha", metadata={"k": {"y": 2}}) == 1
    status, detail = await _astatus(lambda: client.assistants.search(graph_id="nope"))
    assert status == 404 and "nope" in detail
    assert (await _astatus(lambda: client.assistants.count(graph_id="nope")))[0] == 404
    async with httpx.AsyncClient(base_url=server.url) as http:
        for body in ({"limit": 0}, {"sort_by": "version"}, {"select": ["secret"]}):
            bad = await http.post("/assistants/search", json=body)
            assert bad.status_code == 422, body


@pytest.mark.parametrize("engine", ["streamtap", "langgraph"])
async def test_a_run_sees_its_assistants_config_and_context_under_its_own(
    serve: Callable[..., LiveServer], engine: str
) -> None:
    server = serve({"agent": _graph(engine)})
    client = get_client(url=server.url, api_key=None)
    made = await client.assistants.create(
        "agent", context={"user": "ann", "tone": "dry"}, name="ann"
    )
    aid = made["assistant_id"]

    stateless = await client.runs.wait(None, aid, input={"topic": "t"}, context={"tone": "warm"})
    assert stateless["seen"]["context"] == {"user": "ann", "tone": "warm"}
    assert stateless["seen"]["configurable"] == {
        "user": "ann",
        "tone": "dry",
        "assistant_id": aid,
        "graph_id": "agent",
    }

    thread = await client.threads.create()
    tid = thread["thread_id"]
    parts = [
        p
        async for p in client.runs.stream(
            tid,
            aid,
            input={"topic": "t"},
            config={"configurable": {"extra": 1, "user": "run"}, "recursion_limit": 11},
            stream_mode="values",
        )
    ]
    seen = [p.data for p in parts if p.event == "values"][-1]["seen"]
    assert seen["context"] == {"user": "ann", "tone": "dry"}
    assert seen["configurable"] == {
        "user": "run",
        "tone": "dry",
        "extra": 1,
        "assistant_id": aid,
        "graph_id": "agent",
    }
    assert seen["recursion_limit"] == 11
    runs = await client.runs.list(tid)
    assert [r["assistant_id"] for r in runs] == [aid]
    meta = (await client.threads.get(tid))["metadata"]
    assert (meta["assistant_id"], meta["graph_id"]) == (aid, "agent")
    assert [
        t["thread_id"] for t in await client.threads.search(metadata={"assistant_id": aid})
    ] == [tid]

    # a new version is what the next run inherits; set_latest goes back
    await client.assistants.update(
        aid, config={"configurable": {"user": "bo"}, "recursion_limit": 5}
    )
    again = await client.runs.wait(None, aid, input={"topic": "t"})
    assert again["seen"]["context"] == {"user": "bo"} and again["seen"]["recursion_limit"] == 5
    await client.assistants.set_latest(aid, 1)
    back = await client.runs.wait(None, aid, input={"topic": "t"})
    assert back["seen"]["context"] == {"user": "ann", "tone": "dry"}

    # the system assistant still runs with nothing added
    plain = await client.runs.wait(None, "agent", input={"topic": "t"})
    assert plain["seen"]["context"] == {}
    assert plain["seen"]["configurable"] == {
        "assistant_id": assistant_uuid("agent"),
        "graph_id": "agent",
    }


async def test_a_created_assistant_answers_its_graphs_drawing_and_schemas(
    server: LiveServer,
) -> None:
    client = get_client(url=server.url, api_key=None)
    made = await client.assistants.create("other", name="on other")
    aid = made["assistant_id"]
    assert await client.assistants.get_graph(aid) == await client.assistants.get_graph("other")
    assert await client.assistants.get_graph(aid, xray=True) == await client.assistants.get_graph(
        "other", xray=True
    )
    schemas = await client.assistants.get_schemas(aid)
    assert schemas == await client.assistants.get_schemas("other")
    assert schemas["graph_id"] == "other"
    assert set(schemas["context_schema"]["properties"]) == {"user", "tone"}
    assert await client.assistants.get_subgraphs(aid) == {}
    missing = str(uuid.uuid4())
    for call in (
        client.assistants.get_graph,
        client.assistants.get_schemas,
        client.assistants.get_subgraphs,
    ):
        assert (await _astatus(lambda c=call: c(missing)))[0] == 404  # type: ignore[misc]


async def test_delete_forgets_an_assistant_and_optionally_its_threads(
    server: LiveServer,
) -> None:
    client = get_client(url=server.url, api_key=None)
    keep = await client.assistants.create("agent", name="keep")
    drop = await client.assistants.create("agent", name="drop")
    kept_thread = (await client.threads.create())["thread_id"]
    await client.runs.wait(kept_thread, keep["assistant_id"], input={"topic": "t"})
    threads = []
    for _ in range(2):
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, drop["assistant_id"], input={"topic": "t"})
        threads.append(tid)

    assert await client.assistants.delete(keep["assistant_id"]) is None
    assert (await _astatus(lambda: client.assistants.get(keep["assistant_id"])))[0] == 404
    assert (await _astatus(lambda: client.assistants.delete(keep["assistant_id"])))[0] == 404
    status, detail = await _astatus(
        lambda: client.runs.wait(None, keep["assistant_id"], input={"topic": "t"})
    )
    assert status == 404 and "not found" in detail
    assert (await client.threads.get(kept_thread))["thread_id"] == kept_thread  # threads stay

    await client.assistants.delete(drop["assistant_id"], delete_threads=True)
    for tid in threads:
        assert (await _astatus(lambda t=tid: client.threads.get(t)))[0] == 404  # type: ignore[misc]
    assert (await client.threads.get(kept_thread))["thread_id"] == kept_thread

    # a system assistant can be deleted as on langgraph-api; its graph id then answers 404
    await client.assistants.delete("other")
    assert [a["graph_id"] for a in await client.assistants.search()] == ["agent"]
    assert (await _astatus(lambda: client.runs.wait(None, "other", input={})))[0] == 404
    assert (await _astatus(lambda: client.assistants.get_schemas("other")))[0] == 404


async def test_deleting_an_assistant_cancels_its_runs(serve: Callable[..., LiveServer]) -> None:
    from streamtap.graph import START, StateGraph

    async def slow(state: S) -> S:
        await asyncio.sleep(30)
        return {"topic": "done"}

    graph = StateGraph(S).add_node("slow", slow).add_edge(START, "slow").compile()
    server = serve({"slow": graph})
    client = get_client(url=server.url, api_key=None)
    made = await client.assistants.create("slow")
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, made["assistant_id"], input={"topic": "t"})
    while (await client.runs.get(tid, run["run_id"]))["status"] == "pending":
        await asyncio.sleep(0.01)
    await client.assistants.delete(made["assistant_id"])
    await asyncio.wait_for(client.runs.join(tid, run["run_id"]), 10)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
