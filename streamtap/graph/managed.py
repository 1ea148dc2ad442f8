"""Managed values: state keys whose value the run computes for each task instead of storing
(LangGraph's ``langgraph.managed``). ``remaining_steps: RemainingSteps`` lets an agent stop
cleanly before ``recursion_limit`` ends its run with an error.

They are never channels' stored values: a node reads them, writes to them are dropped, and
they appear in no checkpoint and no ``values`` output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from inspect import isclass
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

__all__ = ["IsLastStep", "ManagedValue", "RemainingSteps"]

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class StepScratchpad:
    """What a managed value is computed from: the task's step and the run's last step."""

    step: int
    stop: int


class ManagedValue(ABC, Generic[V]):
    @staticmethod
    @abstractmethod
    def get(scratchpad: Any) -> V: ...


class IsLastStepManager(ManagedValue[bool]):
    @staticmethod
    def get(scratchpad: Any) -> bool:
        return bool(scratchpad.step == scratchpad.stop - 1)


class RemainingStepsManager(ManagedValue[int]):
    @staticmethod
    def get(scratchpad: Any) -> int:
        return int(scratchpad.stop - scratchpad.step)


IsLastStep = Annotated[bool, IsLastStepManager]
RemainingSteps = Annotated[int, RemainingStepsManager]

#: LangGraph's managers, by class name: the same values, computed by streamtap's
_LANGGRAPH_MANAGERS: dict[str, type[ManagedValue[Any]]] = {
    "RemainingStepsManager": RemainingStepsManager,
    "IsLastStepManager": IsLastStepManager,
}


def managed_value_of(hint: Any) -> type[ManagedValue[Any]] | None:
    """The manager a key's annotation names (``Annotated[int, RemainingStepsManager]``, also
    inside ``NotRequired[...]`` / ``Required[...]``), as LangGraph finds it."""
    meta = getattr(hint, "__metadata__", None)
    if meta:
        decoration = get_origin(meta[-1]) or meta[-1]
        if isclass(decoration) and issubclass(decoration, ManagedValue):
            return decoration
        if isclass(decoration) and decoration.__module__.startswith("langgraph.managed"):
            # LangGraph's own (langgraph.prebuilt's AgentState declares its RemainingSteps)
            return _LANGGRAPH_MANAGERS.get(decoration.__name__)
    if get_origin(hint) is not None and (args := get_args(hint)) and args[0] is not hint:
        return managed_value_of(args[0])
    return None
