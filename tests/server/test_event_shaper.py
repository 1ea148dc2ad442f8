"""``messages`` mode: the shaper's running sum gives exactly the events ``seen + msg`` gave."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    message_chunk_to_message,
)

from streamtap.server._serde import dumps
from streamtap.server._shaper import EventShaper

META = {"langgraph_node": "agent"}


def _reference(stream: list[BaseMessage]) -> list[tuple[str, bytes]]:
    """The shaper before the accumulator: ``seen + msg`` for every chunk."""
    seen: dict[str, BaseMessage] = {}
    events: list[tuple[str, bytes]] = []
    for msg in stream:
        key = str(msg.id)
        before = seen.get(key)
        if before is None:
            seen[key] = msg
            events.append(("messages/metadata", dumps({key: {"metadata": META}})))
        elif isinstance(before, BaseMessageChunk) and isinstance(msg, BaseMessageChunk):
            seen[key] = before + msg
        else:
            seen[key] = msg
        whole = seen[key]
        name = "messages/partial" if isinstance(msg, BaseMessageChunk) else "messages/complete"
        out = message_chunk_to_message(whole) if isinstance(whole, BaseMessageChunk) else whole
        events.append((name, dumps([out])))
    return events


def _tool(args: str, first: bool = False, **kw: Any) -> AIMessageChunk:
    chunk = {"name": "search" if first else None, "args": args, "id": "call_1" if first else None}
    return AIMessageChunk(
        content="", tool_call_chunks=[{**chunk, "index": 0, "type": "tool_call_chunk"}], **kw
    )


def _reasoning(text: str, **kw: Any) -> AIMessageChunk:
    return AIMessageChunk(content=[{"type": "reasoning", "reasoning": text, "index": 0}], **kw)


LAST = {
    "response_metadata": {"finish_reason": "stop", "model_name": "m"},
    "usage_metadata": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8},
    "chunk_position": "last",
}

STREAMS = {
    "text": [AIMessageChunk(content=t, id="a") for t in ["Hel", "lo", ", ", "world", "!"]]
    + [AIMessageChunk(content="", id="a", **LAST)],
    "reasoning-then-text": [_reasoning(t, id="a") for t in ["The user", " greets"]]
    + [AIMessageChunk(content=t, id="a") for t in ["Hi", " there"]]
    + [AIMessageChunk(content="", id="a", **LAST)],
    "text-then-tool-call": [
        AIMessageChunk(content="Let me look", id="a"),
        _tool("", first=True, id="a"),
        _tool('{"q": ', id="a"),
        _tool('"cats"}', id="a"),
        AIMessageChunk(content="", id="a", **LAST),
    ],
    "two-messages-interleaved": [
        AIMessageChunk(content="a1", id="a"),
        AIMessageChunk(content="b1", id="b"),
        AIMessageChunk(content="a2", id="a"),
        AIMessageChunk(content="b2", id="b"),
    ],
    "no-id": [AIMessageChunk(content=t) for t in ["x", "y", "z"]],
    "chunks-then-complete": [
        AIMessageChunk(content="dr", id="a"),
        AIMessageChunk(content="aft", id="a"),
        AIMessage(content="final", id="a"),
    ],
    "tool-message-chunks": [
        ToolMessageChunk(content=t, id="t", tool_call_id="call_1") for t in ["res", "ult"]
    ],
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_accumulated_messages_match_the_plain_sum(name: str) -> None:
    stream = STREAMS[name]
    shaper = EventShaper(["messages"])
    events = [e for msg in stream for e in shaper.events((), "messages", (msg, META))]
    assert events == _reference(stream)


def test_tuples_and_accumulation_together_keep_their_order() -> None:
    shaper = EventShaper(["messages-tuple", "messages"])
    chunk = AIMessageChunk(content="hi", id="a")
    events = list(shaper.events(("sub:1",), "messages", (chunk, META)))
    assert [name for name, _ in events] == [
        "messages|sub:1",
        "messages/metadata|sub:1",
        "messages/partial|sub:1",
    ]


def test_numpy_values_serialize_as_lists_and_numbers() -> None:
    np = pytest.importorskip("numpy")
    payload = {
        "a": np.arange(3),
        "m": np.array([[1.5, 2.0]]),
        "s": np.float32(0.5),
        "i": np.int64(7),
    }
    assert dumps(payload) == b'{"a":[0,1,2],"m":[[1.5,2.0]],"s":0.5,"i":7}'
