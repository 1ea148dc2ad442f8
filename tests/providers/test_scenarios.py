"""Every SSE fixture, replayed through the real SDKs, sync and async: the summed message
matches the logical answer the fixture encodes, and every chunk obeys the contract."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk

from streamtap.errors import StreamInterrupted
from tests import _fixtures as F
from tests.providers.conftest import make_model, sse_cases, total

COMPLETE = "complete"


def _text(message: AIMessageChunk) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(p for p in message.content if isinstance(p, str))


def _reasoning(message: AIMessageChunk) -> str:
    return "".join(
        b.get("reasoning", "") for b in message.content_blocks if b["type"] == "reasoning"
    )


def _check_message(message: AIMessageChunk, want: dict, wire: str) -> None:
    assert _text(message) == want["text"] + want["refusal"]
    assert _reasoning(message) == want["reasoning"]
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        (c["name"], c["args"]) for c in want["tool_calls"]
    ]
    assert message.invalid_tool_calls == []
    if want["usage"] is None:
        return
    u = want["usage"]
    usage = message.usage_metadata
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (
        u["input_tokens"],
        u["output_tokens"],
        u["total_tokens"],
    )
    details = usage.get("input_token_details", {})
    assert details.get("cache_read", 0) == u["cache_read"]
    assert details.get("cache_creation", 0) == u["cache_creation"]
    assert usage.get("output_token_details", {}).get("reasoning", 0) == u["reasoning"]


def _check_chunks(chunks: list[AIMessageChunk], want: dict) -> None:
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and None not in ids, ids  # one stable vendor id
    (message_id,) = ids
    assert message_id.startswith(("chatcmpl-", "resp_", "msg_"))
    for chunk in chunks[:-1]:
        assert chunk.usage_metadata is None
        assert chunk.chunk_position is None
        assert not chunk.response_metadata
        if not chunk.tool_call_chunks and isinstance(chunk.content, list):
            assert all(isinstance(b, dict) for b in chunk.content)
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.usage_metadata is not None
    meta = last.response_metadata
    assert meta["finish_reason"] == want["finish_reason"]
    assert meta["finish_reason"] in (
        "stop",
        "length",
        "tool_calls",
        "content_filter",
        "refusal",
        "pause",
    )
    # the raw reason as sent; xAI ends a tool-call answer with "", which is kept
    xai_tools = meta["model_provider"] == "xai" and meta["finish_reason"] == "tool_calls"
    assert meta["native_finish_reason"] == "" if xai_tools else meta["native_finish_reason"]
    assert meta["model_name"]
    assert meta["model_provider"]
    # Text-only chunks are plain strings, so print(chunk.content) works everywhere.
    for chunk in chunks:
        if not chunk.tool_call_chunks and chunk.content and not isinstance(chunk.content, list):
            assert isinstance(chunk.content, str)


@pytest.mark.parametrize(("wire", "scenario"), sse_cases())
def test_sync_stream(router, wire: str, scenario: str) -> None:
    want = F.expected(wire, scenario)
    replay = F.mock(router, wire, scenario).side_effect
    model = make_model(wire)
    if want["ending"] == COMPLETE:
        chunks = list(model.stream("hi"))
        _check_chunks(chunks, want)
        _check_message(total(chunks), want, wire)
    else:
        seen: list[AIMessageChunk] = []
        with pytest.raises(StreamInterrupted) as info:
            for chunk in model.stream("hi"):
                seen.append(chunk)
        partial = info.value.partial
        assert partial is not None
        _check_message(partial, want, wire)
        # Nothing the user saw is lost: the partial holds every chunk yielded.
        assert _text(total(seen)) == _text(partial)
    assert all(s.closed for s in replay.streams)


@pytest.mark.parametrize(("wire", "scenario"), sse_cases())
async def test_async_stream(router, wire: str, scenario: str) -> None:
    want = F.expected(wire, scenario)
    replay = F.mock(router, wire, scenario).side_effect
    model = make_model(wire)
    if want["ending"] == COMPLETE:
        chunks = [c async for c in model.astream("hi")]
        _check_chunks(chunks, want)
        _check_message(total(chunks), want, wire)
        invoked = await model.ainvoke("hi")
        assert invoked.content == total(chunks).content
        assert invoked.usage_metadata == total(chunks).usage_metadata
        assert invoked.tool_calls == total(chunks).tool_calls
    else:
        with pytest.raises(StreamInterrupted) as info:
            async for _ in model.astream("hi"):
                pass
        assert info.value.partial is not None
        _check_message(info.value.partial, want, wire)
    assert all(s.closed for s in replay.streams)


@pytest.mark.parametrize(("wire", "scenario"), [c for c in sse_cases() if c[1] == "text"])
def test_invoke_equals_summed_stream(router, wire: str, scenario: str) -> None:
    F.mock(router, wire, scenario)
    model = make_model(wire)
    streamed = total(list(model.stream("hi")))
    invoked = model.invoke("hi")
    assert type(invoked).__name__ == "AIMessage"
    assert invoked.content == streamed.content
    assert invoked.id == streamed.id
    assert invoked.usage_metadata == streamed.usage_metadata
    assert invoked.response_metadata["finish_reason"] == "stop"
