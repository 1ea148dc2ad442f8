"""Where assistants live: the served graphs' system assistants and those a client created,
each with its versions, behind a small contract so a shared store (Redis, Postgres) can
replace the in-process default.

An assistant is the Platform's "configured graph": a graph id plus the ``config``,
``context`` and ``metadata`` every run started with its id inherits. Every update is a new
version; ``set_latest`` points the assistant back at one. The rules (what an update keeps,
how a run inherits an assistant's settings) are langgraph-api's, so clients see the same
answers from either server.
"""

from __future__ import annotations

import copy
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "AssistantExists",
    "AssistantStore",
    "MemoryAssistantStore",
    "contains",
    "inherit",
    "new_assistant",
    "restore",
    "revise",
    "system_assistant",
    "system_assistants",
]

_VERSION_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "version",
    "name",
    "description",
    "created_at",
)

Assistant = dict[str, Any]


class AssistantExists(Exception):
    """``create`` with ``if_exists="raise"`` for an id already taken (the Platform's 409)."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def contains(have: Any, want: Mapping[str, Any]) -> bool:
    """Postgres' ``@>`` on metadata, as langgraph-api filters: every key of ``want`` is in
    ``have`` with an equal value, nested objects compared the same way."""
    if not isinstance(have, Mapping):
        return False
    for key, value in want.items():
        if key not in have:
            return False
        if isinstance(value, Mapping) and isinstance(have[key], Mapping):
            if not contains(have[key], value):
                return False
        elif have[key] != value:
            return False
    return True


def system_assistant(graph_id: str, assistant_id: str, created_at: str) -> Assistant:
    """A served graph's own assistant, as langgraph-api registers one per graph at start."""
    return {
        "assistant_id": assistant_id,
        "graph_id": graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": graph_id,
        "description": None,
        "version": 1,
        "created_at": created_at,
        "updated_at": created_at,
    }


def system_assistants(graphs: Iterable[tuple[str, str]]) -> list[Assistant]:
    """One system assistant per ``(graph_id, assistant_id)``, all created at once: the
    same ``created_at``, so a search lists them in the order they are served."""
    now = _now()
    return [system_assistant(g, a, now) for g, a in graphs]


