"""Node caching (``add_node(..., cache_policy=...)`` with ``compile(cache=...)``), as LangGraph.

A task of a node with a cache policy is keyed by LangGraph's ``CacheKey``: the namespace
``("__pregel_ns_writes", "<module>.<qualname of the node's function>", node)`` and the
xxh3-128 of ``key_func(input)``. A hit gives the task the writes its node made for that
input before: it does not run, its writes are saved and its ``updates`` carry
``{"__metadata__": {"cached": True}}``. A task that finishes (no error, no interrupt)
stores its writes for ``ttl`` seconds. The cache is LangGraph's ``BaseCache`` (its
in-memory, SQLite and Redis caches), so entries are shared with LangGraph graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from xxhash import xxh3_128_hexdigest

from streamtap.graph._constants import ERROR, INTERRUPT

if TYPE_CHECKING:
    from streamtap.graph._algo import Task
    from streamtap.graph._node import Action, NodeSpec
    from streamtap.graph._spec import GraphSpec

#: the cache namespace of node writes (LangGraph's ``CACHE_NS_WRITES``)
CACHE_NS_WRITES = "__pregel_ns_writes"


class CacheKey(NamedTuple):
    """Where a task's writes are cached (LangGraph's ``langgraph.types.CacheKey``)."""

    ns: tuple[str, ...]
    key: str
    ttl: int | None


def identifier(action: Action) -> str | None:
    """``module.qualname`` of what a node runs, as LangGraph names it; ``None`` for an
    object without a name (a callable instance, a Runnable): ``"__dynamic__"``."""
    return identifier_of(action.runnable if action.runnable is not None else action.fn)


def identifier_of(obj: Any) -> str | None:
    """``module.qualname`` of a function (LangGraph's ``identifier``), or ``None``."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None)
    if name is None or module is None:
        return None
    return f"{module}.{name}"


def node_namespace(name: str, spec: NodeSpec) -> tuple[str, ...]:
    return (CACHE_NS_WRITES, identifier(spec.action) or "__dynamic__", name)


def call_cache_key(func: Any, args: Any, kwargs: Any, policy: Any) -> CacheKey:
    """A ``@task`` call's key: the function's namespace, the hash of its arguments' key."""
    args_key = policy.key_func(*args, **kwargs)
    digest = xxh3_128_hexdigest(args_key.encode() if isinstance(args_key, str) else args_key)
    return CacheKey((CACHE_NS_WRITES, identifier_of(func) or "__dynamic__"), digest, policy.ttl)


def cached(cache: Any, key: CacheKey) -> list[tuple[str, Any]] | None:
    """The writes ``cache`` holds under ``key``, if any."""
    found: list[tuple[str, Any]] | None = cache.get(((key.ns, key.key),)).get((key.ns, key.key))
    return found


def cache_key(task: Task, spec: NodeSpec) -> CacheKey | None:
    policy = spec.cache_policy
    if policy is None:
        return None
    args_key = policy.key_func(task.input)
    digest = xxh3_128_hexdigest(args_key.encode() if isinstance(args_key, str) else args_key)
    return CacheKey(node_namespace(task.name, spec), digest, policy.ttl)


def match_cached(
    graph: GraphSpec, pending: dict[str, CacheKey], tasks: Sequence[Task]
) -> list[Task]:
    """The tasks the cache answers, their writes filled in; keys of the others are kept
    in ``pending`` (the loop's, by task id) for :func:`store_cached` when they finish."""
    cache = graph.cache
    keyed: dict[tuple[tuple[str, ...], str], Task] = {}
    for task in tasks:
        if task.writes or task.hidden:
            continue
        key = cache_key(task, graph.nodes[task.name])
        if key is not None:
            pending[task.id] = key
            keyed[(key.ns, key.key)] = task
    if not keyed:
        return []
    matched = []
    for full_key, values in cache.get(tuple(keyed)).items():
        task = keyed[full_key]
        task.writes.extend(values)
        pending.pop(task.id, None)
        matched.append(task)
    return matched


def store_cached(graph: GraphSpec, pending: dict[str, CacheKey], task: Task) -> None:
    """Cache what a finished task wrote, if its node is cached."""
    key = pending.pop(task.id, None)
    if key is None or any(c in (INTERRUPT, ERROR) for c, _ in task.writes):
        return
    graph.cache.set({(key.ns, key.key): (list(task.writes), key.ttl)})


class ClearCache:
    """``clear_cache`` / ``aclear_cache`` of a compiled graph (LangGraph's)."""

    cache: Any
    nodes: dict[str, NodeSpec]

    def _cache_namespaces(self, nodes: Sequence[str] | None) -> list[tuple[str, ...]]:
        if not self.cache:
            raise ValueError("No cache is set for this graph. Cannot clear cache.")
        names = nodes or self.nodes.keys()
        return [node_namespace(n, self.nodes[n]) for n in names if n in self.nodes]

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Clear the cache for the given nodes (all of them by default)."""
        namespaces = self._cache_namespaces(nodes)
        self.cache.clear(namespaces)

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Asynchronously clear the cache for the given nodes (all of them by default)."""
        namespaces = self._cache_namespaces(nodes)
        await self.cache.aclear(namespaces)
