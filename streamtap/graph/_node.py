"""Nodes and routers as the step loop calls them: one sync and one async entry each.

Which extra arguments a function takes (``config``, ``writer``) is read once,
when the node is added, so calling it costs a dict build and nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.store.base import BaseStore

from streamtap.graph._config import merge_configs
from streamtap.graph._constants import CONF
from streamtap.graph._node_errors import KEY_NODE_ERROR, NodeError
from streamtap.graph._runtime import TaskContext
from streamtap.graph.runtime import KEY_RUNTIME
from streamtap.graph.types import Send, StreamWriter

_EMPTY = inspect.Parameter.empty
_VALID_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
#: parameter -> (annotations that ask for it, the Runtime attribute, the default if absent):
#: LangGraph's ``KWARGS_CONFIG_KEYS``. ``None`` as annotations: any annotation.
_INJECTED: tuple[tuple[str, tuple[Any, ...] | None, str, Any], ...] = (
    (
        "config",
        (
            RunnableConfig,
            "RunnableConfig",
            RunnableConfig | None,
            "Optional[RunnableConfig]",
            "RunnableConfig | None",
            _EMPTY,
        ),
        "",
        _EMPTY,
    ),
    ("writer", (StreamWriter, "StreamWriter", _EMPTY), "stream_writer", None),
    ("store", (BaseStore, "BaseStore", _EMPTY), "store", _EMPTY),
    ("store", (BaseStore | None, "Optional[BaseStore]", "BaseStore | None"), "store", None),
    ("previous", None, "previous", _EMPTY),
    ("runtime", None, "", _EMPTY),
    ("error", (NodeError, "NodeError"), "N/A", None),  # an error handler's (NodeError)
)


def _accepted_kwargs(fn: Callable[..., Any]) -> dict[str, tuple[str, Any]]:
    """Which of LangGraph's injectable parameters ``fn`` declares, read once when the
    node is added: name -> (its Runtime attribute, its default when there is none).

    A parameter is injected only when its annotation asks for it, as LangGraph decides:
    a ``config`` typed as something else gets LangGraph's warning and no value.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    accepts: dict[str, tuple[str, Any]] = {}
    for name, wanted, attr, default in _INJECTED:
        p = params.get(name)
        if p is None or p.kind not in _VALID_KINDS or name in accepts:
            continue
        if wanted is not None and p.annotation not in wanted:
            if name == "config" and p.annotation is not _EMPTY:
                warnings.warn(
                    "The 'config' parameter should be typed as 'RunnableConfig' or "
                    f"'RunnableConfig | None', not '{p.annotation}'. ",
                    UserWarning,
                    stacklevel=4,
                )
            continue
        accepts[name] = (attr, default)
    return accepts


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


class Action:
    """A user function or Runnable plus how to call it."""

    __slots__ = ("accepts", "fn", "is_async", "name", "runnable")

    def __init__(self, fn: Any, name: str) -> None:
        self.name = name
        self.runnable: Runnable[Any, Any] | None = fn if isinstance(fn, Runnable) else None
        self.fn = fn
        self.is_async = self.runnable is None and _is_async(fn)
        self.accepts = {} if self.runnable is not None else _accepted_kwargs(fn)

    @property
    def func(self) -> Any:
        """The function called (LangGraph's ``RunnableCallable.func``)."""
        return self.fn

    def _kwargs(self, config: RunnableConfig, ctx: TaskContext | None) -> dict[str, Any]:
        if not self.accepts:
            return {}
        kwargs: dict[str, Any] = {}
        runtime = config.get(CONF, {}).get(KEY_RUNTIME)
        for name, (attr, default) in self.accepts.items():
            value: Any = _EMPTY
            if name == "config":
                value = config
            elif name == "writer" and ctx is not None:
                value = ctx.writer
            elif name == "error":
                value = config.get(CONF, {}).get(KEY_NODE_ERROR, _EMPTY)
            elif runtime is not None:
                value = runtime if name == "runtime" else getattr(runtime, attr, _EMPTY)
            if value is _EMPTY:
                if default is _EMPTY:
                    raise ValueError(
                        f"Missing required config key '{attr or 'N/A'}' for '{self.name}'."
                    )
                value = default
            kwargs[name] = value
        return kwargs

    def call(self, arg: Any, config: RunnableConfig, ctx: TaskContext | None) -> Any:
        if self.runnable is not None:
            return self.runnable.invoke(arg, config)
        if self.is_async:
            raise TypeError(
                f'No synchronous function provided to "{self.name}".\nEither initialize '
                "with a synchronous function or invoke via the async API (ainvoke, astream, etc.)"
            )
        return self.fn(arg, **self._kwargs(config, ctx))

    async def acall(self, arg: Any, config: RunnableConfig, ctx: TaskContext | None) -> Any:
        if self.runnable is not None:
            return await self.runnable.ainvoke(arg, config)
        if self.is_async:
            return await self.fn(arg, **self._kwargs(config, ctx))
        # A sync function under astream runs in a thread, context copied.
        loop = asyncio.get_running_loop()
        ctxv = contextvars.copy_context()
        return await loop.run_in_executor(
            None, functools.partial(ctxv.run, self.fn, arg, **self._kwargs(config, ctx))
        )


