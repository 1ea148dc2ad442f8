"""``stream_tokens`` over the raw official SDKs talking to the real server, in graph nodes.

A node that calls the SDK itself must look, in ``messages`` mode, like one that called a
chat model: the vendor's id on every chunk, LangSmith metadata, usage on the last chunk,
and its returned message not emitted a second time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

import streamtap
from streamtap.accumulate import Accumulator
from streamtap.graph import END, START, MessagesState, StateGraph
from streamtap.local import LocalServer
from streamtap.middleware import astream_tokens, stream_tokens

pytestmark = pytest.mark.local_model

PROMPT = "Write one short sentence about the sea."
MAX_TOKENS = 24
_GREEDY: dict[str, Any] = {"temperature": 0, "seed": 42}


@pytest.fixture
def openai_client(local_server: LocalServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=local_server.base_url, api_key="sk-local", max_retries=0, timeout=60.0
    ) as client:
        yield client


@pytest.fixture
async def async_openai_client(local_server: LocalServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=local_server.base_url, api_key="sk-local", max_retries=0, timeout=60.0
    ) as client:
        yield client


@pytest.fixture
def anthropic_client(local_server: LocalServer) -> Iterator[anthropic.Anthropic]:
    # One connection per request: llama.cpp closes it after a streamed /v1/messages answer.
    import httpx

    http = anthropic.DefaultHttpxClient(limits=httpx.Limits(max_keepalive_connections=0))
    with anthropic.Anthropic(
        base_url=local_server.anthropic_base_url,
        api_key="local",
        max_retries=0,
        timeout=60.0,
        http_client=http,
    ) as client:
        yield client


def _openai_raw(client: openai.OpenAI, max_tokens: int = MAX_TOKENS) -> Any:
    return client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=max_tokens,
        **_GREEDY,
    )


def _anthropic_raw(client: anthropic.Anthropic, max_tokens: int = MAX_TOKENS) -> Any:
    return client.messages.create(
        model="local",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        extra_body=_GREEDY,  # anthropic 2.x create() has no temperature parameter
    )


def _graph(node: Any) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("agent", node)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile()


def _check(
    items: list[tuple[str, Any]], seen_in_node: list[AIMessageChunk], provider: str, model: str
) -> AIMessage:
    pairs = [payload for mode, payload in items if mode == "messages"]
    assert [chunk for chunk, _ in pairs] == seen_in_node, "every chunk, once, in order"
    assert len({chunk.id for chunk, _ in pairs}) == 1
    assert pairs[-1][0].chunk_position == "last"
    assert pairs[-1][0].usage_metadata is not None
    for _, metadata in pairs:
        assert metadata["langgraph_node"] == "agent"
        assert metadata["ls_provider"] == provider
        assert metadata["ls_model_name"] == model
        assert metadata["ls_model_type"] == "chat"
        assert metadata["ls_max_tokens"] == MAX_TOKENS
    acc = Accumulator()
    for chunk in seen_in_node:
        acc.add(chunk)
    streamed = acc.message()
    assert streamed is not None and streamed.text.strip()
    final = items[-1][1]["messages"][-1]
    assert isinstance(final, AIMessage)
    assert final.id == streamed.id
    assert final.content == streamed.content
    assert final.usage_metadata == streamed.usage_metadata
    return final


def test_openai_sdk_stream_in_a_node(
    openai_client: openai.OpenAI, local_server: LocalServer
) -> None:
    seen: list[AIMessageChunk] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        tokens = stream_tokens(_openai_raw(openai_client), provider="llamacpp")
        seen.extend(tokens)
        return {"messages": [tokens.message]}

    items = list(
        _graph(agent).stream({"messages": [("user", PROMPT)]}, stream_mode=["messages", "values"])
    )
    final = _check(items, seen, provider="llamacpp", model="local")

    same_wire = streamtap.chat_model(
        "llamacpp:smollm2",
        base_url=local_server.base_url,
        temperature=0,
        max_tokens=MAX_TOKENS,
        max_retries=0,
    )
    assert same_wire.invoke(PROMPT).text == final.text, "raw SDK and adapter: same greedy text"


def test_anthropic_sdk_stream_in_a_node(anthropic_client: anthropic.Anthropic) -> None:
    seen: list[AIMessageChunk] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        with stream_tokens(_anthropic_raw(anthropic_client)) as tokens:  # provider detected
            seen.extend(tokens)
        return {"messages": [tokens.message]}

    items = list(
        _graph(agent).stream({"messages": [("user", PROMPT)]}, stream_mode=["messages", "values"])
    )
    final = _check(items, seen, provider="anthropic", model="local")
    assert final.response_metadata["finish_reason"] in ("stop", "length")


async def test_async_openai_sdk_stream_in_a_node(
    async_openai_client: openai.AsyncOpenAI, openai_client: openai.OpenAI
) -> None:
    seen: list[AIMessageChunk] = []

    async def agent(state: MessagesState) -> dict[str, Any]:
        raw = await async_openai_client.chat.completions.create(
            model="local",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=MAX_TOKENS,
            **_GREEDY,
        )
        tokens = astream_tokens(raw, provider="llamacpp")
        async for chunk in tokens:
            seen.append(chunk)
        return {"messages": [tokens.message]}

    items = [
        item
        async for item in _graph(agent).astream(
            {"messages": [("user", PROMPT)]}, stream_mode=["messages", "values"]
        )
    ]
    final = _check(items, seen, provider="llamacpp", model="local")
    outside = stream_tokens(_openai_raw(openai_client), provider="llamacpp")
    assert "".join(chunk.text for chunk in outside) == final.text, "sync and async agree"


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_breaking_out_closes_the_sdk_stream(
    wire: str, openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic
) -> None:
    def raw() -> Any:
        if wire == "openai":
            return _openai_raw(openai_client, max_tokens=200)
        return _anthropic_raw(anthropic_client, max_tokens=200)

    expected = "".join(chunk.text for chunk in stream_tokens(raw()))
    source = raw()
    received = []
    with stream_tokens(source) as tokens:
        for chunk in tokens:
            received.append(chunk)
            if len(received) == 2:
                break
    assert len(received) == 2
    assert source.response.is_closed
    assert "".join(chunk.text for chunk in stream_tokens(raw())) == expected
