"""One run as Agent Streaming Protocol events, with the rules LangGraph's server adds.

The events themselves come from the graph's own ``astream_events(version="v3")`` (LangGraph's
run stream for both engines: ``streamtap/graph/_stream_v3``), so ``messages``, ``values``,
subgraph ``lifecycle`` and namespaces are LangGraph's by construction. What a server adds
around a run, as langgraph-api 0.16.7 does (``event_streaming/session.py``):

* the root ``lifecycle``: ``running`` first, one terminal event last (``completed``,
  ``failed`` with the error, or ``interrupted``);
* each interrupt as ``input.requested {interrupt_id, payload}``, once per id on the
  thread, followed by the root ``interrupted``;
* ``messages`` data as the event dict alone (in process it is ``(event, metadata)``);
* the ``updates``, ``custom``, ``checkpoints`` and ``tools`` channels, which LangGraph's
  run stream emits only for transformers a graph opts into: every run here has LangGraph's
  own (``UpdatesTransformer``, ``CustomTransformer``, ``CheckpointsTransformer``,
  ``ToolCallTransformer``), so a subscriber to any channel the spec defines gets its
  events. ``updates`` and ``custom`` keep LangGraph's raw shapes (a node's update, the
  writer's payload); a checkpoint is the spec's ``{id, parent_id, step, source}``;
* the ``tasks`` channel, which LangGraph's lifecycle transformers consume and keep out of
  the log: LangGraph's task payloads (``{id, name, input, triggers}`` when a task starts,
  ``{id, name, error, result, interrupts}`` when it ends) at the task's namespace;
* the graph's own transformers (a module's ``stream_transformers``, as langgraph-api
  reads it): a named channel's items as ``custom`` events ``{name, payload}``, which
  ``custom:<name>`` subscribes to.

The items are ``(method, namespace, data)``: the thread's log numbers and frames them.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_protocol.protocol import (
    AgentStatus,
    Checkpoint,
    InputRequestedData,
    LifecycleData,
)

from streamtap.server._proto_session import Namespaces, tool_message
from streamtap.server._serde import error_payload

__all__ = ["ProtocolItem", "run_events"]

ProtocolItem = tuple[str, tuple[str, ...], Any]


async def run_events(
    graph: Any,
    graph_input: Any,
    config: dict[str, Any],
    *,
    graph_name: str,
    secrets: tuple[str, ...] = (),
    asked: set[str] | None = None,
    transformers: Sequence[Any] = (),
    tree: Namespaces | None = None,
    **kwargs: Any,
) -> AsyncIterator[ProtocolItem]:
    """The run's protocol items; a failure ends them with ``lifecycle failed`` (its text
    masked of ``secrets``; the caller learns it from that event, as a client does),
    cancellation propagates. ``asked``: the interrupt ids the thread's clients were
    already asked about (a resumed run starts from a state that still carries them); the
    ones this run raises are added. ``transformers``: the graph's own (factories or
    instances, as a ``stream_transformers()`` export returns them). ``tree``: where the
    run's subgraph namespaces are tracked (a caller that stops the run closes them)."""
    yield "lifecycle", (), LifecycleData(event="running", graph_name=graph_name)
    asked = asked if asked is not None else set()
    raised: list[str] = []
    tree = tree if tree is not None else Namespaces()
    try:
        run = await graph.astream_events(
            graph_input,
            config,
            version="v3",
            transformers=_with_own(transformers),
            **kwargs,
        )
        async for event in _closing(run):
            method, params = event["method"], event["params"]
            namespace = tuple(params.get("namespace") or ())
            data = params.get("data")
            if method == _TASKS:
                method, namespace, data = "tasks", data[0], data[1]
            elif method.startswith("custom:"):
                method, data = "custom", {"name": method[len("custom:") :], "payload": data}
            if method == "messages":
                data = data[0] if isinstance(data, tuple) else data
                if not isinstance(data, dict) or "event" not in data:
                    continue  # not a protocol event (LangGraph's server drops these too)
            if method == "lifecycle":
                # LangGraph's subgraph lifecycle, moved to its namespace; the root's
                # lifecycle is the server's own
                for item in tree.lifecycle(data):
                    yield item
                continue
            if namespace:
                tree.saw(namespace)
            pending = list(params.get("interrupts") or ())
            if method == "checkpoints":
                data = _checkpoint(data)
            elif method == "updates" and isinstance(data, dict) and "__interrupt__" in data:
                # the step's interrupts, first seen here: asked as input.requested, and
                # an update of nothing else is none (as on LangGraph's server)
                pending += data["__interrupt__"] or ()
                data = {k: v for k, v in data.items() if k != "__interrupt__"}
            for interrupt in pending:
                interrupt_id = str(getattr(interrupt, "id", "") or "")
                if interrupt_id and interrupt_id not in asked:
                    asked.add(interrupt_id)
                    raised.append(interrupt_id)
                    request = InputRequestedData(interrupt_id=interrupt_id, payload=interrupt.value)
                    yield "input.requested", namespace, request
            if not (method == "updates" and not data):
                yield method, namespace, data
            if method == "tools":
                for item in tool_message(namespace, data):
                    yield item
    except Exception as exc:
        for item in tree.close():
            yield item
        failure = error_payload(exc, *secrets)
        yield (
            "lifecycle",
            (),
            LifecycleData(
                event="failed",
                graph_name=graph_name,
                error=f"{failure['error']}: {failure['message']}",
            ),
        )
        return
    for item in tree.close():
        yield item
    terminal: AgentStatus = "interrupted" if raised else "completed"
    yield "lifecycle", (), LifecycleData(event=terminal, graph_name=graph_name)


