"""State channels: which keys a graph's state has and how concurrent writes to each combine.

A key annotated with a binary function (``Annotated[list, operator.add]``,
``Annotated[list, add_messages]``) folds every write of a step through it; any
other key keeps the last value and rejects two writes in one step. (The
stream queue a ``stream()`` call's output goes through is ``_stream_queue``.)
"""

from __future__ import annotations

import collections.abc
import inspect
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from typing import (
    Annotated,
    Any,
    ClassVar,
    NotRequired,
    Required,
    get_args,
    get_origin,
    get_type_hints,
)

from pydantic import BaseModel

from streamtap.graph._constants import MISSING, ROOT
from streamtap.graph.errors import InvalidUpdateError
from streamtap.graph.managed import ManagedValue, managed_value_of
from streamtap.graph.types import as_overwrite


class Channel:
    """One channel's value plus its merge rule; copied per run, never shared.

    The protocol is LangGraph's (``update`` / ``consume`` / ``finish`` /
    ``is_available`` / ``checkpoint``), because a checkpoint's channel versions
    only mean the same thing to both engines if every channel bumps them at the
    same moments.
    """

    __slots__ = ("key", "value")

    def __init__(self, key: str) -> None:
        self.key = key
        self.value: Any = MISSING

    def fresh(self) -> Channel:
        raise NotImplementedError

    def copy(self) -> Channel:
        new = self.fresh()
        new.value = self.value
        return new

    def update(self, values: Sequence[Any]) -> bool:
        raise NotImplementedError

    def is_available(self) -> bool:
        return self.value is not MISSING

    def consume(self) -> bool:
        """A task read this channel as its trigger; ``True`` if that changed it."""
        return False

    def finish(self) -> bool:
        """The run is (tentatively) over; ``True`` if that changed the channel."""
        return False

    def checkpoint(self) -> Any:
        return self.value

    def restore(self, saved: Any) -> Channel:
        new = self.fresh()
        if saved is not MISSING:
            new.value = saved
        return new


class LastValue(Channel):
    __slots__ = ()

    def fresh(self) -> LastValue:
        return LastValue(self.key)

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. "
                "Use an Annotated key to handle multiple values."
            )
        self.value = values[-1]
        return True


class Reducer(Channel):
    __slots__ = ("initial", "reducer")

    def __init__(self, key: str, reducer: Callable[[Any, Any], Any], typ: Any) -> None:
        super().__init__(key)
        self.reducer = reducer
        self.initial = _initial_value(typ)
        self.value = self.initial() if self.initial is not None else MISSING

    def fresh(self) -> Reducer:
        new = Reducer.__new__(Reducer)
        new.key, new.reducer, new.initial = self.key, self.reducer, self.initial
        new.value = self.initial() if self.initial is not None else MISSING
        return new

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        start = 0
        if self.value is MISSING:
            is_overwrite, value = as_overwrite(values[0])
            self.value, start = value if is_overwrite else values[0], 1
        overwritten = False
        for value in values[start:]:
            is_overwrite, replacement = as_overwrite(value)
            if is_overwrite:
                # an Overwrite wins over every other write of the step (LangGraph's rule)
                if overwritten:
                    raise InvalidUpdateError(
                        f"At key '{self.key}': Can receive only one Overwrite value per super-step."
                    )
                self.value, overwritten = replacement, True
            elif not overwritten:
                self.value = self.reducer(self.value, value)
        return True


class Ephemeral(Channel):
    """Holds what the previous step wrote, for one step (``__start__``, ``branch:to:*``)."""

    __slots__ = ("guard",)

    def __init__(self, key: str, guard: bool) -> None:
        super().__init__(key)
        self.guard = guard

    def fresh(self) -> Ephemeral:
        return Ephemeral(self.key, self.guard)

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            if self.value is MISSING:
                return False
            self.value = MISSING
            return True
        if len(values) != 1 and self.guard:
            raise InvalidUpdateError(
                f"At key '{self.key}': EphemeralValue(guard=True) can receive only one "
                "value per step. Use guard=False if you want to store any one of multiple values."
            )
        self.value = values[-1]
        return True


class Tasks(Channel):
    """The ``Send``s written in one step, run as tasks in the next (``__pregel_tasks``)."""

    __slots__ = ()

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.value = []

    def fresh(self) -> Tasks:
        return Tasks(self.key)

    def copy(self) -> Tasks:
        new = Tasks(self.key)
        new.value = list(self.value)
        return new

    def update(self, values: Sequence[Any]) -> bool:
        updated = bool(self.value)
        self.value = []
        for value in values:
            self.value.extend(value if isinstance(value, list) else [value])
            updated = True
        return updated

    def is_available(self) -> bool:
        return bool(self.value)

    def checkpoint(self) -> Any:
        return self.value if self.value else MISSING

    def restore(self, saved: Any) -> Tasks:
        new = Tasks(self.key)
        if saved is not MISSING:
            new.value = list(saved)
        return new


