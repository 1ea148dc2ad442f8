"""Public value types: the objects nodes return or raise and callers inspect.

Shapes, field names and reprs follow LangGraph so that code written against
``langgraph.types`` ports by changing the import.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple

from langchain_core.messages.tool import ToolOutputMixin
from langchain_core.runnables import RunnableConfig
from typing_extensions import TypeVar

from streamtap.graph._constants import ROOT
from streamtap.graph._fields import fields_as_updates

__all__ = [
    "Command",
    "GraphOutput",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "Send",
    "StateSnapshot",
    "StreamWriter",
]

StreamWriter = Callable[[Any], None]
"""What ``get_stream_writer()`` returns: call it with any payload for ``custom`` mode."""


ResponseT = TypeVar("ResponseT", default=Any)
OutputT = TypeVar("OutputT", default=Any)


@dataclass(init=False, slots=True)
class Interrupt(Generic[ResponseT]):
    """A value surfaced by ``interrupt()``; ``id`` addresses it in ``Command(resume={id: v})``.

    ``response_schema`` is the JSON schema of the answer ``interrupt()`` asked for (None
    when it asked for none). ``Interrupt[T]`` names the answer's type for type checkers.
    """

    value: Any
    id: str
    response_schema: type[ResponseT] | dict[str, Any] | None = None

    def __init__(
        self,
        value: Any,
        id: str = "placeholder-id",
        *,
        response_schema: type[ResponseT] | dict[str, Any] | None = None,
        **deprecated_kwargs: Any,
    ) -> None:
        self.value = value
        self.response_schema = response_schema
        ns = deprecated_kwargs.get("ns")
        if id == "placeholder-id" and isinstance(ns, Sequence) and not isinstance(ns, str):
            # an interrupt saved before LangGraph 0.6 (ns, when, resumable): its id from ns
            from xxhash import xxh3_128_hexdigest

            id = xxh3_128_hexdigest("|".join(ns).encode())
        self.id = id

    @classmethod
    def from_ns(
        cls,
        value: Any,
        ns: str,
        *,
        response_schema: type[ResponseT] | dict[str, Any] | None = None,
    ) -> Interrupt[ResponseT]:
        """The interrupt a task of checkpoint namespace ``ns`` raises first (its id, as
        ``_runtime.interrupt_id(ns, 0)`` computes it)."""
        from xxhash import xxh3_128_hexdigest

        return cls(value, xxh3_128_hexdigest(ns.encode()), response_schema=response_schema)

    @property
    def interrupt_id(self) -> str:
        """Deprecated name of ``id`` (LangGraph's warning)."""
        from streamtap.graph._deprecations import warn_deprecated

        warn_deprecated("`interrupt_id` is deprecated. Use `id` instead.", "1.0")
        return self.id


class Send:
    """Run ``node`` in the next step with ``arg`` as its whole input (map-reduce fan-out).

    ``timeout`` (a ``TimeoutPolicy``, or seconds as its ``run_timeout``) times this task
    instead of the node's own ``add_node(timeout=...)``.
    """

    __slots__ = ("arg", "node", "timeout")

    def __init__(self, /, node: str, arg: Any, *, timeout: Any = None) -> None:
        self.node = node
        self.arg = arg
        if timeout is not None:
            from streamtap.graph._policies import TimeoutPolicy

            timeout = TimeoutPolicy.coerce(timeout)
        self.timeout = timeout

    def __hash__(self) -> int:
        return hash((self.node, repr(self.arg), self.timeout))

    def __repr__(self) -> str:
        if self.timeout is None:
            return f"Send(node={self.node!r}, arg={self.arg!r})"
        return f"Send(node={self.node!r}, arg={self.arg!r}, timeout={self.timeout!r})"

    def __eq__(self, value: object) -> bool:
        return (
            isinstance(value, Send)
            and self.node == value.node
            and self.arg == value.arg
            and self.timeout == getattr(value, "timeout", None)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Send, (self.node, self.arg))


N = TypeVar("N", bound=Hashable, default=Any)


@dataclass(kw_only=True, slots=True, frozen=True)
class Command(Generic[N], ToolOutputMixin):  # a tool may return one (as LangGraph's)
    """Update state, route (``goto``) and/or resume an interrupt, from a node or as input.

    Generic as LangGraph's: ``-> Command[Literal["b", "c"]]`` on a node names where it
    may go, which ``get_graph()`` draws as its edges.
    """

    graph: str | None = None
    update: Any | None = None
    resume: Any | None = None
    goto: Send | N | Sequence[Send | N] = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def __repr__(self) -> str:
        contents = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("graph", "update", "resume", "goto")
            if getattr(self, name)
        )
        return f"Command({contents})"

    def _update_as_tuples(self) -> Sequence[tuple[str, Any]]:
        update = self.update
        if isinstance(update, dict):
            return list(update.items())
        if isinstance(update, (list, tuple)) and all(
            isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in update
        ):
            return list(update)
        if update is None:
            return []
        updates = fields_as_updates(update)
        # LangGraph's shape for an update that is no state; the write path refuses it
        return updates if updates is not None else [(ROOT, update)]

    def _goto_list(self) -> list[Send | str]:
        goto: Any = self.goto
        if isinstance(goto, (Send, str)):
            return [goto]
        return list(goto)


