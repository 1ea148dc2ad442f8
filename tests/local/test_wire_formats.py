"""Both wire formats of the real local server through the raw official SDKs.

These pin what streamtap's adapters build on: one id per stream, a usage chunk at the
end, the exact Anthropic event order, greedy output repeatable (and identical across
the two APIs, which render the same prompt), and a closed stream that leaves the server
serving.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from streamtap.local import LocalServer

pytestmark = pytest.mark.local_model

PROMPT = "Write one short sentence about the sea."
MAX_TOKENS = 24
_GREEDY = {"temperature": 0, "seed": 42}


@pytest.fixture
def openai_client(local_server: LocalServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=local_server.base_url, api_key="sk-local", max_retries=0, timeout=30.0
    ) as client:
        yield client


@pytest.fixture
def anthropic_client(local_server: LocalServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=local_server.anthropic_base_url, api_key="local", max_retries=0, timeout=30.0
    ) as client:
        yield client


def _openai_chunks(
    client: openai.OpenAI, prompt: str = PROMPT, max_tokens: int = MAX_TOKENS
) -> list[ChatCompletionChunk]:
    stream = client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=max_tokens,
        **_GREEDY,
    )
    return list(stream)


def _text(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_chat_completions_stream(
    openai_client: openai.OpenAI, local_server: LocalServer
) -> None:
    chunks = _openai_chunks(openai_client)

    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content) >= 2, "tokens arrive as separate chunks"
    assert _text(chunks).strip()
    assert len({c.id for c in chunks}) == 1
    assert {c.model for c in chunks} == {local_server.alias}, "the requested model name is ignored"
    finish_reasons = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish_reasons in (["stop"], ["length"])
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens > 0
    assert len(content) <= usage_chunk.usage.completion_tokens <= MAX_TOKENS
    assert all(c.usage is None for c in chunks[:-1])


def test_anthropic_messages_stream(
    anthropic_client: anthropic.Anthropic, openai_client: openai.OpenAI
) -> None:
    events = list(
        anthropic_client.messages.create(
            model="local",
            max_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            extra_body=_GREEDY,  # anthropic 2.x create() has no temperature parameter
        )
    )

    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}
    text = "".join(
        event.delta.text
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "text_delta"
    )
    message_delta = events[-2]
    assert message_delta.type == "message_delta"
    assert message_delta.delta.stop_reason in ("end_turn", "max_tokens")
    assert 2 <= message_delta.usage.output_tokens <= MAX_TOKENS
    assert text == _text(_openai_chunks(openai_client)), "same prompt, same greedy tokens"


def test_greedy_output_is_repeatable(openai_client: openai.OpenAI) -> None:
    first = _text(_openai_chunks(openai_client))
    _openai_chunks(openai_client, prompt="Name three colours.")  # no prompt cache to leak state
    assert _text(_openai_chunks(openai_client)) == first


async def test_async_openai_stream_matches_sync(
    local_server: LocalServer, openai_client: openai.OpenAI
) -> None:
    async with openai.AsyncOpenAI(
        base_url=local_server.base_url, api_key="sk-local", max_retries=0, timeout=30.0
    ) as client:
        stream = await client.chat.completions.create(
            model="local",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=MAX_TOKENS,
            **_GREEDY,
        )
        chunks = [chunk async for chunk in stream]
    assert _text(chunks) == _text(_openai_chunks(openai_client))


def test_closing_an_openai_stream_early_leaves_the_server_serving(
    openai_client: openai.OpenAI,
) -> None:
    expected = _text(_openai_chunks(openai_client))
    stream = openai_client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": "Tell me a long story about a dragon."}],
        stream=True,
        max_tokens=256,
        **_GREEDY,
    )
    iterator = iter(stream)
    received = [next(iterator), next(iterator)]
    stream.close()

    assert len(received) == 2
    assert stream.response.is_closed
    assert _text(_openai_chunks(openai_client)) == expected


def test_closing_an_anthropic_stream_early_leaves_the_server_serving(
    anthropic_client: anthropic.Anthropic, openai_client: openai.OpenAI
) -> None:
    with anthropic_client.messages.create(
        model="local",
        max_tokens=256,
        messages=[{"role": "user", "content": "Tell me a long story about a dragon."}],
        stream=True,
        extra_body=_GREEDY,
    ) as stream:
        iterator = iter(stream)
        received = [next(iterator).type, next(iterator).type]
    assert received == ["message_start", "content_block_start"]
    assert stream.response.is_closed
    assert _text(_openai_chunks(openai_client)).strip()
