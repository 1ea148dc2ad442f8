"""One run as Agent Streaming Protocol events, with the rules LangGraph's server adds.

The events themselves come from the graph's own ``astream_events(version="v3")`` (LangGraph's
run stream for both engines: ``streamtap/graph/_stream_v3``), so ``messages``, ``values``,
subgraph ``lifecycle`` and namespaces are LangGraph's by construction. What a server adds
around a run, as langgraph-api 0.16.7 does (``event_streaming/session.py``):

* the root ``lifecycle``: ``running`` first, one terminal event last (``completed``,
  ``failed`` with the error, or ``interrupted``);
* each interrupt as ``input.requested {interrupt_id, payload}``, once per id, followed by
  the root ``interrupted``;
* ``messages`` data as the event dict alone (in process it is ``(event, metadata)``).

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
    **kwargs: Any,
) -> AsyncIterator[ProtocolItem]:
    """The run's protocol items; a failure ends them with ``lifecycle failed`` (its text
    masked of ``secrets``; the caller learns it from that event, as a client does),
    cancellation propagates."""
    yield "lifecycle", (), {"event": "running", "graph_name": graph_name}
    asked: set[str] = set()
    try:
        run = await graph.astream_events(graph_input, config, version="v3", **kwargs)
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
            yield method, namespace, data
            for interrupt in params.get("interrupts") or ():
                interrupt_id = str(getattr(interrupt, "id", "") or "")
                if interrupt_id and interrupt_id not in asked:
                    asked.add(interrupt_id)
                    payload = getattr(interrupt, "value", None)
                    yield (
                        "input.requested",
                        namespace,
                        {
                            "interrupt_id": interrupt_id,
                            "payload": payload,
                        },
                    )
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
    terminal = "interrupted" if asked else "completed"
    yield "lifecycle", (), {"event": terminal, "graph_name": graph_name}
