"""What the running graph node offers the layers below the graph, without importing it.

streamtap.graph hands each node a task context in its config (langchain-core
keeps the config in a context variable for the node's duration, threads and
tasks included). The graph stores it under :data:`TASK_KEY`; lower layers
(resilience's ``stream_reset`` signal, the token middleware) read the node's
stream writer through :func:`stream_writer` and never import ``streamtap.graph``.
A LangGraph node is found the same way through LangGraph's own ``get_stream_writer``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final

from langchain_core.runnables.config import var_child_runnable_config

__all__ = ["TASK_KEY", "stream_writer"]

#: ``config["configurable"][TASK_KEY]``: the node's task context (has a ``writer``).
TASK_KEY: Final = "__streamtap_task"


def _streamtap_writer() -> Callable[[Any], None] | None:
    config = var_child_runnable_config.get()
    task = (config or {}).get("configurable", {}).get(TASK_KEY)
    writer = getattr(task, "writer", None)
    return writer if callable(writer) else None


def _langgraph_writer() -> Callable[[Any], None] | None:
    langgraph_config = sys.modules.get("langgraph.config")  # only if the user runs LangGraph
    if langgraph_config is None:
        return None
    try:
        writer = langgraph_config.get_stream_writer()
    except Exception:  # outside a LangGraph node
        return None
    return writer if callable(writer) else None


def stream_writer() -> Callable[[Any], None] | None:
    """The ``custom``-mode writer of the graph node running now (streamtap or LangGraph), if any."""
    return _streamtap_writer() or _langgraph_writer()