class StateUpdate(NamedTuple):
    """One hand-written node update for ``bulk_update_state`` (LangGraph's shape)."""

    values: dict[str, Any] | Any | None
    as_node: str | None = None
    task_id: str | None = None


class PregelTask(NamedTuple):
    """A task of a step, as ``get_state().tasks`` reports it."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Exception | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: RunnableConfig | StateSnapshot | None = None
    result: Any | None = None


class StateSnapshot(NamedTuple):
    """The saved state at the start of a step: what ran, what is next, what paused."""

    values: dict[str, Any] | Any
    next: tuple[str, ...]
    config: RunnableConfig
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: RunnableConfig | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...]


@dataclass(frozen=True)
class GraphOutput(Generic[OutputT]):
    """What ``invoke(..., version="v2")`` returns: the final value and any interrupts.

    ``result[key]`` / ``key in result`` still work as on v1's dict (``"__interrupt__"``
    included), with LangGraph's deprecation warning: read ``.value`` / ``.interrupts``.
    """

    value: OutputT
    interrupts: tuple[Interrupt, ...] = ()

    def __getitem__(self, key: str) -> Any:
        from streamtap.graph._deprecations import warn_deprecated

        warn_deprecated(_GRAPH_OUTPUT_ACCESS.format("`result[key]`"), "1.1")
        if key == "__interrupt__":
            return self.interrupts
        if isinstance(self.value, dict):
            return self.value[key]
        try:
            return getattr(self.value, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        from streamtap.graph._deprecations import warn_deprecated

        warn_deprecated(_GRAPH_OUTPUT_ACCESS.format("`key in result`"), "1.1")
        if key == "__interrupt__":
            return bool(self.interrupts)
        if isinstance(self.value, dict):
            return key in self.value
        return isinstance(key, str) and hasattr(self.value, key)


_GRAPH_OUTPUT_ACCESS = (
    "Accessing GraphOutput via {} is deprecated. Use `result.value` to access the output "
    "value directly, or `result.interrupts` for interrupts."
)


#: the marker of an ``Overwrite`` that lost its class on the way (JSON through a server)
OVERWRITE = "__overwrite__"


@dataclass(slots=True)
class Overwrite:
    """Write ``value`` to a reducer key as is, bypassing the reducer (LangGraph's).

    The dict forms ``{"__overwrite__": value}`` and ``{"value": v, "type": "__overwrite__"}``
    mean the same, so the marker survives a JSON round trip. Two overwrites of one key in
    one step raise ``InvalidUpdateError``.
    """

    value: Any
    type: Literal["__overwrite__"] = "__overwrite__"


def as_overwrite(value: Any) -> tuple[bool, Any]:
    """``(True, the value to write)`` when ``value`` is an overwrite in any of its forms."""
    if isinstance(value, Overwrite):
        return True, value.value
    if isinstance(value, dict):
        if len(value) == 1 and OVERWRITE in value:
            return True, value[OVERWRITE]
        if value.get("type") == OVERWRITE and "value" in value:
            return True, value["value"]
    return False, None


# the node policies ``add_node`` takes, importable from here as from ``langgraph.types``
from streamtap.graph._policies import (  # noqa: E402
    CachePolicy,
    RetryPolicy,
    TimeoutPolicy,
    TracePolicy,
    omit_payload,
)

__all__ += ["CachePolicy", "RetryPolicy", "TimeoutPolicy", "TracePolicy", "omit_payload"]