class Barrier(Channel):
    """Which of a join's sources have written (``join:a+b:c``); available once all have."""

    __slots__ = ("names",)

    def __init__(self, key: str, names: frozenset[str]) -> None:
        super().__init__(key)
        self.names = names
        self.value = set()

    def fresh(self) -> Barrier:
        return Barrier(self.key, self.names)

    def copy(self) -> Barrier:
        new = Barrier(self.key, self.names)
        new.value = set(self.value)
        return new

    def update(self, values: Sequence[Any]) -> bool:
        updated = False
        for value in values:
            if value not in self.names:
                raise InvalidUpdateError(f"At key '{self.key}': Value {value} not in {self.names}")
            if value not in self.value:
                self.value.add(value)
                updated = True
        return updated

    def is_available(self) -> bool:
        return bool(self.value) and self.value == self.names

    def consume(self) -> bool:
        if self.value == self.names:
            self.value = set()
            return True
        return False

    def checkpoint(self) -> Any:
        return self.value

    def restore(self, saved: Any) -> Barrier:
        new = Barrier(self.key, self.names)
        if saved is not MISSING:
            new.value = set(saved)
        return new


_ABSTRACT_DEFAULTS: dict[Any, type] = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}


def _initial_value(typ: Any) -> Callable[[], Any] | None:
    """The empty value a reducer key starts from (``[]`` for lists), if the type has one."""
    typ = _unwrapped(typ)
    base = get_origin(typ) or typ
    base = _ABSTRACT_DEFAULTS.get(base, base)
    if not callable(base):
        return None
    try:
        base()
    except Exception:
        return None
    return base  # type: ignore[no-any-return]


def _unwrapped(hint: Any) -> Any:
    """``Required[X]`` / ``NotRequired[X]`` -> ``X``: a TypedDict's key keeps its reducer."""
    if get_origin(hint) in (Required, NotRequired):
        return get_args(hint)[0]
    return hint


def _reducer_of(hint: Any) -> tuple[Any, Callable[[Any, Any], Any]] | None:
    hint = _unwrapped(hint)
    if get_origin(hint) is not Annotated:
        return None
    typ, *meta = get_args(hint)
    last = meta[-1]
    if not callable(last) or isinstance(last, type):
        return None
    if not _takes_two_args(last):
        # a typo'd reducer would otherwise turn the key into a plain overwritten value
        raise ValueError(
            f"Invalid reducer signature. Expected (a, b) -> c. Got {_signature(last)} "
            f"for {getattr(last, '__name__', last)!r}"
        )
    return typ, last


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(?)"


def _takes_two_args(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def schema_keys(schema: Any) -> dict[str, Any]:
    """Field name -> type hint (with ``Annotated`` extras) for a TypedDict, dataclass or model.

    A schema with no annotations at all (``int``, ``list[str]``,
    ``Annotated[list, operator.add]``) is LangGraph's single ``__root__`` channel:
    the whole state is one value, read and returned bare.
    """
    if not hasattr(schema, "__annotations__"):
        return {ROOT: schema}
    try:
        hints = get_type_hints(schema, include_extras=True)
    except Exception:
        hints = dict(getattr(schema, "__annotations__", {}))
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return {k: hints.get(k, Any) for k in schema.model_fields}
    if is_dataclass(schema):
        return {f.name: hints.get(f.name, Any) for f in fields(schema)}
    return {
        k: v for k, v in hints.items() if not k.startswith("__") and get_origin(v) is not ClassVar
    }


class Managed(Channel):
    """A managed value's key (``RemainingSteps``...): never holds a value, drops writes; the
    step loop computes what a node reads (``managed.py``)."""

    __slots__ = ("manager",)

    def __init__(self, key: str, manager: type[ManagedValue[Any]]) -> None:
        super().__init__(key)
        self.manager = manager

    def fresh(self) -> Managed:
        return Managed(self.key, self.manager)

    def update(self, values: Sequence[Any]) -> bool:
        return False

    def checkpoint(self) -> Any:
        return MISSING


def channel_for(key: str, hint: Any) -> Channel:
    """The channel a key's annotation asks for: a managed value's, a reducer's, else the
    last value."""
    if (manager := managed_value_of(hint)) is not None:
        return Managed(key, manager)
    found = _reducer_of(hint)
    return Reducer(key, found[1], found[0]) if found else LastValue(key)


def same_channel(a: Channel, b: Channel) -> bool:
    """LangGraph's channel equality: two last values, or two reducers of one function
    (a lambda matches any reducer, since every lambda has the same name)."""
    if isinstance(a, Reducer) and isinstance(b, Reducer):
        names = (getattr(a.reducer, "__name__", None), getattr(b.reducer, "__name__", None))
        return "<lambda>" in names or a.reducer is b.reducer
    return type(a) is type(b)


def channels_for(schema: Any) -> dict[str, Channel]:
    return {key: channel_for(key, hint) for key, hint in schema_keys(schema).items()}


def state_mapper(schema: Any) -> Callable[[dict[str, Any]], Any] | None:
    """How a node sees the state: the schema class for dataclasses/models, else the dict."""
    if isinstance(schema, type) and (issubclass(schema, BaseModel) or is_dataclass(schema)):
        return lambda values: schema(**values)
    return None
