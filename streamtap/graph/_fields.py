"""How a dataclass or pydantic-model instance reads as state updates (LangGraph's rule).

The bottom of the value layer: ``types.Command`` and the write path both use
it, so it imports nothing from the package but the constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from pydantic import BaseModel

from streamtap.graph._constants import MISSING


def fields_as_updates(obj: Any, keys: Sequence[str] | None = None) -> list[tuple[str, Any]] | None:
    """``(field, value)`` updates from a model or dataclass instance; ``None`` for anything else.

    A model only updates fields that were set or whose value is not a None default.
    """
    cls = type(obj)
    if isinstance(obj, BaseModel):
        keep: set[str] | None = obj.model_fields_set
        defaults = {k: v.default for k, v in cls.model_fields.items()}
        names = list(cls.model_fields)
    elif is_dataclass(obj) and not isinstance(obj, type):
        keep, defaults = None, {}
        names = [f.name for f in fields(obj)]
    else:
        return None
    if keys is not None:
        names = [n for n in names if n in keys]
    out: list[tuple[str, Any]] = []
    for name in names:
        value = getattr(obj, name, MISSING)
        if value is MISSING:
            continue
        if (
            value is not None
            or defaults.get(name, MISSING) is not None
            or (keep is not None and name in keep)
        ):
            out.append((name, value))
    return out
