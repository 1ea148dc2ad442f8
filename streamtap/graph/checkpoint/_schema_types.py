"""Which classes a graph's schemas say its state may hold: the serializer's allow-list.

Walked from the state / input / output / context schemas, so that a graph's own
types load without the user listing them, and nothing else does.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from collections.abc import Mapping
from typing import Any, Final

from typing_extensions import is_typeddict

_NUMPY_ARRAY: Final = ("numpy", "ndarray")

_SKIP_MODULES: Final = frozenset(
    {"builtins", "types", "typing", "typing_extensions", "collections", "collections.abc"}
)


def types_in_schemas(*schemas: Any) -> set[type]:
    """The classes a graph's schemas say its state may hold, for the allow-list.

    Only the kinds ``JsonPlusSerializer`` stores by class name are collected
    (pydantic models, dataclasses, enums, named tuples, pydantic secrets, numpy
    arrays); a TypedDict is a plain dict in a checkpoint, so only its fields
    are walked. Annotations that do not resolve (forward references) are skipped.
    """
    found: set[type] = set()
    seen: dict[int, Any] = {}  # holds what it saw: a freed annotation's id gets reused
    for schema in schemas:
        _collect(schema, found, seen)
    return found


def _collect(tp: Any, found: set[type], seen: dict[int, Any]) -> None:
    if tp is None or isinstance(tp, (str, typing.ForwardRef)) or id(tp) in seen:
        return
    seen[id(tp)] = tp
    if type(tp).__name__ == "TypeAliasType":  # `type X = ...`
        _collect(getattr(tp, "__value__", None), found, seen)
        return
    if hasattr(tp, "__supertype__"):  # NewType
        _collect(tp.__supertype__, found, seen)
        return
    origin = typing.get_origin(tp)
    if origin is typing.Literal or origin is typing.ClassVar:
        return
    if origin is not None:
        args = typing.get_args(tp)
        for arg in args[:1] if origin is typing.Annotated else args:
            _collect(arg, found, seen)
        if isinstance(origin, type):
            _collect(origin, found, seen)  # a generic user class: Model[int], ndarray[...]
        return
    if not isinstance(tp, type) or tp.__module__ in _SKIP_MODULES:
        return
    if is_typeddict(tp):
        _collect_fields(tp, found, seen)
    elif _stored_by_name(tp):
        found.add(tp)
        if not issubclass(tp, enum.Enum):
            _collect_fields(tp, found, seen)


def _stored_by_name(tp: type) -> bool:
    """Whether ``JsonPlusSerializer`` writes values of ``tp`` as ``(module, name, ...)``."""
    return (
        dataclasses.is_dataclass(tp)
        or issubclass(tp, enum.Enum)
        or (issubclass(tp, tuple) and hasattr(tp, "_fields"))
        or callable(getattr(tp, "model_dump", None))
        or callable(getattr(tp, "get_secret_value", None))
        or (callable(getattr(tp, "dict", None)) and hasattr(tp, "__fields__"))
        or (tp.__module__, tp.__name__) == _NUMPY_ARRAY
    )


def _collect_fields(tp: type, found: set[type], seen: dict[int, Any]) -> None:
    for hint in _field_types(tp):
        _collect(hint, found, seen)


def _field_types(tp: type) -> list[Any]:
    """The annotations of ``tp``'s stored fields (not its class variables or private attrs)."""
    hints = _hints(tp)
    declared: dict[str, Any]
    model_fields = getattr(tp, "model_fields", None)
    if isinstance(model_fields, Mapping):  # pydantic v2
        declared = {n: getattr(f, "annotation", None) for n, f in model_fields.items()}
    elif dataclasses.is_dataclass(tp):
        declared = {f.name: f.type for f in dataclasses.fields(tp)}
    elif isinstance(getattr(tp, "_fields", None), tuple):  # named tuple
        declared = dict.fromkeys(tp._fields)  # type: ignore[attr-defined]
    elif isinstance(v1_fields := getattr(tp, "__fields__", None), Mapping):  # pydantic v1
        declared = {n: getattr(f, "outer_type_", None) for n, f in v1_fields.items()}
    else:  # TypedDict
        declared = dict.fromkeys(hints)
    return [hints.get(name, annotation) for name, annotation in declared.items()]


def _hints(tp: type) -> dict[str, Any]:
    """Resolved annotations; one that does not resolve costs only itself, not the class."""
    module = sys.modules.get(tp.__module__)
    globalns = dict(vars(module)) if module else {}
    localns = {tp.__name__: tp, **vars(tp)}
    try:
        return typing.get_type_hints(tp, globalns, localns, include_extras=True)
    except Exception:
        pass
    hints: dict[str, Any] = {}
    for klass in reversed(tp.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            try:
                hints[name] = _resolve(annotation, globalns, localns)
            except Exception:
                hints[name] = None
    return hints


def _resolve(annotation: Any, globalns: dict[str, Any], localns: dict[str, Any]) -> Any:
    def holder() -> None: ...

    holder.__annotations__ = {"x": annotation}
    return typing.get_type_hints(holder, globalns, localns, include_extras=True)["x"]
