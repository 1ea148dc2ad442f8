"""The assistant routes, langgraph-api's: the served graphs as system assistants, the
assistants a client creates on them (``POST /assistants``, with ``config`` / ``context`` /
``metadata`` every run with their id inherits), versions (each ``PATCH`` is one,
``/latest`` picks one), search / count, delete, and each assistant's graph drawing
(``xray``), JSON schemas and subgraphs (its graph's). Both engines' graphs answer the same
introspection calls, so the shapes are langgraph-api's. Assistants live in
``manager.assistants`` (``_assistants_store``)."""

from __future__ import annotations

import copy
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from streamtap.server._assistants_store import (
    Assistant,
    AssistantExists,
    contains,
    inherit,
    new_assistant,
)
from streamtap.server._auth import AuthRefused, filter_matches
from streamtap.server._graphs import GraphEntry
from streamtap.server._http import ApiBase, ApiError, json_response
from streamtap.server._records import ThreadRecord
from streamtap.server._schema import RunRequest, check_config

__all__ = ["AssistantRoutes"]

SortBy = Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"]
SelectField = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Configured(_Body):
    """``config`` checked as a run's is (the Platform validates both with one schema)."""

    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None

    @field_validator("config")
    @classmethod
    def _config_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_config(value)


class AssistantCreate(_Configured):
    graph_id: str = Field(min_length=1)
    assistant_id: str | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None

    @field_validator("assistant_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID (leave it out and the server picks one)") from None


class AssistantPatch(_Configured):
    graph_id: str | None = Field(default=None, min_length=1)


class AssistantCount(_Body):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None


class AssistantSearch(AssistantCount):
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: SortBy | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[SelectField] | None = None


class VersionSearch(_Body):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class VersionChange(_Body):
    version: int = Field(ge=1)


