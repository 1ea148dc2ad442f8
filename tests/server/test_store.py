"""The store API (``client.store``) on the app's LangGraph store, shared with the graphs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph.store.memory import InMemoryStore
from langgraph_sdk import get_client
from typing_extensions import TypedDict

from streamtap.graph import START, StateGraph
from streamtap.graph.runtime import Runtime


class S(TypedDict, total=False):
    user: str
    note: str


def _notes_graph() -> Any:
    async def remember(state: S, runtime: Runtime[None]) -> S:
        assert runtime.store is not None
        item = await runtime.store.aget(("notes", state["user"]), "latest")
        await runtime.store.aput(("notes", state["user"]), "seen", {"by": "graph"})
        return {"note": item.value["text"] if item else "nothing"}

    return StateGraph(S).add_node("remember", remember).add_edge(START, "remember").compile()


async def test_items_put_by_the_sdk_are_read_by_the_graph_and_back(serve: Any) -> None:
    store = InMemoryStore()
    server = serve({"notes": _notes_graph()}, store=store)
    client = get_client(url=server.url, api_key=None)
    await client.store.put_item(["notes", "ada"], "latest", {"text": "buy milk"})
    answer = await client.runs.wait(None, "notes", input={"user": "ada"})
    assert answer["note"] == "buy milk"
    seen = await client.store.get_item(["notes", "ada"], "seen")
    assert (seen["namespace"], seen["key"], seen["value"]) == (
        ["notes", "ada"],
        "seen",
        {"by": "graph"},
    )
    assert {"created_at", "updated_at"} <= set(seen)
    # the app's store is the one given
    assert (await store.aget(("notes", "ada"), "latest")).value == {"text": "buy milk"}


async def test_search_namespaces_and_delete(serve: Any) -> None:
    server = serve({"notes": _notes_graph()})
    client = get_client(url=server.url, api_key=None)
    for user, text in (("ada", "a"), ("bob", "b"), ("bob", "c")):
        await client.store.put_item(["notes", user], f"k-{text}", {"text": text, "user": user})
    found = await client.store.search_items(["notes"], filter={"user": "bob"})
    assert sorted(i["key"] for i in found["items"]) == ["k-b", "k-c"]
    paged = await client.store.search_items(["notes"], limit=1, offset=1)
    assert len(paged["items"]) == 1
    spaces = await client.store.list_namespaces(prefix=["notes"])
    assert sorted(spaces["namespaces"]) == [["notes", "ada"], ["notes", "bob"]]
    assert (await client.store.list_namespaces(max_depth=1))["namespaces"] == [["notes"]]
    await client.store.delete_item(["notes", "bob"], "k-b")
    with pytest.raises(httpx.HTTPStatusError) as missing:
        await client.store.get_item(["notes", "bob"], "k-b")
    assert missing.value.response.status_code == 404


async def test_bad_store_requests_are_422(serve: Any) -> None:
    server = serve({"notes": _notes_graph()})
    async with httpx.AsyncClient(base_url=server.url) as http:
        dotted = await http.put(
            "/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}}
        )
        assert dotted.status_code == 422 and dotted.json()["fields"] == ["namespace"]
        not_a_dict = await http.put(
            "/store/items", json={"namespace": ["a"], "key": "k", "value": 3}
        )
        assert not_a_dict.status_code == 422
        no_key = await http.get("/store/items", params={"namespace": "a"})
        assert no_key.status_code == 422


class Ctx(TypedDict):
    user: str


async def test_a_runs_context_reaches_a_streamtap_graph(serve: Any) -> None:
    def greet(state: S, runtime: Runtime[Ctx]) -> S:
        return {"note": f"hello {runtime.context['user']}"}

    graph = StateGraph(S, context_schema=Ctx).add_node("greet", greet).add_edge(START, "greet")
    server = serve({"greet": graph.compile()})
    client = get_client(url=server.url, api_key=None)
    answer = await client.runs.wait(None, "greet", input={"user": "x"}, context={"user": "ada"})
    assert answer["note"] == "hello ada"
