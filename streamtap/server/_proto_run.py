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
  writer's payload); a checkpoint is the spec's ``{id, parent_id, step, source}``.

The items are ``(method, namespace, data)``: the thread's log numbers and frames them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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
    **kwargs: Any,
) -> AsyncIterator[ProtocolItem]:
    """The run's protocol items; a failure ends them with ``lifecycle failed`` (its text
    masked of ``secrets``; the caller learns it from that event, as a client does),
    cancellation propagates. ``asked``: the interrupt ids the thread's clients were
    already asked about (a resumed run starts from a state that still carries them); the
    ones this run raises are added."""
    yield "lifecycle", (), {"event": "running", "graph_name": graph_name}
    asked = asked if asked is not None else set()
    raised: list[str] = []
    try:
        run = await graph.astream_events(
            graph_input, config, version="v3", transformers=_transformers(), **kwargs
        )
        async for event in run:
            method, params = event["method"], event["params"]
            namespace = tuple(params.get("namespace") or ())
            data = params.get("data")
            if method == "messages":
                data = data[0] if isinstance(data, tuple) else data
                if not isinstance(data, dict) or "event" not in data:
                    continue  # not a protocol event (LangGraph's server drops these too)
            if method == "lifecycle" and not namespace and isinstance(data, dict):
                continue  # the root's lifecycle is the server's own, below
            if method == "checkpoints":
                data = _checkpoint(data)
            new = [
                i
                for i in params.get("interrupts") or ()
                if str(getattr(i, "id", "") or "") not in asked
            ]
            if not (method == "values" and new):
                # a values event that raises interrupts repeats the state already sent:
                # LangGraph's server sends those interrupts as input.requested instead
                yield method, namespace, data
            for interrupt in new:
                interrupt_id = str(getattr(interrupt, "id", "") or "")
                if interrupt_id:
                    asked.add(interrupt_id)
                    raised.append(interrupt_id)
                    request = {"interrupt_id": interrupt_id, "payload": interrupt.value}
                    yield "input.requested", namespace, request
    except Exception as exc:
        failure = error_payload(exc, *secrets)
        yield (
            "lifecycle",
            (),
            {
                "event": "failed",
                "graph_name": graph_name,
                "error": f"{failure['error']}: {failure['message']}",
            },
        )
        return
    terminal = "interrupted" if raised else "completed"
    yield "lifecycle", (), {"event": terminal, "graph_name": graph_name}


def _transformers() -> list[Any]:
    from langgraph.prebuilt._tool_call_transformer import ToolCallTransformer
    from langgraph.stream.transformers import (
        CheckpointsTransformer,
        CustomTransformer,
        UpdatesTransformer,
    )

    return [UpdatesTransformer, CustomTransformer, CheckpointsTransformer, ToolCallTransformer]


def _checkpoint(snapshot: Any) -> dict[str, Any]:
    """The spec's checkpoint event from LangGraph's ``checkpoints`` snapshot."""
    if not isinstance(snapshot, dict):
        return {}
    conf = (snapshot.get("config") or {}).get("configurable") or {}
    parent = ((snapshot.get("parent_config") or {}).get("configurable") or {}).get("checkpoint_id")
    metadata = snapshot.get("metadata") or {}
    event: dict[str, Any] = {
        "id": conf.get("checkpoint_id"),
        "step": metadata.get("step"),
        "source": metadata.get("source"),
    }
    if parent is not None:
        event["parent_id"] = parent
    return event
