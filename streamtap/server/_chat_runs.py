"""Runs for the chat frontends' protocols (Vercel AI SDK, AG-UI, OpenAI-compatible): one
source of events for all of them.

A frontend route starts a run on a thread (the chat's id) the way ``run.start`` does, and
reads the run's Agent Streaming Protocol events from the thread's log: LangGraph's own
run stream with the server's rules (``_proto_run``), so every frontend sees the same
vendor-invariant message blocks (text, reasoning, tool calls with their parsed
arguments, usage), ``tools`` results, ``custom`` items, ``tasks`` (steps), ``values``
and ``input.requested`` (interrupts), whatever the graph's engine. Each protocol module is
then an encoder from those events to its wire (one pure fold per protocol), and the runs
get everything the server already does for the others: multitask strategies, cancel,
resume from the log after a reconnect, the many-process layout and its Redis logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from streamtap.server._http import ApiError
from streamtap.server._proto_filter import CHANNELS, Subscription
from streamtap.server._proto_log import Gap, LoggedEvent, follow
from streamtap.server._schema import RunRequest

__all__ = ["ChatRuns", "Started", "is_root_end"]

_EVERYTHING = Subscription(frozenset(CHANNELS))
_ENDS = ("completed", "failed", "interrupted")


@dataclass(frozen=True, slots=True)
class Started:
    """A run a frontend started: its id, and the log's last seq before it (its events
    are the ones after)."""

    run_id: str
    since: int


def is_root_end(event: LoggedEvent) -> bool:
    """The run's terminal root ``lifecycle`` (``completed`` / ``failed`` / ``interrupted``)."""
    return (
        event.method == "lifecycle"
        and not event.namespace
        and isinstance(event.data, dict)
        and event.data.get("event") in _ENDS
    )


class ChatRuns:
    """What a frontend route does with runs, over the server's API object (``app._Api``:
    its ``launch``, ``manager`` and ``backend``)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    async def start(
        self,
        conn: HTTPConnection,
        graph_id: str,
        thread_id: str,
        *,
        graph_input: Any = None,
        command: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Started:
        """Start a run of ``graph_id`` on ``thread_id`` (created on first use), as
        ``run.start`` does: same auth, admission and queue. One run at a time on a chat
        (``reject``: its events are then the log's next ones). Raises ``ApiError`` (404 for
        an unknown graph, 409 while the chat has a run going, 422 for a bad request)."""
        if graph_id not in self.api.manager.graphs:
            raise ApiError(
                404, f"Graph {graph_id!r} is not served: {sorted(self.api.manager.graphs)}"
            )
        fields: dict[str, Any] = {
            "assistant_id": graph_id,
            "if_not_exists": "create",
            "on_disconnect": "continue",
            "multitask_strategy": "reject",
        }
        if command is not None:
            fields["command"] = command
        else:
            fields["input"] = graph_input
        if config is not None:
            fields["config"] = config
        if metadata is not None:
            fields["metadata"] = metadata
        try:
            req = RunRequest.model_validate(fields)
        except ValueError as exc:
            raise ApiError(422, str(exc).splitlines()[0]) from None
        req._protocol = True
        since = await self.api.manager.protocol.log(thread_id).head()
        run = await self.api.launch(conn, req, thread_id)
        return Started(run.run_id, since)

    async def events(self, thread_id: str, since: int) -> AsyncIterator[LoggedEvent]:
        """The thread's events after ``since``, up to and with the first run's terminal
        root ``lifecycle``. A gap (events the log no longer keeps) raises ``ApiError``."""
        log = self.api.manager.protocol.log(thread_id)
        async for item in follow(log, since, _EVERYTHING):
            if isinstance(item, Gap):
                raise ApiError(410, item.message)
            yield item
            if is_root_end(item):
                return

    async def active(self, thread_id: str) -> Started | None:
        """The thread's run going on (or queued first), with where its events start;
        ``None`` when nothing runs."""
        runs = [r for r in await self.api.backend.list_runs(thread_id) if not r.done]
        if not runs:
            return None
        run = min(runs, key=lambda r: r.created_at)
        log = self.api.manager.protocol.log(thread_id)
        if run.status == "pending":  # queued: its events come after everything there
            return Started(run.run_id, await log.head())
        found = await log.read(0)
        since = 0
        if isinstance(found, list):
            starts = [
                e.seq - 1
                for e in found
                if e.method == "lifecycle"
                and not e.namespace
                and isinstance(e.data, dict)
                and e.data.get("event") == "running"
            ]
            since = starts[-1] if starts else since
        return Started(run.run_id, since)

    async def forget(self, thread_id: str, run_id: str) -> None:
        """Once ``run_id`` is over, delete its thread: state, records and log, as
        ``DELETE /threads/{id}`` does (a protocol whose requests are stateless)."""
        await self.api.manager.wait(run_id)
        await self.api._forget_thread(thread_id)

    async def stop(self, thread_id: str) -> bool:
        """Cancel the thread's runs (going on or queued); ``False`` when there were none."""
        runs = [r for r in await self.api.backend.list_runs(thread_id) if not r.done]
        for run in runs:
            await self.api.manager.cancel(run.run_id)
        return bool(runs)
