"""The thread routes: create, search, read, delete, state and history (LangGraph
Platform's shapes), mixed into the app's route handlers."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from streamtap.server._auth import filter_matches
from streamtap.server._graphs import GraphEntry
from streamtap.server._http import ApiBase, ApiError, json_response
from streamtap.server._records import ThreadRecord
from streamtap.server._schema import HistoryQuery, ThreadCreate, ThreadSearch, _Body

__all__ = ["ThreadRoutes"]


class _StateUpdate(_Body):
    values: Any = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class _StateAt(_Body):
    checkpoint: dict[str, Any]
    subgraphs: bool = False


class _Patch(_Body):
    metadata: dict[str, Any] | None = None


class ThreadRoutes(ApiBase):
    """``/threads`` and ``/threads/{id}`` (runs on a thread are the app's own routes)."""

    async def create_thread(self, request: Request) -> Response:
        spec = self._validate(ThreadCreate, await self._body(request))
        value: dict[str, Any] = {
            "thread_id": spec.thread_id,
            "metadata": dict(spec.metadata or {}),
            "if_exists": spec.if_exists,
        }
        filters = await self._authorize(request, "threads", "create", value)
        if spec.thread_id is not None:
            existing = await self.backend.get_thread(spec.thread_id)
            if existing is not None:
                if spec.if_exists == "do_nothing" and filter_matches(existing.metadata, filters):
                    return json_response(existing.to_json())
                raise ApiError(409, f"Thread {spec.thread_id!r} already exists")
        thread = ThreadRecord(
            thread_id=spec.thread_id or str(uuid.uuid4()), metadata=value["metadata"] or {}
        )
        await self.backend.put_thread(thread)
        return json_response(thread.to_json())

    async def search_threads(self, request: Request) -> Response:
        spec = self._validate(ThreadSearch, await self._body(request))
        value = {
            "metadata": spec.metadata or {},
            "status": spec.status,
            "limit": spec.limit,
            "offset": spec.offset,
        }
        filters = await self._authorize(request, "threads", "search", value)
        found = [
            t
            for t in await self.backend.list_threads()
            if filter_matches(t.metadata, filters)
            and (spec.status is None or t.status == spec.status)
            and all(t.metadata.get(k) == v for k, v in (spec.metadata or {}).items())
        ]
        return json_response([t.to_json() for t in found[spec.offset : spec.offset + spec.limit]])

    async def get_thread(self, request: Request) -> Response:
        thread = await self._owned_thread(request, request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if entry is None:
            return json_response(thread.to_json())
        state = await entry.state(thread.thread_id, secrets=self.manager.secrets)
        # the Platform's thread interrupts: task id -> the interrupts that task raised
        interrupts = {t["id"]: t["interrupts"] for t in state["tasks"] if t["interrupts"]}
        return json_response(thread.to_json(values=state["values"], interrupts=interrupts))

    async def delete_thread(self, request: Request) -> Response:
        thread = await self._owned_thread(request, request.path_params["thread_id"], "delete")
        await self._forget_thread(thread.thread_id)
        return Response(status_code=204)

    async def _graph_of(
        self, request: Request, action: str = "read"
    ) -> tuple[ThreadRecord, GraphEntry]:
        thread = await self._owned_thread(request, request.path_params["thread_id"], action)
        entry = self._thread_graph(thread)
        if entry is None:
            raise ApiError(
                422,
                "This server serves several graphs; create the thread with "
                "metadata.graph_id to read its state",
                fields=["metadata.graph_id"],
            )
        return thread, entry

    async def thread_state(self, request: Request) -> Response:
        thread, entry = await self._graph_of(request)
        subgraphs = request.query_params.get("subgraphs") in ("1", "true", "True")
        secrets = self.manager.secrets
        checkpoint_id = request.path_params.get("checkpoint_id")
        if checkpoint_id is not None:  # GET /threads/{id}/state/{checkpoint_id}
            at = {"checkpoint_id": checkpoint_id}
            state = await entry.state_at(thread.thread_id, at, subgraphs=subgraphs, secrets=secrets)
            return json_response(state)
        return json_response(
            await entry.state(thread.thread_id, subgraphs=subgraphs, secrets=secrets)
        )

    async def thread_state_at(self, request: Request) -> Response:
        """``POST /threads/{id}/state/checkpoint``: the state at a ``checkpoint`` object."""
        thread, entry = await self._graph_of(request)
        body = self._validate(_StateAt, await self._body(request))
        state = await entry.state_at(
            thread.thread_id,
            body.checkpoint,
            subgraphs=body.subgraphs,
            secrets=self.manager.secrets,
        )
        return json_response(state)

    async def update_thread_state(self, request: Request) -> Response:
        """``POST /threads/{id}/state``: the SDK's ``update_state`` (``as_node``, at a
        ``checkpoint``); answers the new checkpoint."""
        thread, entry = await self._graph_of(request, "update")
        body = self._validate(_StateUpdate, await self._body(request))
        if any(not r.done for r in await self.backend.list_runs(thread.thread_id)):
            raise ApiError(409, f"Thread {thread.thread_id!r} is busy with a run")
        at = dict(body.checkpoint or {})
        if body.checkpoint_id:
            at["checkpoint_id"] = body.checkpoint_id
        new = await entry.update_state(
            thread.thread_id, body.values, as_node=body.as_node, checkpoint=at
        )
        state = await entry.state(thread.thread_id)
        status = "interrupted" if state["next"] or state["interrupts"] else "idle"
        await self.backend.update_thread(thread.thread_id, status=status)
        return json_response({"checkpoint": new})

    async def copy_thread(self, request: Request) -> Response:
        """``POST /threads/{id}/copy``: a new thread with the same metadata and history."""
        thread, entry = await self._graph_of(request)
        value: dict[str, Any] = {
            "thread_id": str(uuid.uuid4()),
            "metadata": dict(thread.metadata),
        }
        await self._authorize(request, "threads", "create", value)
        copy = ThreadRecord(
            thread_id=value["thread_id"], metadata=value["metadata"], status=thread.status
        )
        await entry.copy_thread(thread.thread_id, copy.thread_id)
        await self.backend.put_thread(copy)
        return json_response(copy.to_json())

    async def patch_thread(self, request: Request) -> Response:
        """``PATCH /threads/{id}``: ``metadata`` merged into the thread's."""
        body = self._validate(_Patch, await self._body(request))
        thread_id = request.path_params["thread_id"]
        value = {"thread_id": thread_id, "metadata": dict(body.metadata or {})}
        thread = await self._owned_thread(request, thread_id, "update", value)
        merged = {**thread.metadata, **(value["metadata"] or {})}
        updated = await self.backend.update_thread(thread.thread_id, metadata=merged)
        return json_response((updated or thread).to_json())

    async def thread_history(self, request: Request) -> Response:
        """``POST`` (body) or ``GET`` (query ``limit`` / ``before``) the thread's states,
        newest first: what ``useStream`` loads to show a thread and branch from it."""
        thread = await self._owned_thread(request, request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if request.method == "GET":
            params = dict(request.query_params)
            query = self._validate(HistoryQuery, params)
        else:
            query = self._validate(HistoryQuery, await self._body(request))
        if entry is None:
            return json_response([])  # no run yet on a thread of a several-graph server: no states
        states = await entry.history(
            thread.thread_id,
            limit=query.limit,
            before=query.before_id,
            metadata=query.metadata,
            checkpoint=query.checkpoint,
            secrets=self.manager.secrets,
        )
        return json_response(states)
