"""The ``messages`` reducer, the ready-made ``MessagesState`` and ``push_message``."""

from __future__ import annotations

import uuid
import warnings
from functools import partial
from typing import Annotated, Any, Literal

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    MessageLikeRepresentation,
    RemoveMessage,
    convert_to_messages,
    convert_to_openai_messages,
    message_chunk_to_message,
)
from typing_extensions import TypedDict

from streamtap.graph._constants import CONF, KEY_TASK
from streamtap.graph._runtime import get_config
from streamtap.graph.state import StateGraph
from streamtap.graph.warnings import LangGraphDeprecatedSinceV10

__all__ = [
    "REMOVE_ALL_MESSAGES",
    "MessageGraph",
    "MessagesState",
    "add_messages",
    "push_message",
]

REMOVE_ALL_MESSAGES = "__remove_all__"


def _coerce(messages: list[Any]) -> list[BaseMessage]:
    if all(isinstance(m, BaseMessage) and not isinstance(m, BaseMessageChunk) for m in messages):
        return messages
    return [
        message_chunk_to_message(m) if isinstance(m, BaseMessageChunk) else m
        for m in convert_to_messages(messages)
    ]


def add_messages(
    left: Any = None,
    right: Any = None,
    *,
    format: Literal["langchain-openai"] | None = None,
) -> Any:
    """Append ``right`` to ``left``, replacing messages with the same id.

    Id-less messages get a uuid4 id (the object is mutated, so what was streamed
    and what is stored agree); ``RemoveMessage(id=...)`` deletes, and
    ``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` clears everything before it.
    Strings, ``(role, content)`` tuples, dicts and chunks are converted to messages.

    Called with neither list (``add_messages(format="langchain-openai")``) it is a
    reducer factory, as LangGraph's: that reducer stores the merged messages with
    their content in OpenAI's format (text / image_url blocks, tool results as
    ``ToolMessage``).
    """
    if left is not None and right is not None:
        return _merge(left, right, format)
    if left is not None or right is not None:
        raise ValueError(
            "Must specify non-null arguments for both 'left' and 'right'. Only "
            f"received: '{'left' if left else 'right'}'."
        )
    return partial(add_messages, format=format)


def _merge(left: Any, right: Any, format: str | None) -> list[BaseMessage]:
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
    if format == "langchain-openai":
        return convert_to_messages(convert_to_openai_messages(merged))
    if format:
        raise ValueError(f"Unrecognized {format=}. Expected one of 'langchain-openai', None.")
    return merged


class MessagesState(TypedDict):
    """State with a single ``messages`` list merged by :func:`add_messages`."""

    messages: Annotated[list[AnyMessage], add_messages]


class MessageGraph(StateGraph):
    """A graph whose whole state is one ``add_messages`` list (LangGraph's, deprecated)."""

    def __init__(self) -> None:
        warnings.warn(
            "MessageGraph is deprecated in LangGraph v1.0.0, to be removed in v2.0.0. Please "
            "use StateGraph with a `messages` key instead.",
            category=LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        super().__init__(Annotated[list[AnyMessage], add_messages])  # type: ignore[arg-type]


def push_message(
    message: MessageLikeRepresentation | BaseMessageChunk,
    *,
    state_key: str | None = "messages",
) -> AnyMessage:
    """Stream ``message`` in ``messages`` mode now, and write it to ``state_key`` (unless None).

    For a message a node builds by hand (no chat model callback sees it): it reaches
    every ``messages`` stream that takes the calling graph's parts at once, instead of
    when the node returns, and it is not streamed again when it is in the node's output.
    """
    from streamtap.middleware._messages import StreamMessagesHandler, graph_namespace

    config = get_config()
    msg: AnyMessage = convert_to_messages([message])[0]  # type: ignore[assignment]
    if msg.id is None:
        raise ValueError("Message ID is required")
    metadata = config.get("metadata", {})
    for handler in _handlers(config.get("callbacks")):
        if isinstance(handler, StreamMessagesHandler):
            ns = graph_namespace(metadata)
            if handler.subgraphs or not ns or ns == handler.parent_ns:
                handler._emit((ns, metadata), msg, dedupe=False)
    if state_key:
        config[CONF][KEY_TASK].send([(state_key, msg)])
    return msg


def _handlers(callbacks: Any) -> list[BaseCallbackHandler]:
    if isinstance(callbacks, BaseCallbackManager):
        return list(callbacks.handlers)
    if isinstance(callbacks, list):
        return [h for h in callbacks if isinstance(h, BaseCallbackHandler)]
    return []
