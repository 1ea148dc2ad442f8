"""Which events of a thread's Agent Streaming Protocol log a subscription receives.

A subscription names channels, and optionally namespace prefixes and a depth below them,
as langgraph-api 0.16.7 reads them (``event_streaming/namespace.py``, ``session.py``):

* ``input`` is the channel of ``input.requested``; ``custom`` takes every custom event,
  ``custom:<name>`` only those whose ``data.name`` is ``<name>``.
* A prefix segment without ``:`` matches ``<segment>`` and ``<segment>:<anything>`` (a
  subgraph's name with or without its task id); a segment with ``:`` matches exactly.
* ``depth`` bounds how far below a prefix an event may be; no prefixes: every namespace.

A malformed ``namespaces`` entry is dropped and a malformed ``depth`` means no limit, as
LangGraph's server does; channels are checked, because a misspelt channel would otherwise
stream nothing without saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CHANNELS", "Subscription", "SubscriptionError"]

CHANNELS = (
    "values",
    "updates",
    "checkpoints",
    "messages",
    "tools",
    "custom",
    "lifecycle",
    "input",
    "tasks",
)
"""Every channel the protocol defines (``custom:<name>`` besides)."""


class SubscriptionError(ValueError):
    """A subscription the client must fix (HTTP 400 / ``invalid_argument``)."""


def _valid_channel(name: object) -> bool:
    return isinstance(name, str) and (
        name in CHANNELS or (name.startswith("custom:") and len(name) > len("custom:"))
    )


@dataclass(frozen=True, slots=True)
class Subscription:
    channels: frozenset[str]
    namespaces: tuple[tuple[str, ...], ...] = ()
    depth: int | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Subscription:
        channels = body.get("channels")
        if not isinstance(channels, list) or not channels:
            raise SubscriptionError("channels is required and must be a non-empty array")
        unknown = [c for c in channels if not _valid_channel(c)]
        if unknown:
            raise SubscriptionError(
                f"channels contains unsupported entries: {', '.join(map(str, unknown))}. "
                f"Allowed: {', '.join(CHANNELS)}, or any custom:<name>."
            )
        raw = body.get("namespaces")
        namespaces = tuple(
            tuple(ns)
            for ns in (raw if isinstance(raw, list) else ())
            if isinstance(ns, list) and all(isinstance(s, str) for s in ns)
        )
        depth = body.get("depth")
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
            depth = None
        return cls(frozenset(channels), namespaces, depth)

    def matches(self, method: str, namespace: Sequence[str], data: Any) -> bool:
        return self._channel(method, data) and self._namespace(namespace)

    def _channel(self, method: str, data: Any) -> bool:
        if method == "input.requested":
            return "input" in self.channels
        if method == "custom":
            if "custom" in self.channels:
                return True
            name = data.get("name") if isinstance(data, Mapping) else None
            return isinstance(name, str) and f"custom:{name}" in self.channels
        return method in self.channels

    def _namespace(self, namespace: Sequence[str]) -> bool:
        if not self.namespaces:
            return True
        return any(self._under(prefix, namespace) for prefix in self.namespaces)

    def _under(self, prefix: Sequence[str], namespace: Sequence[str]) -> bool:
        if len(namespace) < len(prefix):
            return False
        for want, have in zip(prefix, namespace, strict=False):
            if want != have and (":" in want or not have.startswith(want + ":")):
                return False
        return self.depth is None or len(namespace) - len(prefix) <= self.depth
