"""The assistant routes: the served graphs as the Platform's assistants, their drawing
(``get_graph``, with ``xray``), their JSON schemas and their subgraphs'. Both engines'
graphs answer the same introspection calls, so the shapes are langgraph-api's."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from streamtap.server._graphs import GraphEntry
from streamtap.server._http import ApiBase, ApiError, json_response

__all__ = ["AssistantRoutes"]


def _flag(value: str | None) -> int | bool:
    """``xray`` as the SDK sends it: ``true`` / ``false`` or a depth."""
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() == "true":
        return True
    if value.isdigit():
        return int(value)
    raise ApiError(422, "xray must be true, false or a depth", fields=["xray"])


def _state_schema(graph: Any) -> dict[str, Any] | None:
    """The JSON schema of the graph's whole state (every key optional, as langgraph-api's)."""
    builder = getattr(graph, "builder", None)
    state = getattr(builder, "state_schema", None)
    if state is None:
        return None
    if not type(graph).__module__.startswith("langgraph."):
        from streamtap.graph._json_schema import json_schema

        return json_schema(builder, state, graph.get_name("State"))
    from pydantic import create_model

    channels = getattr(graph, "channels", {})
    fields: dict[str, Any] = {
        key: (getattr(channels.get(key), "UpdateType", Any), None)
        for key in getattr(graph, "stream_channels_list", ())
    }
    model: Any = create_model(graph.get_name("State"), **fields)
    return model.model_json_schema()  # type: ignore[no-any-return]


def _schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    context = getattr(graph, "get_context_jsonschema", None)
    return {
        "graph_id": graph_id,
        "input_schema": graph.get_input_jsonschema(),
        "output_schema": graph.get_output_jsonschema(),
        "state_schema": _state_schema(graph),
        # LangGraph 1.0 deprecated config schemas for context ones
        "config_schema": None,
        "context_schema": context() if callable(context) else None,
    }


class AssistantRoutes(ApiBase):
    """``/assistants/search``, ``/assistants/{id}``, ``.../graph``, ``.../schemas``,
    ``.../subgraphs[/{namespace}]``."""

    def _assistant(self, entry: GraphEntry) -> dict[str, Any]:
        return {
            "assistant_id": entry.assistant_id,
            "graph_id": entry.graph_id,
            "name": entry.graph_id,
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
            "version": 1,
            "description": None,
        }

    async def search_assistants(self, request: Request) -> Response:
        await self._body(request)
        return json_response([self._assistant(e) for e in self.manager.graphs.values()])

    async def get_assistant(self, request: Request) -> Response:
        return json_response(self._assistant(self._entry(request.path_params["assistant_id"])))

    async def assistant_graph(self, request: Request) -> Response:
        entry = self._entry(request.path_params["assistant_id"])
        xray = _flag(request.query_params.get("xray"))
        drawn = await entry.stateless.aget_graph(xray=xray)
        return json_response(drawn.to_json())

    async def assistant_schemas(self, request: Request) -> Response:
        entry = self._entry(request.path_params["assistant_id"])
        return json_response(_schemas(entry.graph_id, entry.stateless))

    async def assistant_subgraphs(self, request: Request) -> Response:
        entry = self._entry(request.path_params["assistant_id"])
        namespace = request.path_params.get("namespace")
        recurse = request.query_params.get("recurse", "").lower() in ("true", "1")
        found = {
            ns: _schemas(entry.graph_id, sub)
            async for ns, sub in entry.stateless.aget_subgraphs(
                namespace=namespace, recurse=recurse
            )
        }
        return json_response(found)
