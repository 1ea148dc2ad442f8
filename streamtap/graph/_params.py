"""LangGraph's call parameters: the ones streamtap.graph reads, and the ones it refuses.

A drop-in that accepts a parameter and behaves differently is worse than one
that refuses it. A LangGraph parameter whose effect streamtap.graph does not
have raises ``NotImplementedError`` naming it; anything else raises
``TypeError``, as a misspelt keyword does in Python. Values that ask for
streamtap's own behaviour are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from streamtap.graph._deprecations import warn_deprecated
from streamtap.graph._printing import DEBUG_PRINT_MODES

__all__ = ["CallOptions", "call_options", "check_call_kwargs"]

_GAPS: Final = "see 'Not (yet) covered' in docs/graphs.md"

#: LangGraph parameter -> the values that mean what streamtap.graph already does.
_SAME_AS_OURS: Final[Mapping[str, tuple[Any, ...]]] = {
    "output_keys": (None,),
}

#: LangGraph parameters ``stream()`` reads (``call_options``): any value is fine here
_READ: Final = frozenset(("debug", "print_mode", "checkpoint_during"))


def check_call_kwargs(method: str, kwargs: Mapping[str, Any]) -> None:
    """Raise for every keyword of ``kwargs`` that streamtap.graph would not honour."""
    unknown = sorted(k for k in kwargs if k not in _SAME_AS_OURS and k not in _READ)
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword argument(s): {', '.join(unknown)}")
    for name, value in kwargs.items():
        if name in _READ:
            continue
        if not any(value is ok or value == ok for ok in _SAME_AS_OURS[name]):
            raise NotImplementedError(
                f"{method}({name}={value!r}) is a LangGraph parameter streamtap.graph does not "
                f"implement; {_GAPS}"
            )


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What a run's extra LangGraph keywords ask for."""

    print_modes: frozenset[str]
    durability: Any


def call_options(
    method: str, kwargs: Mapping[str, Any], *, debug: bool, durability: Any
) -> CallOptions:
    """Check ``kwargs`` and read the ones that change the run: ``debug`` / ``print_mode``
    (what to print) and the deprecated ``checkpoint_during`` (``durability``)."""
    check_call_kwargs(method, kwargs)
    if (during := kwargs.get("checkpoint_during")) is not None:
        warn_deprecated(
            "`checkpoint_during` is deprecated and will be removed. Please use `durability` "
            "instead.",
            "1.0",
            stacklevel=4,
        )
        if durability is not None:
            raise ValueError(
                "Cannot use both `checkpoint_during` and `durability` parameters. Please use "
                "`durability` instead."
            )
        durability = "async" if during else "exit"
    if kwargs.get("debug") or debug:
        return CallOptions(DEBUG_PRINT_MODES, durability)
    return CallOptions(_print_modes(kwargs.get("print_mode") or ()), durability)


def _print_modes(print_mode: str | Sequence[str]) -> frozenset[str]:
    from streamtap.graph._io import modes_of

    if not print_mode:
        return frozenset()
    return modes_of(print_mode)
