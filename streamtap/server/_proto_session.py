"""The rules LangGraph's server applies to a run's protocol events on their way to the
thread's log, which LangGraph's run stream itself does not (langgraph-api 0.16.7,
``event_streaming/session.py``): the subgraph ``lifecycle`` and the ``tools`` mirror.

* LangGraph's ``LifecycleTransformer`` pushes every subgraph's lifecycle at the root scope
  with the subgraph in ``data.namespace``: the event moves to that namespace. ``started``
  goes out once per namespace as LangGraph made it; a terminal one as
  ``{event, graph_name[, error]}``, and not twice with the same status.
* Namespaces seen on any event and still open when the run ends are closed with
  ``completed``, deepest first, before the root's terminal event (a subgraph whose last
  step was a tool, or one LangGraph never announced).
* A finished tool (``tools`` ``tool-finished``) is also a ``role: tool`` message on the
  ``messages`` channel, at ``[*namespace, "tools:<tool_call_id>"]``, so a messages feed
  shows tool results without subscribing to ``tools``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from langchain_protocol.protocol import AgentTreeNode

from streamtap.server._serde import dumps

__all__ = ["Namespaces", "agent_tree", "tool_message"]

Item = tuple[str, tuple[str, ...], Any]
_TERMINAL = ("running", "completed", "failed", "interrupted")


class Namespaces:
    """The subgraph namespaces of one run and their status."""

    def __init__(self) -> None:
        #: namespace -> [status, graph_name]; insertion order is discovery order
        self._seen: dict[tuple[str, ...], list[str]] = {}

    def saw(self, namespace: tuple[str, ...]) -> None:
        """An event at ``namespace``: it and its parents are open (no wire event)."""
        for end in range(1, len(namespace) + 1):
            key = namespace[:end]
            if key not in self._seen:
                self._seen[key] = ["started", key[-1].split(":")[0]]

    def lifecycle(self, data: Any) -> Iterator[Item]:
        """What goes out for one of ``LifecycleTransformer``'s payloads (root scope)."""
        if not isinstance(data, dict):
            return
        raw = data.get("namespace")
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
            return
        namespace = tuple(raw)
        event = data.get("event")
        if event == "started":
            if namespace in self._seen and self._seen[namespace][0] == "announced":
                return
            self.saw(namespace[:-1])
            name = data.get("graph_name")
            self._seen[namespace] = [
                "announced",
                name if isinstance(name, str) else namespace[-1].split(":")[0],
            ]
            yield "lifecycle", namespace, data
            return
        if event not in _TERMINAL:
            return
        self.saw(namespace)
        entry = self._seen[namespace]
        if entry[0] == event and data.get("error") is None:
            return
        entry[0] = event
        out: dict[str, Any] = {"event": event, "graph_name": entry[1]}
        if isinstance(data.get("error"), str):
            out["error"] = data["error"]
        if isinstance(data.get("cause"), dict):
            out["cause"] = data["cause"]
        yield "lifecycle", namespace, out

    def close(self) -> Iterator[Item]:
        """``completed`` for every namespace still open, deepest first."""
        open_ = [ns for ns, (status, _) in self._seen.items() if status in ("started", "announced")]
        for namespace in sorted(open_, key=len, reverse=True):
            self._seen[namespace][0] = "completed"
            yield (
                "lifecycle",
                namespace,
                {"event": "completed", "graph_name": self._seen[namespace][1]},
            )


def tool_message(namespace: tuple[str, ...], data: Any) -> Iterator[Item]:
    """The ``messages`` events mirroring a ``tool-finished`` (LangGraph's server shape,
    including its ``content`` key on the delta)."""
    if not isinstance(data, dict) or data.get("event") != "tool-finished":
        return
    output = data.get("output")
    fields = _fields(output)
    if fields is None:
        return
    call_id = data.get("tool_call_id")
    if not isinstance(call_id, str):
        call_id = (
            fields.get("tool_call_id") if isinstance(fields.get("tool_call_id"), str) else None
        )
    message_id = fields.get("id") or (f"tool-{call_id}" if call_id else None)
    if not isinstance(message_id, str):
        return
    content = fields.get("content")
    if not isinstance(content, str):
        content = "" if content is None else dumps(content).decode()
    start: dict[str, Any] = {"event": "message-start", "role": "tool", "id": message_id}
    if call_id is not None:
        start["tool_call_id"] = call_id
    where = (*namespace, f"tools:{call_id}") if call_id is not None else namespace
    text = {"type": "text", "text": content}
    for event in (
        start,
        {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}},
        {"event": "content-block-delta", "index": 0, "content": text},
        {"event": "content-block-finish", "index": 0, "content": text},
        {"event": "message-finish", "metadata": {}},
    ):
        yield "messages", where, event


def _fields(output: Any) -> dict[str, Any] | None:
    if isinstance(output, dict):
        return output
    if hasattr(output, "tool_call_id") and hasattr(output, "content"):  # a ToolMessage
        return {"id": output.id, "content": output.content, "tool_call_id": output.tool_call_id}
    return None


def agent_tree(events: Iterable[Any]) -> AgentTreeNode | None:
    """``agent.getTree``: the thread's latest run as a tree of namespaces with their status
    and graph, from the ``lifecycle`` events still in the log (``None``: no run there)."""
    nodes: dict[tuple[str, ...], AgentTreeNode] = {}
    for event in events:
        if event.method != "lifecycle" or not isinstance(event.data, dict):
            continue
        status, namespace = event.data.get("event"), event.namespace
        if not namespace and status == "running":
            nodes = {}  # a new run: the tree starts again
        if status not in ("started", *_TERMINAL):
            continue
        name = event.data.get("graph_name")
        if not isinstance(name, str):
            name = namespace[-1].split(":")[0] if namespace else "root"
        node = nodes.get(namespace)
        if node is None:
            node = nodes[namespace] = AgentTreeNode(
                namespace=list(namespace), status=status, graph_name=name
            )
        node["status"] = status
        if isinstance(event.data.get("graph_name"), str):
            node["graph_name"] = name
    root = nodes.get(())
    if root is None:
        return None
    for namespace in sorted(nodes, key=len):
        if namespace:
            parent = nodes.get(namespace[:-1], root)
            parent.setdefault("children", []).append(nodes[namespace])
    return root