def new_assistant(
    *,
    assistant_id: str | None,
    graph_id: str,
    config: dict[str, Any],
    context: dict[str, Any] | None,
    metadata: dict[str, Any],
    name: str | None,
    description: str | None,
) -> Assistant:
    """Version 1 of a created assistant (``config`` and ``context`` already reconciled)."""
    now = _now()
    return {
        "assistant_id": assistant_id or str(uuid.uuid4()),
        "graph_id": graph_id,
        "config": config,
        "context": context or {},
        "metadata": metadata,
        "name": name or "Untitled",
        "description": description,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def revise(
    current: Mapping[str, Any], changes: Mapping[str, Any], version: int
) -> tuple[Assistant, Assistant]:
    """``update``'s rule, one for every store: the new latest (``changes`` over
    ``current`` as :meth:`AssistantStore.update` says, numbered ``version``) and its
    version record, both made now."""
    now = _now()
    new = copy.deepcopy(dict(current))
    if changes.get("config"):
        new["config"] = copy.deepcopy(changes["config"])
    for key in ("graph_id", "context", "name", "description"):
        if changes.get(key) is not None:
            new[key] = copy.deepcopy(changes[key])
    new["metadata"] = {**current["metadata"], **copy.deepcopy(changes.get("metadata") or {})}
    new["version"] = version
    new["updated_at"] = now
    # the assistant keeps the created_at of its creation; each version has its own
    record = {k: copy.deepcopy(new[k]) for k in _VERSION_FIELDS}
    return new, {**record, "created_at": now}


def restore(current: Mapping[str, Any], chosen: Mapping[str, Any]) -> Assistant:
    """``set_latest``'s rule, one for every store: the version record ``chosen`` as the
    latest again, with the assistant's own ``created_at``, updated now."""
    head = copy.deepcopy(dict(chosen))
    head["created_at"] = current["created_at"]
    head["updated_at"] = _now()
    return head


def inherit(
    assistant: Mapping[str, Any],
    config: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A run's ``config`` and ``context`` with its assistant's merged under them, as
    langgraph-api's ``Runs.put`` merges: top-level keys, then ``configurable`` (and
    ``config.metadata``) key by key; the run's value wins each key. ``context`` stays
    ``None`` when neither has one, so a graph whose context has required fields fails as
    it did before. The assistant's own ``metadata`` is not added to the run's (langgraph-api
    adds it): what a run streams stays what its graph streams when called directly."""
    own = dict(config or {})
    base = copy.deepcopy(dict(assistant.get("config") or {}))
    merged: dict[str, Any] = {**base, **own}
    for key in ("configurable", "metadata"):
        both = {**(base.get(key) or {}), **(own.get(key) or {})}
        if both:
            merged[key] = both
    fixed = assistant.get("context") or {}
    if not fixed:
        return merged, dict(context) if context is not None else None
    return merged, {**copy.deepcopy(fixed), **(context or {})}


class AssistantStore(ABC):
    """The assistants a server knows. Every call returns copies (callers may edit them).

    :class:`MemoryAssistantStore` keeps them in this process. A shared store (Redis,
    Postgres: several server processes seeing the same assistants) implements these seven
    methods; the routes and runs need nothing else.
    """

    @abstractmethod
    async def get(self, assistant_id: str) -> Assistant | None:
        """The assistant at its latest version, or ``None``."""

    @abstractmethod
    async def create(
        self, assistant: Assistant, *, if_exists: Literal["raise", "do_nothing"]
    ) -> Assistant:
        """Store version 1. For an id already there, raise :class:`AssistantExists`, or
        (``do_nothing``) return the existing one unchanged."""

    @abstractmethod
    async def update(self, assistant_id: str, changes: Mapping[str, Any]) -> Assistant | None:
        """A new version, made the latest: ``changes`` (``graph_id``, ``config``,
        ``context``, ``name``, ``description``; a missing or empty ``config`` keeps the
        current one) over the latest, ``metadata`` merged in. ``None`` for an unknown id."""

    @abstractmethod
    async def delete(self, assistant_id: str) -> bool:
        """Forget the assistant and all its versions; ``False`` for an unknown id."""

    @abstractmethod
    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Assistant]:
        """Every assistant with that ``graph_id``, a name containing ``name`` (any case)
        and metadata containing ``metadata`` (:func:`contains`). Unordered."""

    @abstractmethod
    async def versions(self, assistant_id: str) -> list[Assistant] | None:
        """Every version of the assistant, unordered; ``None`` for an unknown id."""

    @abstractmethod
    async def set_latest(self, assistant_id: str, version: int) -> Assistant | None:
        """Make ``version`` the latest again (no new version is made); ``None`` when the
        assistant or that version is unknown."""


class MemoryAssistantStore(AssistantStore):
    """Assistants in this process, seeded with the served graphs' system assistants; they
    last as long as the process (like the in-memory backend's threads)."""

    def __init__(self, system: Iterable[Assistant] = ()) -> None:
        self._latest: dict[str, Assistant] = {}
        self._versions: dict[str, dict[int, Assistant]] = {}
        for assistant in system:
            self._put(copy.deepcopy(assistant))

    @classmethod
    def serving(cls, graphs: Iterable[tuple[str, str]]) -> MemoryAssistantStore:
        """One system assistant per ``(graph_id, assistant_id)`` (:func:`system_assistants`)."""
        return cls(system_assistants(graphs))

    def _put(self, assistant: Assistant) -> None:
        aid = assistant["assistant_id"]
        self._latest[aid] = assistant
        version = {k: copy.deepcopy(assistant[k]) for k in _VERSION_FIELDS}
        self._versions.setdefault(aid, {})[assistant["version"]] = version

    async def get(self, assistant_id: str) -> Assistant | None:
        found = self._latest.get(assistant_id)
        return copy.deepcopy(found) if found is not None else None

    async def create(
        self, assistant: Assistant, *, if_exists: Literal["raise", "do_nothing"]
    ) -> Assistant:
        existing = self._latest.get(assistant["assistant_id"])
        if existing is not None:
            if if_exists == "raise":
                raise AssistantExists(assistant["assistant_id"])
            return copy.deepcopy(existing)
        self._put(copy.deepcopy(assistant))
        return copy.deepcopy(assistant)

    async def update(self, assistant_id: str, changes: Mapping[str, Any]) -> Assistant | None:
        current = self._latest.get(assistant_id)
        if current is None:
            return None
        # the highest version + 1, not the latest + 1: after set_latest(1), an update is v3
        new, record = revise(current, changes, max(self._versions[assistant_id]) + 1)
        self._latest[assistant_id] = new
        self._versions[assistant_id][new["version"]] = record
        return copy.deepcopy(new)

    async def delete(self, assistant_id: str) -> bool:
        self._versions.pop(assistant_id, None)
        return self._latest.pop(assistant_id, None) is not None

    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Assistant]:
        needle = name.lower() if name else None
        return [
            copy.deepcopy(a)
            for a in self._latest.values()
            if (graph_id is None or a["graph_id"] == graph_id)
            and (needle is None or needle in str(a["name"]).lower())
            and (not metadata or contains(a["metadata"], metadata))
        ]

    async def versions(self, assistant_id: str) -> list[Assistant] | None:
        found = self._versions.get(assistant_id)
        return copy.deepcopy(list(found.values())) if found is not None else None

    async def set_latest(self, assistant_id: str, version: int) -> Assistant | None:
        current = self._latest.get(assistant_id)
        chosen = self._versions.get(assistant_id, {}).get(version)
        if current is None or chosen is None:
            return None
        head = restore(current, chosen)
        self._latest[assistant_id] = head
        return copy.deepcopy(head)
