"""The Agent Streaming Protocol's thread routes, as langgraph-api 0.16.7 serves them and
``langgraph-sdk`` 0.4's thread streams call them.

* ``POST /threads/{thread_id}/commands``: one command in, one response out. Protocol
  errors are HTTP 200 with an error envelope; only a body that is not a command is 400.
* ``POST /threads/{thread_id}/stream/events`` (and the spec's ``/threads/{thread_id}/stream``):
  SSE of the thread's protocol log, filtered by the body's ``channels`` / ``namespaces`` /
  ``depth``, after ``since``; ``event:`` is the method, ``id:`` the seq. The stream covers
  every run of the thread and stays open until the client leaves.

Served: ``run.start`` (a resume when the thread waits on an interrupt, as on LangGraph's
server), ``input.respond``, ``input.inject``, ``agent.getTree``, ``state.get``,
``state.listCheckpoints``, ``state.fork``; other commands answer ``unknown_command``.
Runs go through the run manager (multitask strategies, the queue on the many-process
layout, cancel with ``POST /threads/{thread_id}/runs/{run_id}/cancel``) and write the
thread's log (``manager.protocol``: in this process, or in Redis when runs are shared).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from langchain_protocol.protocol import (
    AgentResult,
    CheckpointRef,
    CheckpointSummary,
    ListCheckpointsResult,
    RunResult,
    StateForkResult,
    StateGetResult,
)
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from streamtap.server._http import ApiBase, ApiError, json_response
from streamtap.server._proto_filter import Subscription, SubscriptionError
from streamtap.server._proto_log import Gap, follow
from streamtap.server._proto_session import agent_tree
from streamtap.server._proto_socket import NOT_A_COMMAND, error_envelope, protocol_socket
from streamtap.server._records import RunRecord
from streamtap.server._schema import RunRequest
from streamtap.server._serde import dumps

__all__ = ["ProtocolRoutes"]


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[
    ["ProtocolRoutes", HTTPConnection, str, dict[str, Any]], Awaitable[Mapping[str, Any]]
]


class ProtocolRoutes(ApiBase):
    if TYPE_CHECKING:

        async def launch(
            self, conn: HTTPConnection, req: RunRequest, thread_id: str | None
        ) -> RunRecord: ...

        async def identify(self, conn: HTTPConnection, authorization: str | None) -> None: ...

    async def _json_body(self, request: Request) -> Any:
        try:
            return await self._raw_json(request)  # size-capped
        except ApiError as exc:
            if exc.status != 422:
                raise
            raise ApiError(400, "Invalid JSON body") from None

    async def _meta(self, thread_id: str) -> dict[str, int]:
        """``applied_through_seq``: the thread's last seq (taken before a command runs)."""
        return {"applied_through_seq": await self.manager.protocol.log(thread_id).head()}

    async def thread_commands(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        body = await self._json_body(request)
        command_id = body.get("id") if isinstance(body, dict) else None
        method = body.get("method") if isinstance(body, dict) else None
        if (
            not isinstance(command_id, int)
            or isinstance(command_id, bool)
            or not isinstance(method, str)
        ):
            return json_response(error_envelope(command_id, "invalid_argument", NOT_A_COMMAND), 400)
        # the log as the command found it: a client subscribing after ``run.start`` with
        # this cursor gets the run's first events, however fast the run produced them
        meta = await self._meta(thread_id)
        try:
            result = await self.run_command(request, thread_id, method, body.get("params"))
        except CommandError as exc:
            return json_response(error_envelope(command_id, exc.code, exc.message, meta))
        return json_response({"type": "success", "id": command_id, "result": result, "meta": meta})

    async def run_command(
        self, conn: HTTPConnection, thread_id: str, method: str, params: Any
    ) -> Mapping[str, Any]:
        """One command's result (HTTP and WebSocket alike); :class:`CommandError`."""
        handler = _COMMANDS.get(method)
        if handler is None:
            raise CommandError("unknown_command", f"Unknown command: {method}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise CommandError("invalid_argument", "params must be an object")
        await self.may_read(conn, thread_id)
        return await handler(self, conn, thread_id, params)

    async def may_read(self, conn: HTTPConnection, thread_id: str) -> None:
        """With custom auth, a thread that exists must be the caller's to read (one its
        filters hide is ``no_such_run``, as a missing one); a thread not made yet is
        for ``run.start`` to create, as the caller's."""
        if self.auth is None or await self.backend.get_thread(thread_id) is None:
            return
        try:
            await self._owned_thread(conn, thread_id, "read")
        except ApiError as exc:
            if exc.status == 403:
                raise CommandError("permission_denied", str(exc.body.get("detail"))) from None
            raise CommandError("no_such_run", f"Thread {thread_id!r} not found") from None

    async def thread_socket(self, websocket: WebSocket) -> None:
        await protocol_socket(websocket, self)

    async def thread_events(self, request: Request) -> Any:
        thread_id = request.path_params["thread_id"]
        if self.auth is not None:
            await self._owned_thread(request, thread_id, "read")
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be an object with channels")
        try:
            subscription = Subscription.parse(body)
        except SubscriptionError as exc:
            raise ApiError(400, str(exc)) from None
        since = body.get("since")
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            since = 0
        log = self.manager.protocol.log(thread_id)

        async def frames() -> AsyncIterator[bytes]:
            async for item in follow(log, since, subscription):
                if isinstance(item, Gap):
                    gap = {
                        "type": "error",
                        "id": None,
                        "error": "resume_gap",
                        "message": item.message,
                        "since": item.since,
                        "min_available_seq": item.min_available_seq,
                    }
                    yield b"event: error\ndata: " + dumps(gap) + b"\n\n"
                    continue
                yield (
                    b"event: "
                    + item.method.encode()
                    + b"\ndata: "
                    + item.frame
                    + b"\nid: "
                    + str(item.seq).encode()
                    + b"\n\n"
                )

        return EventSourceResponse(
            frames(),
            ping=self.ping_interval,
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep="\n"),
            sep="\n",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ------------------------------------------------------------------ commands

    async def _launch(self, request: HTTPConnection, thread_id: str, fields: dict[str, Any]) -> str:
        try:
            req = RunRequest.model_validate(
                {**fields, "if_not_exists": "create", "on_disconnect": "continue"}
            )
        except ValueError as exc:
            raise CommandError("invalid_argument", str(exc).splitlines()[0]) from None
        req._protocol = True
        try:
            run = await self.launch(request, req, thread_id)
        except ApiError as exc:
            code = {404: "no_such_run", 409: "invalid_argument"}.get(exc.status, "invalid_argument")
            raise CommandError(code, str(exc.body.get("detail", exc))) from None
        return run.run_id

    async def _pending(self, thread_id: str) -> tuple[str | None, list[Any]]:
        """The thread's graph (assistant id) and the interrupts it waits on."""
        thread = await self.backend.get_thread(thread_id)
        if thread is None:
            return None, []
        entry = self._thread_graph(thread)
        if entry is None:
            return None, []
        state = await entry.state(thread_id, secrets=self.manager.secrets)
        return entry.graph_id, list(state.get("interrupts") or ())

    async def _run_start(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        assistant_id = params.get("assistant_id")
        if not isinstance(assistant_id, str) or not assistant_id:
            raise CommandError("invalid_argument", "run.start requires an assistant_id.")
        fields: dict[str, Any] = {"assistant_id": assistant_id}
        for key in ("config", "metadata"):
            if params.get(key) is not None:
                fields[key] = params[key]
        strategy = params.get("multitaskStrategy") or params.get("multitask_strategy")
        if strategy is not None:
            fields["multitask_strategy"] = strategy
        graph_input = params.get("input")
        _, waiting = await self._pending(thread_id)
        if graph_input is not None and waiting:  # LangGraph's server: a resume
            fields["command"] = {"resume": graph_input}
        else:
            fields["input"] = graph_input
        return RunResult(run_id=await self._launch(request, thread_id, fields))

    async def _input_respond(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        answers = params.get("responses")
        if answers is None:
            answers = [params]
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise CommandError("invalid_argument", "responses must be a list of objects")
        graph_id, waiting = await self._pending(thread_id)
        if graph_id is None or not waiting:
            raise CommandError("no_such_run", "No interrupted run is bound to this thread.")
        known = {str(getattr(i, "id", "")) for i in waiting}
        asked_at = await self._asked_at(thread_id)
        resume: dict[str, Any] = {}
        for answer in answers:
            interrupt_id = answer.get("interrupt_id")
            if not isinstance(interrupt_id, str):
                raise CommandError("invalid_argument", "input.respond requires an interrupt_id")
            if interrupt_id not in known:
                raise CommandError("no_such_interrupt", f"No pending interrupt {interrupt_id!r}")
            namespace = answer.get("namespace")
            where = asked_at.get(interrupt_id)
            if isinstance(namespace, list) and where is not None and tuple(namespace) != where:
                raise CommandError(
                    "no_such_interrupt",
                    f"Interrupt {interrupt_id!r} was asked at namespace {list(where)}, "
                    f"not {namespace}",
                )
            resume[interrupt_id] = answer.get("response")
        command: dict[str, Any] = {"resume": resume}
        for key in ("update", "goto"):
            if params.get(key) is not None:
                command[key] = params[key]
        fields: dict[str, Any] = {"assistant_id": graph_id, "command": command}
        for key in ("config", "metadata"):
            if params.get(key) is not None:
                fields[key] = params[key]
        await self._launch(request, thread_id, fields)
        return {}

    async def _asked_at(self, thread_id: str) -> dict[str, tuple[str, ...]]:
        """Where each interrupt still in the log was asked (``input.requested``)."""
        found = await self.manager.protocol.log(thread_id).read(0)
        return {
            e.data["interrupt_id"]: e.namespace
            for e in (found if isinstance(found, list) else ())
            if e.method == "input.requested"
        }

    async def _thread_entry(self, thread_id: str) -> Any:
        thread = await self.backend.get_thread(thread_id)
        entry = self._thread_graph(thread) if thread is not None else None
        if entry is None:
            raise CommandError("no_such_run", f"Thread {thread_id!r} has no state yet")
        return entry

    async def _list_checkpoints(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        if params.get("namespace") not in (None, []):
            raise CommandError("no_such_namespace", "state.listCheckpoints serves the root ([])")
        limit = params.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            limit = 10
        before = params.get("before")
        entry = await self._thread_entry(thread_id)
        states = await entry.history(
            thread_id,
            limit=limit,
            before=before if isinstance(before, str) else None,
            secrets=self.manager.secrets,
        )
        return ListCheckpointsResult(
            checkpoints=[
                CheckpointSummary(
                    id=s["checkpoint_id"],
                    timestamp=s["created_at"],
                    step=int((s["metadata"] or {}).get("step") or 0),
                    metadata=s["metadata"],
                )
                for s in states
            ]
        )

    async def _state_fork(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        checkpoint_id = params.get("checkpoint_id")
        if not isinstance(checkpoint_id, str) or not checkpoint_id:
            raise CommandError("invalid_argument", "state.fork requires a checkpoint_id")
        entry = await self._thread_entry(thread_id)
        fields: dict[str, Any] = {
            "assistant_id": entry.graph_id,
            "input": params.get("input"),
            "checkpoint_id": checkpoint_id,
        }
        if params.get("config") is not None:
            fields["config"] = params["config"]
        run_id = await self._launch(request, thread_id, fields)
        return StateForkResult(run_id=run_id, thread_id=thread_id)

    async def _state_get(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        if params.get("namespace") not in (None, []):
            raise CommandError("no_such_namespace", "state.get serves the root namespace ([])")
        entry = await self._thread_entry(thread_id)
        state = await entry.state(thread_id, secrets=self.manager.secrets)
        values = state["values"]
        keys = params.get("keys")
        if isinstance(keys, list) and isinstance(values, dict):
            values = {k: v for k, v in values.items() if k in keys}
        result = StateGetResult(values=values)
        if state.get("checkpoint_id"):
            result["checkpoint"] = CheckpointRef(id=state["checkpoint_id"])
        return result

    async def _agent_tree(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        run_id = params.get("run_id", params.get("runId"))
        if run_id is not None:
            runs = await self.backend.list_runs(thread_id)
            if run_id not in {r.run_id for r in runs}:
                raise CommandError("no_such_run", f"No run {run_id!r} on this thread.")
            if run_id != max(runs, key=lambda r: r.created_at).run_id:
                raise CommandError(
                    "not_supported", "agent.getTree describes the thread's latest run only"
                )
        found = await self.manager.protocol.log(thread_id).read(0)
        tree = agent_tree(found if isinstance(found, list) else ())
        if tree is None:
            raise CommandError("no_such_run", "No run is bound to this thread.")
        return AgentResult(tree=tree)

    async def _input_inject(
        self, request: HTTPConnection, thread_id: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        if params.get("namespace") not in (None, []):
            raise CommandError("no_such_namespace", "input.inject serves the root namespace ([])")
        message = params.get("message")
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("user", "system")
            or not isinstance(message.get("content"), str)
        ):
            raise CommandError(
                "invalid_argument",
                'input.inject needs a message {"role": "user" | "system", "content": str}',
            )
        graph_id, _ = await self._pending(thread_id)
        if graph_id is None:
            raise CommandError("no_such_run", "No run is bound to this thread.")
        fields = {
            "assistant_id": graph_id,
            "input": {"messages": [message]},
            "multitask_strategy": "enqueue",
        }
        await self._launch(request, thread_id, fields)
        return {}


_COMMANDS: dict[str, Handler] = {
    "agent.getTree": ProtocolRoutes._agent_tree,
    "input.inject": ProtocolRoutes._input_inject,
    "run.start": ProtocolRoutes._run_start,
    "input.respond": ProtocolRoutes._input_respond,
    "state.get": ProtocolRoutes._state_get,
    "state.listCheckpoints": ProtocolRoutes._list_checkpoints,
    "state.fork": ProtocolRoutes._state_fork,
}
