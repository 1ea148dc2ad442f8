"""FakeChatModel on its own: the chunk contract, langchain-core's surface, a graph, the seam."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

import streamtap.graph as st
from streamtap.errors import OverloadedError, ProviderConnectionError, StreamInterrupted
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import (
    Finish,
    Pause,
    Reasoning,
    ToolCall,
    Usage,
    disconnect,
    overloaded,
    words,
)


def test_words_keeps_the_spaces() -> None:
    assert words("Hello there  world") == ["Hello ", "there  ", "world"]
    assert "".join(words("a b c ")) == "a b c "


def test_text_tool_call_fragments_and_usage_fold_into_one_message() -> None:
    fake = FakeChatModel(
        scripts=[
            [
                "Let me look.",
                ToolCall(0, id="call_1", name="lookup"),
                ToolCall(0, args='{"q": '),
                ToolCall(0, args='"tcp"}'),
                Usage(12, 7),
            ]
        ]
    )
    chunks = list(fake.stream("hi"))
    assert [c.id for c in chunks] == ["fake-1"] * 5
    assert chunks[1].tool_call_chunks == [
        {"type": "tool_call_chunk", "index": 0, "id": "call_1", "name": "lookup", "args": ""}
    ]
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "tool_calls"
    message = FakeChatModel(scripts=fake.scripts).invoke("hi")
    assert isinstance(message, AIMessage)
    assert message.content == "Let me look."
    assert message.tool_calls == [
        {"name": "lookup", "args": {"q": "tcp"}, "id": "call_1", "type": "tool_call"}
    ]
    assert message.usage_metadata == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}


def test_reasoning_is_a_standard_block() -> None:
    fake = FakeChatModel(scripts=[[Reasoning("think"), Reasoning(" more"), "Answer", Finish()]])
    message = fake.invoke("hi")
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]
    assert message.content_blocks[0]["reasoning"] == "think more"  # type: ignore[typeddict-item]


def test_failures_before_and_after_the_first_chunk() -> None:
    fake = FakeChatModel(scripts=[[overloaded()], ["Hello ", Usage(3, 1), disconnect()]])
    with pytest.raises(OverloadedError):
        list(fake.stream("hi"))
    got: list[Any] = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in fake.stream("hi"):
            got.append(chunk.content)
    assert got == ["Hello "]
    assert isinstance(info.value.__cause__, ProviderConnectionError)
    partial = info.value.partial
    assert partial is not None and partial.content == "Hello " and partial.id == "fake-2"
    assert partial.usage_metadata == {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    assert partial.response_metadata["model_name"] == "fake-model"


def test_requests_are_recorded_and_scripts_run_out() -> None:
    tool = {"name": "lookup", "description": "d", "parameters": {"type": "object"}}
    fake = FakeChatModel(scripts=["one"])
    fake.bind_tools([tool], tool_choice="any").invoke([HumanMessage("hi")], stop=["END"])
    (request,) = fake.requests
    assert request.messages == [HumanMessage("hi")]
    assert request.stop == ["END"]
    assert request.tools == [tool] and request.kwargs["tool_choice"] == "any"
    assert request.prefill is None and request.closed
    with pytest.raises(AssertionError, match="request 2 but only 1 script"):
        fake.invoke("again")
    cycling = FakeChatModel(scripts=["a", "b"], cycle=True)
    assert [cycling.invoke("x").content for _ in range(3)] == ["a", "b", "a"]


def test_abort_wakes_a_sync_pause_from_another_thread() -> None:
    fake = FakeChatModel(scripts=[["a", Pause(5.0), "b"]])
    stream = fake.open([HumanMessage("hi")])
    chunks = iter(stream)
    assert next(chunks).content == "a"
    threading.Timer(0.05, stream.abort).start()
    start = time.monotonic()
    with pytest.raises(StreamInterrupted):
        next(chunks)
    assert time.monotonic() - start < 1.0
    stream.close()
    assert stream.partial is not None and stream.partial.content == "a"


async def test_astream_events_and_a_graph_messages_mode() -> None:
    fake = FakeChatModel(scripts=[words("Hi there"), words("Hi there")])
    events = [e async for e in fake.astream_events("hi", version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed == ["Hi ", "there", ""]

    def llm(state: Any) -> dict[str, Any]:
        return {"messages": [fake.invoke(state["messages"])]}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", llm)
    builder.add_edge(st.START, "llm")
    graph = builder.compile()
    tokens = [
        chunk.content
        for chunk, _ in graph.stream({"messages": [("user", "hi")]}, stream_mode="messages")
    ]
    assert tokens[:2] == ["Hi ", "there"]


def test_keep_requests_off_counts_without_keeping() -> None:
    fake = FakeChatModel(scripts=["a", "b"], cycle=True, keep_requests=False, id_prefix="m-")
    ids = [fake.invoke("hi").id for _ in range(3)]
    assert ids == ["m-1", "m-2", "m-3"] and fake.served == 3 and fake.requests == []
    kept = FakeChatModel(scripts=["a"], cycle=True)
    kept.invoke("hi")
    assert kept.served == 1 and len(kept.requests) == 1