def _node_config(spec: NodeSpec, config: RunnableConfig | None) -> RunnableConfig:
    """``config`` with the node's metadata under it, as LangGraph's ``PregelNode`` runs."""
    return merge_configs({"metadata": dict(spec.metadata or {})}, config or {})


@dataclass(slots=True)
class NodeSpec:
    name: str
    action: Action
    metadata: dict[str, Any] | None = None
    input_mapper: Callable[[dict[str, Any]], Any] | None = None
    input_keys: tuple[str, ...] = ()
    #: the schema the node reads (its own, else the state schema): ``input_keys`` are its keys
    input_schema: Any = None
    is_subgraph: bool = False
    #: the compiled graph this node runs: the node itself, or one its function refers to
    subgraph: Any = None
    #: where a ``Command`` may send it (``destinations=``); a dict maps each to its edge label
    ends: tuple[str, ...] | dict[str, str] | None = None
    #: runs only when nothing else is left to run (``add_node(..., defer=True)``)
    defer: bool = False
    #: LangGraph's node policies (``_policies``): retries, cache, timeout, error handler
    retry_policy: Any = None
    cache_policy: Any = None
    timeout: Any = None
    error_handler_node: str | None = None
    is_error_handler: bool = False
    #: what tracers record of the node's run (``_trace``)
    trace_policy: Any = None

    @property
    def runnable(self) -> Any:
        """LangGraph's ``StateNodeSpec.runnable``: the Runnable the node runs, or (for a
        function) its wrapper, whose ``func`` is the function."""
        return self.action.runnable or self.action

    @property
    def subgraphs(self) -> list[Any]:
        """LangGraph's ``PregelNode.subgraphs``: the graph this node runs, if any."""
        return [] if self.subgraph is None else [self.subgraph]

    @property
    def bound(self) -> Any:
        """LangGraph's ``PregelNode.bound``: what the node runs (``graph.nodes[name].bound``)."""
        return self.runnable

    def invoke(self, input: Any, config: RunnableConfig | None = None) -> Any:
        """LangGraph's ``PregelNode.invoke``: the node alone, outside any run."""
        return self.action.call(input, _node_config(self, config), None)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None) -> Any:
        return await self.action.acall(input, _node_config(self, config), None)

    def copy(self, update: dict[str, Any]) -> NodeSpec:
        return replace(self, **update)


@dataclass(slots=True)
class BranchSpec:
    path: Action
    path_map: dict[Hashable, str] | None = None
    ends: tuple[str, ...] = field(default_factory=tuple)
    #: the schema the router's first parameter names; compile() fills in what it reads:
    #: that schema's keys (else its node's, else the state's) and how they are coerced
    input_schema: Any = None
    input_keys: tuple[str, ...] | None = None
    input_mapper: Callable[[dict[str, Any]], Any] | None = None

    def destinations(self, result: Any) -> list[str | Send]:
        """Map a router's return value to node names / Sends, END included."""
        items = result if isinstance(result, list | tuple) else [result]
        out: list[str | Send] = []
        for r in items:
            if isinstance(r, Send):
                out.append(r)
                continue
            if self.path_map is not None:
                if r not in self.path_map:
                    raise ValueError(
                        f"Router {self.path.name!r} returned {r!r}, which is not in its "
                        f"path_map {list(self.path_map)}"
                    )
                out.append(self.path_map[r])
            elif isinstance(r, str):
                out.append(r)
            else:
                raise ValueError(
                    f"Router {self.path.name!r} returned {r!r}: expected a node name, "
                    "END, a Send, or a list of those"
                )
        return out


def path_map_for(
    path_map: dict[Hashable, str] | Sequence[str] | None,
) -> dict[Hashable, str] | None:
    if path_map is None:
        return None
    if isinstance(path_map, dict):
        return dict(path_map)
    return {name: name for name in path_map}
