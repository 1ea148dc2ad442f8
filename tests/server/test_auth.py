"""Custom auth with LangGraph's own ``langgraph_sdk.Auth`` object: who may see and run
which threads, runs and store items, driven through the official SDK, on both engines."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.runtime import Runtime as LGRuntime
from langgraph_sdk import Auth, get_client
from typing_extensions import TypedDict
from websockets.asyncio.client import connect

from streamtap.graph import START, StateGraph
from streamtap.graph.runtime import Runtime
from streamtap.server import create_app
from streamtap.server._auth import AuthRefused, filter_matches
from tests.server._support import ScriptedChat, chat_graph
from tests.server.test_websocket import _frames

TOKENS = {"tok-ada-123": "ada", "tok-bob-456": "bob"}
HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


def owner_auth() -> Auth:
    """The Platform docs' per-user ownership: stamp ``owner`` on what a user creates,
    filter everything else by it, and give each user a store namespace of their own."""
    auth = Auth()

    @auth.authenticate
    async def authenticate(authorization: str | None) -> dict[str, Any]:
        token = (authorization or "").removeprefix("Bearer ")
        if token not in TOKENS:
            raise Auth.exceptions.HTTPException(status_code=401, detail="unknown token")
        return {"identity": TOKENS[token], "permissions": ["chat"], "role": "member"}

    @auth.on
    async def owner(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, Any]:
        if "metadata" in value:
            value["metadata"] = {**(value["metadata"] or {}), "owner": ctx.user.identity}
        return {"owner": ctx.user.identity}

    @auth.on.threads.delete
    async def no_deletes_for_bob(ctx: Auth.types.AuthContext, value: Any) -> Any:
        if ctx.user.identity == "bob":
            return False
        return {"owner": ctx.user.identity}

    @auth.on.store()
    async def own_namespace(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
        assert isinstance(value["namespace"], tuple), "namespaces reach handlers as tuples"
        value["namespace"] = (ctx.user.identity, *value["namespace"])

    return auth


class Who(TypedDict, total=False):
    user: str
    user_id: str
    role: str


def _whoami_streamtap() -> Any:
    def whoami(state: Who, config: RunnableConfig, runtime: Runtime[None]) -> Who:
        assert runtime.server_info is not None and runtime.server_info.user is not None
        user = runtime.server_info.user
        return {
            "user": user.identity,
            "user_id": config["configurable"]["langgraph_auth_user_id"],
            "role": user["role"],
        }

    return StateGraph(Who).add_node("whoami", whoami).add_edge(START, "whoami").compile()


def _whoami_langgraph() -> Any:
    def whoami(state: Who, config: RunnableConfig, runtime: LGRuntime[None]) -> Who:
        assert runtime.server_info is not None and runtime.server_info.user is not None
        user = runtime.server_info.user
        return {
            "user": user.identity,
            "user_id": config["configurable"]["langgraph_auth_user_id"],
            "role": user["role"],
        }

    return LGStateGraph(Who).add_node("whoami", whoami).add_edge(LG_START, "whoami").compile()


def _client(server: Any, token: str) -> Any:
    return get_client(url=server.url, headers={"Authorization": f"Bearer {token}"})


def _status(exc: pytest.ExceptionInfo[httpx.HTTPStatusError]) -> int:
    return exc.value.response.status_code


async def test_requests_without_a_known_user_are_refused_by_authenticate(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a"]))}, auth=owner_auth())
    async with httpx.AsyncClient(base_url=server.url) as http:
        missing = await http.post("/threads", json={})
        assert (missing.status_code, missing.json()) == (401, {"detail": "unknown token"})
        wrong = await http.post("/threads", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await http.get("/ok")).status_code == 200  # the health probe stays public
        ready = await http.get("/ready")  # and the readiness probe: nothing external to ask
        assert (ready.status_code, ready.json()) == (200, {"ok": True, "parts": {}})


async def test_threads_are_owned_and_hidden_from_other_users(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["hi ", "ada"]))}, auth=owner_auth())
    ada, bob = _client(server, "tok-ada-123"), _client(server, "tok-bob-456")
    thread = await ada.threads.create(metadata={"topic": "x"})
    assert thread["metadata"] == {"topic": "x", "owner": "ada"}
    await ada.runs.wait(thread["thread_id"], "agent", input=HUMAN)
    tid = thread["thread_id"]

    assert [t["thread_id"] for t in await ada.threads.search()] == [tid]
    assert await bob.threads.search() == []
    for call in (
        bob.threads.get(tid),
        bob.threads.get_state(tid),
        bob.threads.get_history(tid),
        bob.threads.update(tid, metadata={"owner": "bob"}),
        bob.threads.update_state(tid, {"messages": []}),
        bob.threads.copy(tid),
        bob.runs.list(tid),
        bob.runs.wait(tid, "agent", input=HUMAN),
    ):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await call
        assert _status(refused) == 404
    with pytest.raises(httpx.HTTPStatusError) as forbidden:
        await bob.threads.delete(tid)  # the most specific handler (threads:delete) said False
    assert _status(forbidden) == 403

    state = await ada.threads.get_state(tid)
    assert state["values"]["messages"][-1]["content"] == "hi ada"
    # a client cannot give its thread away: the handler stamps the owner on updates too
    patched = await ada.threads.update(tid, metadata={"owner": "bob"})
    assert patched["metadata"]["owner"] == "ada"
    copied = await ada.threads.copy(tid)
    assert copied["metadata"]["owner"] == "ada"
    assert sorted(t["thread_id"] for t in await ada.threads.search()) == sorted(
        [tid, copied["thread_id"]]
    )
    await ada.threads.delete(tid)


async def test_runs_of_another_user_answer_404(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a"]))}, auth=owner_auth())
    ada, bob = _client(server, "tok-ada-123"), _client(server, "tok-bob-456")
    # a run that creates its thread stamps the run's metadata on it, as the Platform does
    run = await ada.runs.create("t-new", "agent", input=HUMAN, if_not_exists="create")
    await ada.runs.join("t-new", run["run_id"])
    assert (await ada.threads.get("t-new"))["metadata"]["owner"] == "ada"
    assert (await ada.runs.get("t-new", run["run_id"]))["status"] == "success"
    for call in (
        bob.runs.get("t-new", run["run_id"]),
        bob.runs.join("t-new", run["run_id"]),
        bob.runs.cancel("t-new", run["run_id"]),
    ):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await call
        assert _status(refused) == 404
    # stateless runs are owned by their own (stamped) metadata
    loose = await ada.runs.create(None, "agent", input=HUMAN)
    assert loose["metadata"]["owner"] == "ada"
    async with httpx.AsyncClient(base_url=server.url) as http:
        path = f"/threads/{loose['thread_id']}/runs/{loose['run_id']}"
        bob_get = await http.get(path, headers={"Authorization": "Bearer tok-bob-456"})
        ada_get = await http.get(path, headers={"Authorization": "Bearer tok-ada-123"})
    assert (bob_get.status_code, ada_get.status_code) == (404, 200)


@pytest.mark.parametrize("engine", ["streamtap", "langgraph"])
async def test_nodes_read_the_user_and_clients_cannot_forge_it(serve: Any, engine: str) -> None:
    graph = _whoami_streamtap() if engine == "streamtap" else _whoami_langgraph()
    server = serve({"who": graph}, auth=owner_auth())
    ada = _client(server, "tok-ada-123")
    forged = {"configurable": {"langgraph_auth_user_id": "root", "langgraph_auth_user": "root"}}
    answer = await ada.runs.wait(None, "who", input={}, config=forged)
    assert answer == {"user": "ada", "user_id": "ada", "role": "member"}
    thread = await ada.threads.create()
    answer = await ada.runs.wait(thread["thread_id"], "who", input={})
    assert answer == {"user": "ada", "user_id": "ada", "role": "member"}
    # the user rode in the run's config, not into what the checkpoint keeps readable
    history = await ada.threads.get_history(thread["thread_id"])
    assert "tok-ada-123" not in json.dumps(history)


async def test_store_namespaces_are_per_user(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a"]))}, auth=owner_auth())
    ada, bob = _client(server, "tok-ada-123"), _client(server, "tok-bob-456")
    await ada.store.put_item(["notes"], "k", {"text": "ada's"})
    await bob.store.put_item(["notes"], "k", {"text": "bob's"})
    mine = await ada.store.get_item(["notes"], "k")
    assert (mine["namespace"], mine["value"]) == (["ada", "notes"], {"text": "ada's"})
    theirs = await bob.store.get_item(["notes"], "k")
    assert (theirs["namespace"], theirs["value"]) == (["bob", "notes"], {"text": "bob's"})
    found = await bob.store.search_items(["notes"])
    assert [i["value"] for i in found["items"]] == [{"text": "bob's"}]
    spaces = await ada.store.list_namespaces(prefix=["notes"])
    assert spaces["namespaces"] == [["ada", "notes"]]
    await bob.store.delete_item(["notes"], "k")
    assert (await ada.store.get_item(["notes"], "k"))["value"] == {"text": "ada's"}


async def test_search_filters_narrow_and_handler_errors_keep_their_status(serve: Any) -> None:
    auth = Auth()

    @auth.authenticate
    async def authenticate(headers: dict[bytes, bytes]) -> str:
        return headers.get(b"x-user", b"anon").decode()

    @auth.on.store.search
    async def only_public(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
        return {"public": True}

    @auth.on.store.put
    async def readers_cannot_write(ctx: Auth.types.AuthContext, value: Any) -> None:
        if ctx.user.identity == "reader":
            raise Auth.exceptions.HTTPException(status_code=403, detail="readers cannot write")

    @auth.on.threads.create
    async def must_have_topic(ctx: Auth.types.AuthContext, value: Any) -> None:
        assert value["metadata"].get("topic"), "give the thread a topic"

    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a"]))}, auth=auth)
    writer = get_client(url=server.url, headers={"x-user": "writer"})
    reader = get_client(url=server.url, headers={"x-user": "reader"})
    await writer.store.put_item(["n"], "a", {"public": True})
    await writer.store.put_item(["n"], "b", {"public": False})
    assert [i["key"] for i in (await reader.store.search_items(["n"]))["items"]] == ["a"]
    # a client filter that contradicts the auth filter finds nothing, never more
    contradicting = await reader.store.search_items(["n"], filter={"public": False})
    assert contradicting["items"] == []
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await reader.store.put_item(["n"], "c", {"public": True})
    assert (_status(refused), refused.value.response.json()["detail"]) == (
        403,
        "readers cannot write",
    )
    with pytest.raises(httpx.HTTPStatusError) as asserted:
        await writer.threads.create()
    assert _status(asserted) == 403
    # the assertion's message (pytest's rewriting of this module appends its own detail)
    assert asserted.value.response.json()["detail"].startswith("give the thread a topic")
    assert (await writer.threads.create(metadata={"topic": "t"}))["metadata"] == {"topic": "t"}


async def test_websocket_runs_authenticate_with_the_first_frame(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b"]))}, auth=owner_auth())
    ada = _client(server, "tok-ada-123")
    thread = await ada.threads.create()
    url = server.url.replace("http", "ws") + "/ws"
    run = {"assistant_id": "agent", "input": HUMAN, "thread_id": thread["thread_id"]}

    async def frames(first: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        async with connect(url) as ws:
            await ws.send(json.dumps(first))
            got = await _frames(ws)
        return got, ws.close_code

    got, code = await frames(run)
    assert code == 4401 and got[0]["data"]["detail"] == "unknown token"
    got, code = await frames({**run, "authorization": "Bearer tok-bob-456"})
    assert code == 4404  # bob's socket cannot run on ada's thread
    got, code = await frames({**run, "authorization": "Bearer tok-ada-123"})
    assert code == 1000 and got[-1]["event"] == "end"
    state = await ada.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "ab"


def test_filters_follow_langgraphs_rules() -> None:
    meta = {"owner": "ada", "tags": ["a", "b"], "n": 1}
    assert filter_matches(meta, None) and filter_matches(meta, {})
    assert filter_matches(meta, {"owner": "ada", "n": {"$eq": 1}})
    assert not filter_matches(meta, {"owner": "bob"})
    assert not filter_matches(meta, {"missing": None})
    assert filter_matches(meta, {"tags": {"$contains": "a"}})
    assert filter_matches(meta, {"tags": {"$contains": ["a", "b"]}})
    assert not filter_matches(meta, {"tags": {"$contains": ["a", "c"]}})
    assert not filter_matches(meta, {"owner": {"$contains": "a"}})  # not a list
    assert filter_matches(meta, {"$or": [{"owner": "bob"}, {"n": 1}]})
    assert not filter_matches(meta, {"$and": [{"owner": "ada"}, {"n": 2}]})
    assert not filter_matches(meta, {"$or": [{"owner": "bob"}, {"n": 2}], "owner": "ada"})
    deep = {"$or": [{"$or": [{"$or": [{"n": 1}, {"n": 2}]}, {"n": 3}]}, {"n": 4}]}
    with pytest.raises(AuthRefused) as too_deep:
        filter_matches(meta, deep)
    assert too_deep.value.status == 500
    with pytest.raises(AuthRefused):
        filter_matches(meta, {"$or": [{"n": 1}]})


def test_bad_auth_configurations_are_refused_when_the_app_is_made() -> None:
    graphs = {"agent": chat_graph(ScriptedChat(tokens=["a"]))}
    with pytest.raises(ValueError, match="not both"):
        create_app(graphs, auth=owner_auth(), api_token="a-long-token")
    with pytest.raises(ValueError, match=r"no @auth\.authenticate"):
        create_app(graphs, auth=Auth())
    odd = Auth()

    @odd.authenticate
    async def needs_a_cookie_jar(jar: Any) -> str:
        return "x"

    with pytest.raises(ValueError, match="jar"):
        create_app(graphs, auth=odd)
    with pytest.raises(TypeError, match=r"langgraph_sdk\.Auth"):
        create_app(graphs, auth=object())


# --- assistants ------------------------------------------------------------------------------
async def test_assistants_are_owned_and_hidden_from_other_users(serve: Any) -> None:
    """The global handler covers ``assistants`` too (langgraph-api's precedence): a created
    assistant is stamped and only its owner reads, changes, runs or deletes it; the served
    graphs' system assistants stay runnable by everyone."""
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["hi"]))}, auth=owner_auth())
    ada, bob = _client(server, "tok-ada-123"), _client(server, "tok-bob-456")
    made = await ada.assistants.create("agent", name="mine", metadata={"team": "x"})
    aid = made["assistant_id"]
    assert made["metadata"] == {"team": "x", "owner": "ada"}
    assert (await ada.assistants.get(aid))["name"] == "mine"
    assert [a["assistant_id"] for a in await ada.assistants.search()] == [aid]
    assert await ada.assistants.count() == 1
    assert await bob.assistants.search() == [] and await bob.assistants.count() == 0

    hidden = [
        lambda: bob.assistants.get(aid),
        lambda: bob.assistants.update(aid, name="taken"),
        lambda: bob.assistants.get_versions(aid),
        lambda: bob.assistants.set_latest(aid, 1),
        lambda: bob.assistants.get_graph(aid),
        lambda: bob.assistants.get_schemas(aid),
        lambda: bob.assistants.delete(aid),
        lambda: bob.runs.wait(None, aid, input=HUMAN),
    ]
    for call in hidden:
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await call()
        assert _status(exc) == 404
    # someone else's id is taken, whatever if_exists says
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.assistants.create("agent", assistant_id=aid, if_exists="do_nothing")
    assert _status(exc) == 409

    assert (await ada.assistants.update(aid, name="renamed"))["version"] == 2
    assert [v["version"] for v in await ada.assistants.get_versions(aid)] == [2, 1]
    out = await ada.runs.wait(None, aid, input=HUMAN)
    assert out["messages"][-1]["content"] == "hi"
    # the system assistant needs no read permission (langgraph-api skips the check)
    assert (await bob.runs.wait(None, "agent", input=HUMAN))["messages"][-1]["content"] == "hi"
    await ada.assistants.delete(aid)
    assert await ada.assistants.count() == 0

    # bob's threads:delete handler refuses: deleting his assistant with delete_threads keeps
    # the thread he ran on it, as langgraph-api's cascade skips what the caller may not delete
    his = await bob.assistants.create("agent")
    kept = await bob.threads.create()
    await bob.runs.wait(kept["thread_id"], his["assistant_id"], input=HUMAN)
    async with httpx.AsyncClient(base_url=server.url) as http:
        gone = await http.delete(
            f"/assistants/{his['assistant_id']}",
            params={"delete_threads": "true"},
            headers={"Authorization": "Bearer tok-bob-456"},
        )
    assert gone.status_code == 204
    assert await bob.assistants.count() == 0
    assert (await bob.threads.get(kept["thread_id"]))["metadata"]["assistant_id"] == (
        his["assistant_id"]
    )


