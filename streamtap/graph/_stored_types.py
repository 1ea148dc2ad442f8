"""``Send``, ``Interrupt`` and ``Overwrite`` as a checkpoint stores them: under LangGraph's names.

A serializer records an object's class by module and name. Stored as
``streamtap.graph.types.Send``, a pending ``Send`` would be ignored by LangGraph
("invalid packet type") and a thread could not move to it; so what the step loop
saves names ``langgraph.types``, with the fields LangGraph's classes have, and
what it loads (LangGraph's classes, or these stand-ins) becomes streamtap's own
types again. Neither direction imports the LangGraph runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamtap.graph._constants import INTERRUPT, TASKS
from streamtap.graph.types import Interrupt, Overwrite, Send


@dataclass(slots=True)
class _StoredInterrupt:
    value: Any
    id: str
    response_schema: Any = None


@dataclass(slots=True)
class _StoredOverwrite:
    value: Any
    type: str = "__overwrite__"


class _StoredSend(Send):
    """streamtap's ``Send``, filed under LangGraph's name."""

    __slots__ = ()


for _cls, _name in (
    (_StoredInterrupt, "Interrupt"),
    (_StoredSend, "Send"),
    (_StoredOverwrite, "Overwrite"),
):
    _cls.__module__ = "langgraph.types"
    _cls.__name__ = _cls.__qualname__ = _name


def _stored_send(send: Any) -> Any:
    return _StoredSend(send.node, send.arg) if type(send) is Send else send


def _own_send(send: Any) -> Any:
    if type(send).__name__ == "Send" and type(send) is not Send:
        return Send(send.node, send.arg)
    return send


def _own_interrupt(item: Any) -> Any:
    if type(item).__name__ == "Interrupt" and not isinstance(item, Interrupt):
        return Interrupt(
            item.value, item.id, response_schema=getattr(item, "response_schema", None)
        )
    return item


def to_stored(channel: str, value: Any) -> Any:
    """``value`` written to ``channel``, as the saver should receive it."""
    if channel == TASKS:
        return [_stored_send(s) for s in value] if isinstance(value, list) else _stored_send(value)
    if channel == INTERRUPT and isinstance(value, list | tuple):
        return [
            _StoredInterrupt(i.value, i.id, i.response_schema) if isinstance(i, Interrupt) else i
            for i in value
        ]
    if type(value) is Overwrite:  # a reducer key's overwrite, pending in a step
        return _StoredOverwrite(value.value)
    return value


def from_stored(channel: str, value: Any) -> Any:
    """``value`` of ``channel`` as a saver returned it, in streamtap's types."""
    if channel == TASKS:
        return [_own_send(s) for s in value] if isinstance(value, list) else _own_send(value)
    if channel == INTERRUPT and isinstance(value, list | tuple):
        return [_own_interrupt(i) for i in value]
    if type(value).__name__ == "Overwrite" and type(value) is not Overwrite:
        return Overwrite(value.value)
    return value
