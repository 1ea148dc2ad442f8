"""streamtap's adapters against the real server, over both of its wire formats.

Greedy decoding with ``--no-cache-prompt`` is repeatable per wire, so these tests compare
a wire's runs with each other (sync, again, async); they do not compare the two wires,
whose prompts may be rendered differently. Cancellation is checked on the HTTP response
the SDK read from, and by the server answering the next request exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

import streamtap
from streamtap.accumulate import Accumulator
from streamtap.local import LocalServer
from streamtap.providers import StreamtapChatModel

pytestmark = pytest.mark.local_model

PROMPT = "Write one short sentence about the sea."
LONG_PROMPT = "Tell me a long story about a dragon."
MAX_TOKENS = 24
WIRES = ("llamacpp", "llamacpp-anthropic")

ModelFactory = Callable[..., StreamtapChatModel]
# As streamtap's own llamacpp-anthropic client: llama.cpp closes the connection after a
# streamed /v1/messages answer, so a pooled connection would race that close.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


@pytest.fixture
def make(local_server: LocalServer) -> ModelFactory:
    def factory(wire: str, **kwargs: Any) -> StreamtapChatModel:
        base_url = (
            local_server.anthropic_base_url
            if wire == "llamacpp-anthropic"
            else local_server.base_url
        )
        params: dict[str, Any] = {
            "base_url": base_url,
            "temperature": 0,
            "max_tokens": MAX_TOKENS,
            "max_retries": 0,
            "timeout": 60.0,
            **kwargs,
        }
        return streamtap.chat_model(f"{wire}:smollm2", **params)

    return factory


def _check_stream(chunks: list[AIMessageChunk], alias: str) -> AIMessageChunk:
    """One message: one id, text before a single last chunk carrying usage and metadata."""
    assert len(chunks) >= 3, "tokens arrive one by one"
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].id
    *body, last = chunks
    assert [c.chunk_position for c in body] == [None] * len(body)
    assert last.chunk_position == "last"
    assert all(c.usage_metadata is None for c in body)
    assert last.usage_metadata is not None
    assert last.response_metadata["model_name"] == alias
    assert last.response_metadata["model_provider"] == "llamacpp"
    assert last.response_metadata["finish_reason"] in ("stop", "length")
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    message = acc.message()
    assert message is not None
    assert message.text.strip()
    assert 0 < last.usage_metadata["output_tokens"] <= MAX_TOKENS
    assert last.usage_metadata["input_tokens"] > 0
    return message


@pytest.mark.parametrize("wire", WIRES)
async def test_sync_async_and_repeats_agree(
    wire: str, make: ModelFactory, local_server: LocalServer
) -> None:
    model = make(wire)
    first = _check_stream(list(model.stream(PROMPT)), local_server.alias)
    again = _check_stream(list(model.stream(PROMPT)), local_server.alias)
    async_chunks = [chunk async for chunk in model.astream(PROMPT)]
    from_async = _check_stream(async_chunks, local_server.alias)

    assert first.text == again.text == from_async.text
    assert first.usage_metadata == again.usage_metadata == from_async.usage_metadata
    assert first.id != again.id, "the server makes a new id per answer"


@pytest.mark.parametrize("wire", WIRES)
async def test_invoke_and_ainvoke_return_the_streamed_message(
    wire: str, make: ModelFactory
) -> None:
    model = make(wire)
    streamed = Accumulator()
    for chunk in model.stream(PROMPT):
        streamed.add(chunk)
    expected = streamed.message()
    assert expected is not None

    for message in (model.invoke(PROMPT), await model.ainvoke(PROMPT)):
        assert message.text == expected.text
        assert message.usage_metadata == expected.usage_metadata
        assert (
            message.response_metadata["finish_reason"]
            == (expected.response_metadata["finish_reason"])
        )


def test_a_stop_sequence_ends_the_answer(make: ModelFactory) -> None:
    model = make("llamacpp")
    full = model.invoke(PROMPT).text
    words = full.split()
    assert len(words) >= 3
    stop = f" {words[2]}"
    cut = model.invoke(PROMPT, stop=[stop])
    assert cut.text == full[: full.index(stop)]
    assert cut.response_metadata["finish_reason"] == "stop"


class _Responses:
    """Remembers every HTTP response the SDK got, to check it was closed."""

    def __init__(self) -> None:
        self.seen: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        self.seen.append(response)


@pytest.mark.parametrize("wire", WIRES)
def test_breaking_after_two_chunks_closes_the_response(wire: str, make: ModelFactory) -> None:
    responses = _Responses()
    with httpx.Client(
        event_hooks={"response": [responses]}, timeout=60.0, limits=NO_KEEPALIVE
    ) as client:
        model = make(wire, http_client=client, max_tokens=200)
        expected = model.invoke(PROMPT, max_tokens=MAX_TOKENS).text

        received = []
        for chunk in model.stream(LONG_PROMPT):
            received.append(chunk)
            if len(received) == 2:
                break

        assert len(received) == 2
        assert len(responses.seen) == 2
        assert responses.seen[-1].is_closed, "breaking out closes the SDK stream"
        again = model.invoke(PROMPT, max_tokens=MAX_TOKENS).text
    assert again == expected, "the server keeps serving, with the same greedy answer"


@pytest.mark.parametrize("wire", WIRES)
async def test_async_break_after_two_chunks_closes_the_response(
    wire: str, make: ModelFactory
) -> None:
    responses: list[httpx.Response] = []

    async def remember(response: httpx.Response) -> None:
        responses.append(response)

    async with httpx.AsyncClient(
        event_hooks={"response": [remember]}, timeout=60.0, limits=NO_KEEPALIVE
    ) as client:
        model = make(wire, http_async_client=client, max_tokens=200)
        stream = model.astream(LONG_PROMPT)
        received = [await anext(stream), await anext(stream)]
        await stream.aclose()

        assert len(received) == 2
        assert responses[-1].is_closed
        after = await model.ainvoke(PROMPT)
    assert after.text.strip()


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_the_profile_reads_the_context_the_server_runs_with(
    use_async: bool, make: ModelFactory
) -> None:
    from streamtap.local._serve import DEFAULT_CONTEXT_SIZE

    model = make("llamacpp")
    assert model.profile is None  # a local model LangChain does not know
    profile = await model.afetch_profile() if use_async else model.fetch_profile()  # type: ignore[attr-defined]
    assert profile == {"max_input_tokens": DEFAULT_CONTEXT_SIZE}
    assert model.profile == profile