def _reconcile(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """langgraph-api keeps an assistant's ``config.configurable`` and ``context`` equal:
    whichever is given fills the other; both at once is refused (400, its status)."""
    config = copy.deepcopy(config or {})
    configurable = config.get("configurable")
    if configurable and context:
        raise ApiError(
            400,
            "Give config.configurable or context, not both: context (LangGraph 0.6+) is "
            "what replaces configurable; the server copies one into the other",
            fields=["config.configurable", "context"],
        )
    if configurable:
        return config, dict(configurable)
    if context:
        config["configurable"] = dict(context)
    return config, context


def _sort_key(field: str) -> Any:
    if field in ("name", "graph_id"):  # case-insensitive, as langgraph-api sorts them
        return lambda a: str(a.get(field) or "").lower()
    return lambda a: a.get(field) or ""


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
    """``/assistants`` (create), ``/assistants/search``, ``/assistants/count``,
    ``/assistants/{id}`` (get, patch, delete), ``.../versions``, ``.../latest``,
    ``.../graph``, ``.../schemas``, ``.../subgraphs[/{namespace}]``."""

    # ------------------------------------------------------------------ lookup

    def _assistant_key(self, assistant_id: str) -> str:
        """The stored id: a served graph's name stands for its system assistant."""
        entry = self.manager.graphs.get(assistant_id)
        return entry.assistant_id if entry is not None else assistant_id

    async def _assistant(
        self,
        assistant_id: str,
        conn: HTTPConnection | None = None,
        action: str = "read",
        value: dict[str, Any] | None = None,
    ) -> Assistant:
        """The assistant, if the caller may ``action`` it: with custom auth, the
        ``assistants`` handler decides, and one its filter hides answers 404 exactly as a
        missing one does (langgraph-api's rule)."""
        key = self._assistant_key(assistant_id)
        filters = None
        if conn is not None:
            asked = value if value is not None else {"assistant_id": key}
            filters = await self._authorize(conn, "assistants", action, asked)
        found = await self.manager.assistants.get(key)
        if found is None or not filter_matches(found["metadata"], filters):
            raise ApiError(
                404,
                f"Assistant {assistant_id!r} not found; create one with POST /assistants, "
                f"or use a served graph id: {sorted(self.manager.graphs)}",
            )
        return found

    def _graph(self, graph_id: str) -> GraphEntry:
        entry = self.manager.graphs.get(graph_id)
        if entry is None:
            raise ApiError(
                404, f"Graph {graph_id!r} not found. Expected one of: {sorted(self.manager.graphs)}"
            )
        return entry

    async def _assistant_graph(self, request: Request) -> tuple[dict[str, Any], GraphEntry]:
        found = await self._assistant(request.path_params["assistant_id"], request)
        return found, self._graph(found["graph_id"])

    async def run_assistant(
        self, req: RunRequest, conn: HTTPConnection | None = None
    ) -> tuple[RunRequest, GraphEntry]:
        """What a run with ``req.assistant_id`` runs: the assistant's graph, with its
        ``config`` / ``context`` under the run's own (langgraph-api's merge); the entry
        carries the assistant's id, so the run and its thread record it. With custom
        auth, a created assistant the caller may not read is not found (langgraph-api
        checks ``assistants:read`` for every assistant but the system ones)."""
        found = await self._assistant(req.assistant_id)
        if conn is not None and found["metadata"].get("created_by") != "system":
            found = await self._assistant(req.assistant_id, conn)
        entry = self._graph(found["graph_id"])
        config, context = inherit(found, req.config, req.context)
        req = req.model_copy(update={"config": config, "context": context})
        if entry.assistant_id != found["assistant_id"]:
            entry = copy.copy(entry)  # shares the graphs and saver; only the id differs
            entry.assistant_id = found["assistant_id"]
        return req, entry

    # ------------------------------------------------------------------ CRUD

    async def create_assistant(self, request: Request) -> Response:
        spec = self._validate(AssistantCreate, await self._body(request))
        aid = spec.assistant_id or str(uuid.uuid4())
        value: dict[str, Any] = {
            "assistant_id": aid,
            "graph_id": spec.graph_id,
            "config": spec.config or {},
            "context": spec.context or {},
            "metadata": dict(spec.metadata or {}),
            "if_exists": spec.if_exists or "raise",
            "name": spec.name or "Untitled",
        }
        filters = await self._authorize(request, "assistants", "create", value)
        self._graph(spec.graph_id)
        config, context = _reconcile(spec.config, spec.context)
        assistant = new_assistant(
            assistant_id=aid,
            graph_id=spec.graph_id,
            config=config,
            context=context,
            metadata=value["metadata"] or {},  # as the handler left it (an owner stamp)
            name=spec.name,
            description=spec.description,
        )
        existing = await self.manager.assistants.get(aid) if filters else None
        if existing is not None and not filter_matches(existing["metadata"], filters):
            raise ApiError(409, f"Assistant {aid} already exists")  # someone else's
        try:
            made = await self.manager.assistants.create(
                assistant, if_exists=spec.if_exists or "raise"
            )
        except AssistantExists:
            raise ApiError(
                409,
                f"Assistant {assistant['assistant_id']} already exists; pass "
                "if_exists='do_nothing' to get it back, or PATCH it to change it",
            ) from None
        return json_response(made)

    async def get_assistant(self, request: Request) -> Response:
        return json_response(await self._assistant(request.path_params["assistant_id"], request))

    async def update_assistant(self, request: Request) -> Response:
        """``PATCH``: a new version (the latest); what the body leaves out is kept,
        ``metadata`` is merged in."""
        spec = self._validate(AssistantPatch, await self._body(request))
        key = self._assistant_key(request.path_params["assistant_id"])
        value: dict[str, Any] = {
            "assistant_id": key,
            "graph_id": spec.graph_id,
            "config": spec.config or {},
            "context": spec.context or {},
            "metadata": dict(spec.metadata or {}),
            "name": spec.name,
            "version": None,
        }
        await self._assistant(key, request, "update", value)
        if spec.metadata is not None or value["metadata"]:
            spec = spec.model_copy(update={"metadata": value["metadata"]})
        if spec.graph_id is not None:
            self._graph(spec.graph_id)
        config, context = _reconcile(spec.config, spec.context)
        changes = {**spec.model_dump(exclude_none=True), "config": config, "context": context}
        updated = await self.manager.assistants.update(key, changes)
        if updated is None:  # deleted meanwhile
            await self._assistant(key)
        return json_response(updated)

    async def delete_assistant(self, request: Request) -> Response:
        """Forget the assistant and its versions, cancel its runs going on threads and,
        with ``delete_threads=true``, delete the threads it ran on. A system assistant
        may be deleted too (langgraph-api's rule); it is back at the next start."""
        key = self._assistant_key(request.path_params["assistant_id"])
        found = await self._assistant(key, request, "delete", {"assistant_id": key})
        aid = found["assistant_id"]
        purge = request.query_params.get("delete_threads", "").lower() in ("true", "1")
        for thread in await self.backend.list_threads():
            for run in await self.backend.list_runs(thread.thread_id):
                if run.assistant_id == aid and not run.done:
                    await self.manager.cancel(run.run_id)
            if (
                purge
                and thread.metadata.get("assistant_id") == aid
                and await self._may_delete(request, thread)
            ):
                await self._forget_thread(thread.thread_id)
        await self.manager.assistants.delete(aid)
        return Response(status_code=204)

    async def _may_delete(self, request: Request, thread: ThreadRecord) -> bool:
        """A thread the cascade of ``delete_threads`` may take: langgraph-api deletes each
        as the caller and skips those the ``threads:delete`` handler refuses or hides."""
        try:
            value = {"thread_id": thread.thread_id}
            filters = await self._authorize(request, "threads", "delete", value)
        except AuthRefused:
            return False
        return filter_matches(thread.metadata, filters)

    async def search_assistants(self, request: Request) -> Response:
        """Newest first by default (``created_at``); ``X-Pagination-Next`` / ``-Total``
        headers as langgraph-api's, which the SDK's ``response_format="object"`` reads."""
        spec = self._validate(AssistantSearch, await self._body(request))
        found = await self._found(request, spec, spec.limit, spec.offset)
        field = spec.sort_by or "created_at"
        found.sort(key=_sort_key(field), reverse=spec.sort_order != "asc")
        page = found[spec.offset : spec.offset + spec.limit]
        if spec.select:
            page = [{k: v for k, v in a.items() if k in spec.select} for a in page]
        more = len(found) > spec.offset + spec.limit
        nxt = spec.offset + spec.limit
        headers = (
            {"X-Pagination-Total": str(nxt + 1), "X-Pagination-Next": str(nxt)}
            if more
            else {"X-Pagination-Total": str(spec.offset + len(page))}
        )
        return json_response(page, headers=headers)

    async def count_assistants(self, request: Request) -> Response:
        spec = self._validate(AssistantCount, await self._body(request))
        return json_response(len(await self._found(request, spec, 0, 0)))

    async def _found(
        self, request: Request, spec: AssistantCount, limit: int, offset: int
    ) -> list[Assistant]:
        """Search and count alike: the store's matches the ``assistants:search`` filter
        passes (the handler may also narrow the client's own ``metadata``)."""
        value: dict[str, Any] = {
            "graph_id": spec.graph_id,
            "metadata": dict(spec.metadata or {}),
            "limit": limit,
            "offset": offset,
        }
        filters = await self._authorize(request, "assistants", "search", value)
        if spec.graph_id is not None:
            self._graph(spec.graph_id)
        found = await self.manager.assistants.search(
            graph_id=spec.graph_id, name=spec.name, metadata=value["metadata"] or None
        )
        return [a for a in found if filter_matches(a["metadata"], filters)]

    async def assistant_versions(self, request: Request) -> Response:
        """Newest version first; 404 when none matches, as langgraph-api answers."""
        spec = self._validate(VersionSearch, await self._body(request))
        key = self._assistant_key(request.path_params["assistant_id"])
        filters = await self._authorize(request, "assistants", "read", {"assistant_id": key})
        versions = await self.manager.assistants.versions(key) or []
        versions = [
            v
            for v in versions
            if (not spec.metadata or contains(v["metadata"], spec.metadata))
            and filter_matches(v["metadata"], filters)
        ]
        versions.sort(key=lambda v: v["version"], reverse=True)
        page = versions[spec.offset : spec.offset + spec.limit]
        if not page:
            raise ApiError(404, f"Assistant {request.path_params['assistant_id']!r} not found")
        return json_response(page)

    async def set_latest_version(self, request: Request) -> Response:
        """``POST .../latest``: the assistant is that version again (no new version)."""
        spec = self._validate(VersionChange, await self._body(request))
        key = self._assistant_key(request.path_params["assistant_id"])
        value = {"assistant_id": key, "version": spec.version}
        found = await self._assistant(key, request, "update", value)
        aid = found["assistant_id"]
        chosen = await self.manager.assistants.set_latest(aid, spec.version)
        if chosen is None:
            raise ApiError(
                404,
                f"Version {spec.version} not found for assistant {aid}; "
                "POST /assistants/{assistant_id}/versions lists them",
            )
        return json_response(chosen)

    # ------------------------------------------------------------------ introspection

    async def assistant_graph(self, request: Request) -> Response:
        _, entry = await self._assistant_graph(request)
        xray = _flag(request.query_params.get("xray"))
        drawn = await entry.stateless.aget_graph(xray=xray)
        return json_response(drawn.to_json())

    async def assistant_schemas(self, request: Request) -> Response:
        _, entry = await self._assistant_graph(request)
        return json_response(_schemas(entry.graph_id, entry.stateless))

    async def assistant_subgraphs(self, request: Request) -> Response:
        _, entry = await self._assistant_graph(request)
        namespace = request.path_params.get("namespace")
        recurse = request.query_params.get("recurse", "").lower() in ("true", "1")
        found = {
            ns: _schemas(entry.graph_id, sub)
            async for ns, sub in entry.stateless.aget_subgraphs(
                namespace=namespace, recurse=recurse
            )
        }
        return json_response(found)
