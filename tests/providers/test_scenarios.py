"""Every SSE fixture, replayed through the real SDKs, sync and async: the summed message
matches the logical answer the fixture encodes, and every chunk obeys the contract."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk

from streamtap.errors import StreamInterrupted
from tests import _fixtures as F
from tests.providers._contract import check_chunks, check_message, text, total
from tests.providers.conftest import make_model, sse_cases

COMPLETE = "complete"


@pytest.mark.parametrize(("wire", "scenario"), sse_cases())
def test_sync_stream(router, wire: str, scenario: str) -> None:
    want = F.expected(wire, scenario)
    replay = F.mock(router, wire, scenario).side_effect
    model = make_model(wire)
    if want["ending"] == COMPLETE:
        chunks = list(model.stream("hi"))
        check_chunks(chunks, want)
        check_message(total(chunks), want)
    else:
        seen: list[AIMessageChunk] = []
        with pytest.raises(StreamInterrupted) as info:
            for chunk in model.stream("hi"):
                seen.append(chunk)
        partial = info.value.partial
        assert partial is not None
        check_message(partial, want)
        # Nothing the user saw is lost: the partial holds every chunk yielded.
        assert text(total(seen)) == text(partial)
    assert all(s.closed for s in replay.streams)


@pytest.mark.parametrize(("wire", "scenario"), sse_cases())
async def test_async_stream(router, wire: str, scenario: str) -> None:
    want = F.expected(wire, scenario)
    replay = F.mock(router, wire, scenario).side_effect
    model = make_model(wire)
    if want["ending"] == COMPLETE:
        chunks = [c async for c in model.astream("hi")]
        check_chunks(chunks, want)
        check_message(total(chunks), want)
        invoked = await model.ainvoke("hi")
        assert invoked.content == total(chunks).content
        assert invoked.usage_metadata == total(chunks).usage_metadata
        assert invoked.tool_calls == total(chunks).tool_calls
    else:
        with pytest.raises(StreamInterrupted) as info:
            async for _ in model.astream("hi"):
                pass
        assert info.value.partial is not None
        check_message(info.value.partial, want)
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
