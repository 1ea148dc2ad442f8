"""The ``messages`` reducer and the ready-made ``MessagesState``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    RemoveMessage,
    convert_to_messages,
    message_chunk_to_message,
)

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"]

REMOVE_ALL_MESSAGES = "__remove_all__"


def _coerce(messages: list[Any]) -> list[BaseMessage]:
    if all(isinstance(m, BaseMessage) and not isinstance(m, BaseMessageChunk) for m in messages):
        return messages
    return [
        message_chunk_to_message(m) if isinstance(m, BaseMessageChunk) else m
        for m in convert_to_messages(messages)
    ]


def add_messages(left: Any, right: Any) -> list[BaseMessage]:
    """Append ``right`` to ``left``, replacing messages with the same id.

    Id-less messages get a uuid4 id (the object is mutated, so what was streamed
    and what is stored agree); ``RemoveMessage(id=...)`` deletes, and
    ``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` clears everything before it.
    Strings, ``(role, content)`` tuples, dicts and chunks are converted to messages.
    """
    left_list = _coerce(left if isinstance(left, list) else [left])
    right_list = _coerce(right if isinstance(right, list) else [right])
    for m in left_list:
        if m.id is None:
            m.id = str(uuid.uuid4())
    remove_all_idx = None
    for idx, m in enumerate(right_list):
        if m.id is None:
            m.id = str(uuid.uuid4())
        if isinstance(m, RemoveMessage) and m.id == REMOVE_ALL_MESSAGES:
            remove_all_idx = idx
    if remove_all_idx is not None:
        return right_list[remove_all_idx + 1 :]
    merged = left_list.copy()
    index = {m.id: i for i, m in enumerate(merged)}
    to_remove: set[str] = set()
    for m in right_list:
        existing = index.get(m.id)
        if existing is not None:
            if isinstance(m, RemoveMessage):
                to_remove.add(m.id)  # type: ignore[arg-type]
            else:
                to_remove.discard(m.id)  # type: ignore[arg-type]
                merged[existing] = m
        else:
            if isinstance(m, RemoveMessage):
                raise ValueError(
                    f"Attempting to delete a message with an ID that doesn't exist ('{m.id}')"
                )
            index[m.id] = len(merged)
            merged.append(m)
    if to_remove:
        merged = [m for m in merged if m.id not in to_remove]
    return merged


class MessagesState(TypedDict):
    """State with a single ``messages`` list merged by :func:`add_messages`."""

    messages: Annotated[list[AnyMessage], add_messages]
