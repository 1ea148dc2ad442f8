"""The trigger channels of a deferred node (``add_node(..., defer=True)``): LangGraph's
``LastValueAfterFinish`` and ``NamedBarrierValueAfterFinish``.

A deferred node's trigger is held until the run is (tentatively) over: when a step
triggers no other node, ``apply_writes`` calls ``finish()`` on every channel, which
makes these available, so the node runs last (a summary after a fan-out of any depth).
Their checkpoint values are LangGraph's ``(value, finished)`` / ``(seen, finished)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamtap.graph._channels import Channel
from streamtap.graph._constants import MISSING
from streamtap.graph.errors import InvalidUpdateError


class AfterFinish(Channel):
    """A branch channel (``branch:to:<node>``) of a deferred node."""

    __slots__ = ("finished",)

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.finished = False

    def fresh(self) -> AfterFinish:
        return AfterFinish(self.key)

    def copy(self) -> AfterFinish:
        new = AfterFinish(self.key)
        new.value, new.finished = self.value, self.finished
        return new

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self.finished = False
        self.value = values[-1]
        return True

    def is_available(self) -> bool:
        return self.value is not MISSING and self.finished

    def consume(self) -> bool:
        if self.finished:
            self.finished, self.value = False, MISSING
            return True
        return False

    def finish(self) -> bool:
        if not self.finished and self.value is not MISSING:
            self.finished = True
            return True
        return False

    def checkpoint(self) -> Any:
        return MISSING if self.value is MISSING else (self.value, self.finished)

    def restore(self, saved: Any) -> AfterFinish:
        new = AfterFinish(self.key)
        if saved is not MISSING:
            new.value, new.finished = saved
        return new


class BarrierAfterFinish(Channel):
    """A join (``join:a+b:<node>``) into a deferred node: all sources, then the run's end."""

    __slots__ = ("finished", "names")

    def __init__(self, key: str, names: frozenset[str]) -> None:
        super().__init__(key)
        self.names = names
        self.value: set[str] = set()
        self.finished = False

    def fresh(self) -> BarrierAfterFinish:
        return BarrierAfterFinish(self.key, self.names)

    def copy(self) -> BarrierAfterFinish:
        new = BarrierAfterFinish(self.key, self.names)
        new.value, new.finished = set(self.value), self.finished
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
        return self.finished and self.value == self.names

    def consume(self) -> bool:
        if self.finished and self.value == self.names:
            self.finished, self.value = False, set()
            return True
        return False

    def finish(self) -> bool:
        if not self.finished and self.value == self.names:
            self.finished = True
            return True
        return False

    def checkpoint(self) -> Any:
        return (self.value, self.finished)

    def restore(self, saved: Any) -> BarrierAfterFinish:
        new = BarrierAfterFinish(self.key, self.names)
        if saved is not MISSING:
            seen, new.finished = saved
            new.value = set(seen)
        return new
