"""Make two implementations' stream output comparable.

Only what is generated afresh each run is erased: ids (task, checkpoint,
interrupt, message, run) become ``<id:N>`` numbered by first appearance, so
that "the same id shows up here and there" is still checked; timestamps
become ``<ts>``. Objects become plain tuples naming their class, so a
``langgraph.types.Interrupt`` equals a ``streamtap.graph.Interrupt``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"\b[0-9a-f]{32}\b")
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


class Normalizer:
    def __init__(self, *, number_ids: bool = True) -> None:
        self.ids: dict[str, int] = {}
        self.number_ids = number_ids

    def _id(self, match: re.Match[str]) -> str:
        if not self.number_ids:
            return "<id>"
        key = match.group(0)
        if key not in self.ids:
            self.ids[key] = len(self.ids)
        return f"<id:{self.ids[key]}>"

    def s(self, text: str) -> str:
        text = _TS.sub("<ts>", text)
        text = _UUID.sub(self._id, text)
        return _HEX32.sub(self._id, text)

    def __call__(self, obj: Any) -> Any:
        n = self
        if isinstance(obj, str):
            return n.s(obj)
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        if isinstance(obj, BaseMessage):
            dumped = obj.model_dump()
            return ("msg", type(obj).__name__, n(dumped))
        if isinstance(obj, BaseException):
            # the first sentence: LangGraph appends doc links, streamtap a hint
            first = str(obj).split("\n")[0].split(". ")[0]
            return ("exc", type(obj).__name__, n.s(first))
        if isinstance(obj, dict):
            return {n(k): n(v) for k, v in obj.items()}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # NamedTuple
            return (type(obj).__name__, *(n(getattr(obj, f)) for f in obj._fields))
        if isinstance(obj, tuple):
            return tuple(n(v) for v in obj)
        if isinstance(obj, list):
            return [n(v) for v in obj]
        if type(obj).__name__ == "Interrupt":
            return (
                "Interrupt",
                n(obj.value),
                n(obj.id),
                n(getattr(obj, "response_schema", None)),
            )  # LangGraph < 1.2.x has no response_schema
        if type(obj).__name__ == "Send":
            return ("Send", n(obj.node), n(obj.arg))
        if type(obj).__name__ == "Command":
            return ("Command", n(obj.graph), n(obj.update), n(obj.resume), n(obj.goto))
        if isinstance(obj, BaseModel):
            return (type(obj).__name__, n(obj.model_dump()))
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return (type(obj).__name__, n(dataclasses.asdict(obj)))
        if isinstance(obj, set | frozenset):
            return ("set", sorted(repr(n(v)) for v in obj))
        return ("obj", type(obj).__name__, n.s(repr(obj)))


def normalize(items: list[Any], *, number_ids: bool = True) -> list[Any]:
    return Normalizer(number_ids=number_ids)(items)  # type: ignore[no-any-return]


def _is_barrier(item: Any) -> bool:
    """Items that separate steps: values chunks and checkpoints."""
    text = repr(item)
    return "'values'" in text[:40] or "checkpoint" in text[:60] or "__start__" in text[:200]


def segment_sorted(items: list[Any]) -> list[Any]:
    """Order-insensitive within a step: for parallel tasks whose completion order races."""
    out: list[Any] = []
    seg: list[Any] = []
    for item in items:
        if _is_barrier(item):
            out.extend(sorted(seg, key=repr))
            seg = []
            out.append(item)
        else:
            seg.append(item)
    out.extend(sorted(seg, key=repr))
    return out