async def test_assistant_handlers_are_the_most_specific_and_cascades_take_owned_threads(
    serve: Any,
) -> None:
    auth = owner_auth()

    @auth.on.assistants.create
    async def members_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Any:
        if ctx.user.identity != "ada":
            raise Auth.exceptions.HTTPException(status_code=403, detail="ask ada")
        value["metadata"] = {**value["metadata"], "owner": ctx.user.identity, "made": "here"}
        return None

    server = serve({"agent": chat_graph(ScriptedChat(tokens=["hi"]))}, auth=auth)
    ada, bob = _client(server, "tok-ada-123"), _client(server, "tok-bob-456")
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.assistants.create("agent")
    assert (_status(exc), exc.value.response.json()) == (403, {"detail": "ask ada"})
    made = await ada.assistants.create("agent", metadata={})
    assert made["metadata"] == {"owner": "ada", "made": "here"}

    # the cascade takes the threads the caller may delete
    kept = await ada.threads.create()
    await ada.runs.wait(kept["thread_id"], made["assistant_id"], input=HUMAN)
    assert (await ada.threads.get(kept["thread_id"]))["metadata"]["assistant_id"] == (
        made["assistant_id"]
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        gone = await http.delete(
            f"/assistants/{made['assistant_id']}",
            params={"delete_threads": "true"},
            headers={"Authorization": "Bearer tok-ada-123"},
        )
    assert gone.status_code == 204
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await ada.threads.get(kept["thread_id"])
    assert _status(exc) == 404  # ada may delete her threads: it went with the assistant
