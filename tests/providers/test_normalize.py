"""normalize / anormalize: the entry point for users who already hold a raw SDK stream."""

from __future__ import annotations

import anthropic
import openai
import pytest
from langchain_core.messages import AIMessageChunk

from streamtap.errors import StreamInterrupted
from streamtap.providers import anormalize, normalize
from tests import _fixtures as F
from tests.providers._contract import total
from tests.providers.conftest import API_KEY, make_model

WIRES = ["openai", "openai-responses", "anthropic"]
SCENARIOS = [
    "text",
    "tool_call",
    "parallel_tool_calls",
    "text_then_tool_call",
    "unicode",
    "usage_cache",
]


def _raw_stream(wire: str, *, is_async: bool = False):
    if wire == "anthropic":
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        client = cls(api_key=API_KEY, max_retries=0)
        return client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = cls(api_key=API_KEY, max_retries=0)
    if wire == "openai":
        return client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    return client.responses.create(model="gpt-5", input="hi", stream=True)


def _dump(chunks: list[AIMessageChunk]) -> list[dict]:
    return [c.model_dump() for c in chunks]


def _model_chunks(router, wire: str, scenario: str) -> list[AIMessageChunk]:
    F.mock(router, wire, scenario)
    model = make_model(wire)
    # The chat model reports the vendor as provider; normalize() defaults to the same.
    return list(model.stream_chunks([("human", "hi")]))  # type: ignore[list-item]


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_raw_stream_gives_the_models_chunks(router, wire: str, scenario: str) -> None:
    expected = _model_chunks(router, wire, scenario)
    F.mock(router, wire, scenario)
    got = list(normalize(wire, _raw_stream(wire)))
    assert _dump(got) == _dump(expected)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_typed_events_give_the_same_message(router, wire: str, scenario: str) -> None:
    """Already-parsed SDK event objects (e.g. after the user iterated) map identically."""
    expected = _model_chunks(router, wire, scenario)
    F.mock(router, wire, scenario)
    events = list(_raw_stream(wire))  # typed pydantic events
    got = list(normalize(wire, events))
    assert _dump(got) == _dump(expected)
    assert total(got) == total(expected)


@pytest.mark.parametrize("wire", WIRES)
async def test_anormalize(router, wire: str) -> None:
    expected = _model_chunks(router, wire, "text_then_tool_call")
    F.mock(router, wire, "text_then_tool_call")
    stream = await _raw_stream(wire, is_async=True)
    got = [c async for c in anormalize(wire, stream)]
    assert _dump(got) == _dump(expected)


async def test_anormalize_typed_async_iterable(router) -> None:
    expected = _model_chunks(router, "anthropic", "reasoning")
    F.mock(router, "anthropic", "reasoning")
    stream = await _raw_stream("anthropic", is_async=True)
    events = [e async for e in stream]

    async def gen():
        for e in events:
            yield e

    got = [c async for c in anormalize("anthropic", gen())]
    assert _dump(got) == _dump(expected)


def test_anthropic_message_stream_helper(router) -> None:
    """client.messages.stream() adds derived events (text, input_json...); none is double-counted."""
    expected = _model_chunks(router, "anthropic", "text_then_tool_call")
    F.mock(router, "anthropic", "text_then_tool_call")
    client = anthropic.Anthropic(api_key=API_KEY, max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        got = list(normalize("anthropic", stream))
    assert total(got).content == total(expected).content
    assert total(got).tool_calls == total(expected).tool_calls


@pytest.mark.parametrize("wire", WIRES)
def test_raw_stream_truncation_and_errors(router, wire: str) -> None:
    F.mock(router, wire, "truncated")
    with pytest.raises(StreamInterrupted) as info:
        list(normalize(wire, _raw_stream(wire)))
    assert info.value.partial.content == "Hello! How can I help"


@pytest.mark.parametrize(
    ("wire", "scenario"),
    [
        ("openai", "overloaded_midstream"),
        ("anthropic", "overloaded_midstream"),
        ("openai-responses", "error_nested"),
        ("openai-responses", "error_flat"),
    ],
)
def test_typed_events_in_stream_error(router, wire: str, scenario: str) -> None:
    """Through typed iteration the SDK raises (or yields) the error itself; both become StreamInterrupted."""
    F.mock(router, wire, scenario)
    stream = _raw_stream(wire)
    with pytest.raises(StreamInterrupted) as info:
        list(normalize(wire, iter(stream)))
    assert info.value.partial.content == "Hello wor"


def test_unknown_provider() -> None:
    with pytest.raises(ValueError, match="openai-responses"):
        list(normalize("cohere", []))


def test_dict_events() -> None:
    events = [
        {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {
            "id": "chatcmpl-1",
            "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
    ]
    chunks = list(normalize("openai", events))
    assert [c.content for c in chunks] == ["Hi", ""]
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