async def _closing(run: Any) -> AsyncIterator[Any]:
    """The run's events; however the reading ends (a cancel: the run stopped), the run is
    aborted, so its nodes and their model streams close now, not when collected."""
    async with run:
        async for event in run:
            yield event


def _transformers() -> list[Any]:
    from langgraph.prebuilt._tool_call_transformer import ToolCallTransformer
    from langgraph.stream.transformers import (
        CheckpointsTransformer,
        CustomTransformer,
        UpdatesTransformer,
    )

    return [
        UpdatesTransformer,
        CustomTransformer,
        CheckpointsTransformer,
        ToolCallTransformer,
        _tasks,
    ]


_TASKS = "__streamtap_tasks__"


def _with_own(own: Sequence[Any]) -> list[Any]:
    """The server's transformers and the graph's; one of LangGraph's the graph also asks
    for (its ``UpdatesTransformer``, say) is registered once, the graph's way."""
    theirs = {item if isinstance(item, type) else type(item) for item in own}
    return [t for t in _transformers() if t not in theirs] + [_factory(t) for t in own]


def _factory(item: Any) -> Any:
    """A transformer factory: an instance is shared by every scope (as langgraph-api's
    ``coerce_stream_transformer_factory`` does, so its channel stays one channel)."""
    from langgraph.stream import StreamTransformer

    if isinstance(item, StreamTransformer):
        return lambda _scope, _inst=item: _inst
    if callable(item):
        return item
    raise TypeError(
        "stream_transformers() must return StreamTransformer classes, factories or "
        f"instances; got a {type(item).__name__}"
    )


@functools.cache
def _tasks_channel() -> type[Any]:
    from langgraph.stream import StreamChannel, StreamTransformer

    class TasksChannel(StreamTransformer):
        """Task events into the run's log, in order, with their namespace (LangGraph's
        lifecycle transformers take them out of it). A named channel's items enter the
        log as they are pushed, so each lands where its task event was."""

        _native = True
        required_stream_modes = ("tasks",)

        def __init__(self, scope: tuple[str, ...] = ()) -> None:
            super().__init__(scope)
            self._channel: Any = StreamChannel(_TASKS)

        def init(self) -> dict[str, Any]:
            return {_TASKS: self._channel}

        def process(self, event: Any) -> bool:
            if event["method"] == "tasks" and not self.scope:
                params = event["params"]
                self._channel.push((tuple(params["namespace"]), params["data"]))
            return True

    return TasksChannel


def _tasks(scope: tuple[str, ...] = ()) -> Any:
    return _tasks_channel()(scope)


def _checkpoint(snapshot: Any) -> Checkpoint | dict[str, Any]:
    """The spec's checkpoint event from LangGraph's ``checkpoints`` snapshot."""
    if not isinstance(snapshot, dict):
        return {}
    conf = (snapshot.get("config") or {}).get("configurable") or {}
    parent = ((snapshot.get("parent_config") or {}).get("configurable") or {}).get("checkpoint_id")
    metadata = snapshot.get("metadata") or {}
    event = Checkpoint(
        id=str(conf.get("checkpoint_id")),
        step=int(metadata.get("step") or 0),
        source=metadata.get("source") or "loop",
    )
    if parent is not None:
        event["parent_id"] = parent
    return event
