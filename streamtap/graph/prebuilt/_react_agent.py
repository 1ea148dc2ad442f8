"""``create_react_agent``: LangGraph's own function, building its graph with streamtap.graph.

The function (langgraph-prebuilt's ``chat_agent_executor.create_react_agent``) is engine
independent except for the graph classes it names as module globals. Rather than fork its
~700 lines, the very same code object runs with those globals bound to streamtap.graph's
(``StateGraph``, ``END``, ``Send``, ``CompiledStateGraph``), rebuilt on each call so the
module's other globals are read as they are then. Its deprecation warning is LangGraph's.
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings
from collections.abc import Callable
from typing import Any, Final

from langgraph.prebuilt import chat_agent_executor as _lg
from langgraph.warnings import LangGraphDeprecatedSinceV10

from streamtap.graph import END, CompiledStateGraph, Send, StateGraph

__all__ = ["create_react_agent", "create_tool_calling_executor"]

#: the globals of chat_agent_executor that make it build a LangGraph graph
ENGINE_GLOBALS: Final[dict[str, Any]] = {
    "StateGraph": StateGraph,
    "END": END,
    "Send": Send,
    "CompiledStateGraph": CompiledStateGraph,
}

_DEPRECATED: Final = _lg.create_react_agent
_ORIGINAL: Final = inspect.unwrap(_DEPRECATED)
_MISSING_GLOBALS = sorted(set(ENGINE_GLOBALS) - set(_ORIGINAL.__globals__))
if _MISSING_GLOBALS:  # pragma: no cover - a langgraph-prebuilt that builds its graph otherwise
    raise ImportError(
        "streamtap.graph.prebuilt: langgraph-prebuilt's create_react_agent no longer names "
        f"{_MISSING_GLOBALS}; it cannot be pointed at streamtap.graph"
    )


def _on_streamtap() -> Callable[..., Any]:
    namespace = {**_ORIGINAL.__globals__, **ENGINE_GLOBALS}
    fn = types.FunctionType(
        _ORIGINAL.__code__,
        namespace,
        _ORIGINAL.__name__,
        _ORIGINAL.__defaults__,
        _ORIGINAL.__closure__,
    )
    fn.__kwdefaults__ = _ORIGINAL.__kwdefaults__
    return fn


@functools.wraps(_ORIGINAL)
def create_react_agent(*args: Any, **kwargs: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
    message = getattr(_DEPRECATED, "__deprecated__", None)
    if message is not None:
        warnings.warn(message, LangGraphDeprecatedSinceV10, stacklevel=2)
    graph: CompiledStateGraph[Any, Any, Any, Any] = _on_streamtap()(*args, **kwargs)
    return graph


create_react_agent.__wrapped__ = _ORIGINAL  # type: ignore[attr-defined]
create_tool_calling_executor = create_react_agent
