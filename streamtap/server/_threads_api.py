"""The thread routes: create, search, read, delete, state and history (LangGraph
Platform's shapes), mixed into the app's route handlers."""

from __future__ import annotations

import contextlib
import uuid

from starlette.requests import Request
from starlette.responses import Response

from streamtap.server._http import ApiBase, ApiError, json_response
from streamtap.server._records import ThreadRecord
from streamtap.server._schema import HistoryQuery, ThreadCreate, ThreadSearch

__all__ = ["ThreadRoutes"]


class ThreadRoutes(ApiBase):
    """``/threads`` and ``/threads/{id}`` (runs on a thread are the app's own routes)."""

    async def create_thread(self, request: Request) -> Response:
        spec = self._validate(ThreadCreate, await self._body(request))
        if spec.thread_id is not None:
            existing = await self.backend.get_thread(spec.thread_id)
            if existing is not None:
                if spec.if_exists == "do_nothing":
                    return json_response(existing.to_json())
                raise ApiError(409, f"Thread {spec.thread_id!r} already exists")
        thread = ThreadRecord(
            thread_id=spec.thread_id or str(uuid.uuid4()), metadata=spec.metadata or {}
        )
        await self.backend.put_thread(thread)
        return json_response(thread.to_json())

    async def search_threads(self, request: Request) -> Response:
        spec = self._validate(ThreadSearch, await self._body(request))
        found = [
            t
            for t in await self.backend.list_threads()
            if (spec.status is None or t.status == spec.status)
            and all(t.metadata.get(k) == v for k, v in (spec.metadata or {}).items())
        ]
        return json_response([t.to_json() for t in found[spec.offset : spec.offset + spec.limit]])

    async def get_thread(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if entry is None:
            return json_response(thread.to_json())
        state = await entry.state(thread.thread_id, secrets=self.manager.secrets)
        # the Platform's thread interrupts: task id -> the interrupts that task raised
        interrupts = {t["id"]: t["interrupts"] for t in state["tasks"] if t["interrupts"]}
        return json_response(thread.to_json(values=state["values"], interrupts=interrupts))

    async def delete_thread(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        for entry in self.manager.graphs.values():
            with contextlib.suppress(Exception):
                entry.delete_thread(thread.thread_id)
        await self.backend.delete_thread(thread.thread_id)
        return Response(status_code=204)

    async def thread_state(self, request: Request) -> Response:
        thread = await self._thread(request.path_params["thread_id"])
        entry = self._thread_graph(thread)
        if entry is None:
            raise ApiError(
                422,
                "This server serves several graphs; create the thread with "
                "metadata.graph_id to read its state",
                fields=["metadata.graph_id"],
            )
        subgraphs = request.query_params.get("subgraphs") in ("1", "true", "True")
        secrets = self.manager.secrets
        return json_response(
            await entry.state(thread.thread_id, subgraphs=subgraphs, secrets=secrets)
        )

    async def thread_history(self, request: Request) -> Response:
        """``POST`` (body) or ``GET`` (query ``limit`` / ``before``) the thread's states,
        newest first: what ``useStream`` loads to show a thread and branch from it."""
        thread = await self._thread(request.path_params["thread_id"])
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
