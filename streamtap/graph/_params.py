"""LangGraph's call parameters that streamtap.graph does not implement: never ignored.

A drop-in that accepts a parameter and behaves differently is worse than one
that refuses it. A LangGraph parameter whose effect streamtap.graph does not
have raises ``NotImplementedError`` naming it; anything else raises
``TypeError``, as a misspelt keyword does in Python. Values that ask for
streamtap's own behaviour (``debug=False``) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["check_call_kwargs"]

_GAPS: Final = "see 'Not (yet) covered' in docs/graphs.md"

#: LangGraph parameter -> the values that mean what streamtap.graph already does.
_SAME_AS_OURS: Final[Mapping[str, tuple[Any, ...]]] = {
    "debug": (None, False),
    "print_mode": ((), [], None),
    "output_keys": (None,),
    "checkpoint_during": (None, True),
}


def check_call_kwargs(method: str, kwargs: Mapping[str, Any]) -> None:
    """Raise for every keyword of ``kwargs`` that streamtap.graph would not honour."""
    unknown = sorted(k for k in kwargs if k not in _SAME_AS_OURS)
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword argument(s): {', '.join(unknown)}")
    for name, value in kwargs.items():
        if not any(value is ok or value == ok for ok in _SAME_AS_OURS[name]):
            raise NotImplementedError(
                f"{method}({name}={value!r}) is a LangGraph parameter streamtap.graph does not "
                f"implement; {_GAPS}"
            )
