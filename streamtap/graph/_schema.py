"""Every schema a graph names, and the channels their keys make (LangGraph's ``schemas``).

LangGraph's state is not only the state schema: the input and output schemas, a
node's own input schema (``add_node(..., input_schema=)`` or the annotation of
its first parameter) and a router's annotated schema all add their keys as
channels. So a node may write a key only a private schema declares, and a node
typed with that schema reads it. This module collects them as ``StateGraph``
is built; ``compile()`` freezes the result.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from streamtap.graph._channels import (
    Channel,
    LastValue,
    channel_for,
    same_channel,
    schema_keys,
    state_mapper,
)
from streamtap.graph._constants import ROOT
from streamtap.graph.types import Command

__all__ = [
    "ROOT_KEYS",
    "SchemaSet",
    "branch_input_schema",
    "node_annotations",
    "pick_mapper",
    "root_updates",
    "run_output_keys",
    "warn_invalid_state_schema",
]

#: the keys of a state that is one bare value (``StateGraph(list[str])``)
ROOT_KEYS: tuple[str, ...] = (ROOT,)


def warn_invalid_state_schema(schema: Any) -> None:
    """LangGraph's warning for a schema that is neither a type nor ``Annotated[type, ...]``."""
    if isinstance(schema, type) or get_args(schema):
        return
    warnings.warn(
        f"Invalid state_schema: {schema}. Expected a type or Annotated[type, reducer]. "
        "Please provide a valid schema to ensure correct updates.\n"
        " See: https://langchain-ai.github.io/langgraph/reference/graphs/#stategraph",
        stacklevel=3,
    )


class SchemaSet:
    """The schemas a graph was given, each with its keys, and the channels of all of them.

    A key two schemas declare is one channel; a later schema may declare it as a
    plain value (it then keeps the earlier reducer), but not as another reducer.
    """

    __slots__ = ("channels", "schemas")

    def __init__(self) -> None:
        self.schemas: dict[Any, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}

    def add(self, schema: Any) -> None:
        if schema in self.schemas:
            return
        warn_invalid_state_schema(schema)
        hints = schema_keys(schema)
        made = {key: channel_for(key, hint) for key, hint in hints.items()}
        self.schemas[schema] = hints
        for key, channel in made.items():
            known = self.channels.get(key)
            if known is None:
                self.channels[key] = channel
            elif not same_channel(known, channel) and not isinstance(channel, LastValue):
                raise ValueError(f"Channel '{key}' already exists with a different type")

    def keys(self, schema: Any) -> tuple[str, ...]:
        return tuple(self.schemas[schema])


def run_output_keys(
    state_keys: tuple[str, ...], channels: Any, output_keys: str | Sequence[str] | None
) -> tuple[str, ...]:
    """What a run streams and returns: ``stream()``'s default is every channel (LangGraph's
    ``stream_channels``); invoke() passes the output schema's keys. A single channel name
    (read bare) only names a bare-value state."""
    if output_keys is None:
        return state_keys
    if isinstance(output_keys, str):
        if (output_keys,) != state_keys:
            raise NotImplementedError(
                f"stream(output_keys={output_keys!r}) (one channel read bare) is a LangGraph "
                "parameter streamtap.graph does not implement: pass a list of keys"
            )
        return (output_keys,)
    unknown = [k for k in output_keys if k not in channels]
    if unknown:
        raise ValueError(f"Key {unknown[0]} not in channels")
    return tuple(output_keys)


def pick_mapper(keys: Sequence[str], schema: Any) -> Callable[[dict[str, Any]], Any] | None:
    """How a reader sees ``keys``: coerced to a dataclass/model schema, else as read."""
    if tuple(keys) == ROOT_KEYS:
        return None
    return state_mapper(schema)


def root_updates(ret: Any) -> list[tuple[str, Any]]:
    """What a node of a bare-value state writes: its whole return value (LangGraph's
    ``_get_root``), or each Command's update and each other item of a mixed list."""
    if isinstance(ret, Command):
        return [] if ret.graph == Command.PARENT else list(ret._update_as_tuples())
    if isinstance(ret, list | tuple) and ret and any(isinstance(i, Command) for i in ret):
        out: list[tuple[str, Any]] = []
        for item in ret:
            if not isinstance(item, Command):
                out.append((ROOT, item))
            elif item.graph != Command.PARENT:
                out.extend(item._update_as_tuples())
        return out
    return [] if ret is None else [(ROOT, ret)]


def _callable_of(action: Any) -> Any:
    """The function whose annotations LangGraph reads: a function, a method, or the
    ``__call__`` method of a callable object; ``None`` for anything else (a Runnable)."""
    if inspect.isfunction(action) or inspect.ismethod(action):
        return action
    call = getattr(action, "__call__", None)  # noqa: B004 - a callable object's method
    return call if inspect.ismethod(call) else None


def _first_param_schema(fn: Any, hints: dict[str, Any]) -> Any:
    """The first parameter's annotation, when it is a class with annotations of its own."""
    first = next(iter(inspect.signature(fn).parameters))
    hint = hints.get(first)
    if hint is not None and isinstance(hint, type) and get_type_hints(hint):
        return hint
    return None


def node_annotations(action: Any) -> tuple[Any, tuple[str, ...]]:
    """What LangGraph reads off a node function's annotations: the input schema its
    first parameter names (``None`` if none), and the nodes ``-> Command[Literal[...]]``
    says it may go to (drawn as its edges)."""
    fn = _callable_of(action)
    if fn is None:
        return None, ()
    schema: Any = None
    ends: tuple[str, ...] = ()
    try:
        call = getattr(action, "__call__")  # noqa: B004, B009 - LangGraph reads __call__ first
        hints = get_type_hints(call) or get_type_hints(action)
        if not hints:
            return None, ()
        schema = _first_param_schema(action, hints)
        ends = _command_ends(hints.get("return"))
    except (NameError, TypeError, StopIteration):
        pass
    return schema, ends


def _command_ends(rtn: Any) -> tuple[str, ...]:
    if rtn is None:
        return ()
    if get_origin(rtn) is Union:
        rtn = next((a for a in get_args(rtn) if get_origin(a) is Command), rtn)
    if get_origin(rtn) is Command and (args := get_args(rtn)) and get_origin(args[0]) is Literal:
        return tuple(get_args(args[0]))
    return ()


def branch_input_schema(path: Any) -> Any:
    """The schema a router's first parameter is annotated with, if it is one (LangGraph's
    ``_get_branch_path_input_schema``): the router then reads those keys."""
    fn = _callable_of(path)
    if fn is None:
        return None
    try:
        hints = get_type_hints(fn)
        return _first_param_schema(fn, hints) if hints else None
    except (TypeError, StopIteration):
        return None
