"""Assistants' drawings, schemas and subgraphs through the official SDK, for a
streamtap.graph graph and a LangGraph graph: what each graph itself answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph_sdk import get_client
from typing_extensions import TypedDict

from streamtap.server._serde import dumps


class S(TypedDict, total=False):
    topic: str
    draft: str


class Ctx(TypedDict):
    user: str


def _graphs(engine: str) -> Any:
    if engine == "langgraph":
        from langgraph.graph import START, StateGraph
    else:
        from streamtap.graph import START, StateGraph  # type: ignore[assignment]
    inner = StateGraph(S).add_node("write", lambda s: {"draft": "d"}).add_edge(START, "write")
    outer = StateGraph(S, context_schema=Ctx)
    outer.add_node("plan", lambda s: {"topic": "t"})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "plan").add_edge("plan", "sub")
    return outer.compile()


@pytest.mark.parametrize("engine", ["streamtap", "langgraph"])
async def test_graph_schemas_and_subgraphs_are_the_graphs_own(serve: Any, engine: str) -> None:
    graph = _graphs(engine)
    server = serve({"writer": graph})
    client = get_client(url=server.url, api_key=None)
    assistant = (await client.assistants.search())[0]
    aid = assistant["assistant_id"]
    assert (await client.assistants.get(aid))["graph_id"] == "writer"

    def own(value: Any) -> Any:
        return json.loads(dumps(value))

    assert await client.assistants.get_graph(aid) == own(graph.get_graph().to_json())
    deep = await client.assistants.get_graph("writer", xray=True)
    assert deep == own(graph.get_graph(xray=True).to_json())
    assert any(n["id"] == "sub:write" for n in deep["nodes"])

    schemas = await client.assistants.get_schemas(aid)
    assert schemas["graph_id"] == "writer"
    assert schemas["input_schema"] == graph.get_input_jsonschema()
    assert schemas["output_schema"] == graph.get_output_jsonschema()
    assert schemas["context_schema"] == graph.get_context_jsonschema()
    assert set(schemas["state_schema"]["properties"]) == {"topic", "draft"}

    subgraphs = await client.assistants.get_subgraphs(aid)
    assert list(subgraphs) == ["sub"]
    assert subgraphs["sub"]["output_schema"] == own(
        dict(graph.get_subgraphs())["sub"].get_output_jsonschema()
    )
    assert list(await client.assistants.get_subgraphs(aid, namespace="sub")) == ["sub"]
    assert await client.assistants.get_subgraphs(aid, namespace="nope") == {}
