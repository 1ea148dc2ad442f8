"""``StateGraph.set_node_defaults``: policies every node gets at ``compile()`` unless it has
its own, with LangGraph's scope rules.

Retry and timeout defaults reach every node, error handlers included (a handler is
retried and cancelled like any node); the cache and error-handler defaults only reach
regular nodes (a handler's input differs from failure to failure, and a handler must
never catch itself). The builder's nodes are left as they are: compiling twice gives
the same graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streamtap.graph._node import NodeSpec
from streamtap.graph._policies import CachePolicy, RetryPolicy, TimeoutPolicy
from streamtap.graph._timeout import sync_timeout_unsupported

#: the node a default error handler runs as (LangGraph's name)
DEFAULT_ERROR_HANDLER = "__default_error_handler__"
ERROR_HANDLER_PREFIX = "__error_handler__"


@dataclass(slots=True)
class NodeDefaults:
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None
    cache_policy: CachePolicy[Any] | None = None
    error_handler: Any = None
    timeout: TimeoutPolicy | None = None


def with_defaults(
    nodes: dict[str, NodeSpec],
    defaults: NodeDefaults,
    handler_spec: Callable[[str, Any], NodeSpec],
) -> dict[str, NodeSpec]:
    """The nodes to compile: ``nodes`` with ``defaults`` filled in, plus the default
    error handler's node (``handler_spec(name, handler)`` builds it)."""
    out = dict(nodes)
    default_handler = None
    if defaults.error_handler is not None:
        if DEFAULT_ERROR_HANDLER in out:
            raise ValueError(
                f"Auto-generated default error handler node `{DEFAULT_ERROR_HANDLER}` "
                "already exists."
            )
        default_handler = DEFAULT_ERROR_HANDLER
        out[default_handler] = handler_spec(default_handler, defaults.error_handler)
    for name, spec in out.items():
        update: dict[str, Any] = {}
        if default_handler and not spec.is_error_handler and spec.error_handler_node is None:
            update["error_handler_node"] = default_handler
        if defaults.retry_policy is not None and spec.retry_policy is None:
            update["retry_policy"] = defaults.retry_policy
        if (
            defaults.cache_policy is not None
            and not spec.is_error_handler
            and spec.cache_policy is None
        ):
            update["cache_policy"] = defaults.cache_policy
        if defaults.timeout is not None and spec.timeout is None:
            update["timeout"] = defaults.timeout
        if update:
            out[name] = replace(spec, **update)
    return out


def check_timeouts(nodes: dict[str, NodeSpec]) -> None:
    """Refuse a timeout on a node that cannot be cancelled (a sync function or a
    Runnable without its own ``ainvoke``), as LangGraph's compile does."""
    for name, spec in nodes.items():
        if spec.timeout is not None and not _cancellable(spec.action):
            raise sync_timeout_unsupported(name)


def _cancellable(action: Any) -> bool:
    runnable = action.runnable
    if runnable is None:
        return bool(action.is_async)
    from langchain_core.runnables import Runnable, RunnableLambda

    if isinstance(runnable, RunnableLambda):
        return bool(getattr(runnable, "afunc", None))
    return type(runnable).ainvoke is not Runnable.ainvoke
