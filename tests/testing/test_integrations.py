"""Cassettes under real consumers: LangChain's chat models, streamtap's adapters and graphs.

Each test records live from the loopback server, then replays, and checks the
consumer sees the same normalized chunks both times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk, BaseMessageChunk
from langchain_openai import ChatOpenAI

import streamtap
from streamtap.graph import START, MessagesState, StateGraph
from streamtap.testing import use_cassette
from tests.testing.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.testing.sse_server import SSEServer

PROMPT = "Say hello"
EXPECTED_TEXT = "Hello! How can I help you today?"


def _view(chunk: BaseMessageChunk) -> dict[str, Any]:
    """What a consumer reads from a chunk; run ids are fresh per call, so they are left out."""
    data = chunk.model_dump()
    data.pop("id", None)
    return data


def test_langchain_chat_openai(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "chat_openai.json"
    model = ChatOpenAI(
        model="gpt-4o", base_url=sse_server.base_url + "/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with use_cassette(path, record_mode="once"):
        live = [_view(chunk) for chunk in model.stream(PROMPT)]
    with use_cassette(path) as cassette:
        replayed = [_view(chunk) for chunk in model.stream(PROMPT)]
    assert cassette.all_played
    assert replayed == live
    assert "".join(str(chunk["content"]) for chunk in live) == EXPECTED_TEXT


async def test_langchain_chat_anthropic_async(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "chat_anthropic.json"
    model = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-sonnet-4-6",
        base_url=sse_server.base_url,
        api_key=ANTHROPIC_KEY,
        max_retries=0,
    )
    async with use_cassette(path, record_mode="once"):
        live = [_view(chunk) async for chunk in model.astream(PROMPT)]
    async with use_cassette(path, pace="recorded"):
        replayed = [_view(chunk) async for chunk in model.astream(PROMPT)]
    assert replayed == live
    assert len(live) > 5


def test_streamtap_chat_model_sync(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "streamtap_openai.json"
    model = streamtap.chat_model(
        "openai:gpt-4o", base_url=sse_server.base_url + "/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with use_cassette(path, record_mode="once"):
        live = list(model.stream(PROMPT))
    with use_cassette(path):
        replayed = list(model.stream(PROMPT))
    assert [_view(chunk) for chunk in replayed] == [_view(chunk) for chunk in live]
    merged = sum(live[1:], live[0])
    assert isinstance(merged, AIMessageChunk)
    assert merged.content == EXPECTED_TEXT
    assert merged.usage_metadata is not None


async def test_streamtap_chat_model_anthropic_async(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "streamtap_anthropic.json"
    model = streamtap.chat_model(
        "anthropic:claude-sonnet-4-6",
        base_url=sse_server.base_url,
        api_key=ANTHROPIC_KEY,
        max_retries=0,
    )
    async with use_cassette(path, record_mode="once"):
        live = [_view(chunk) async for chunk in model.astream(PROMPT)]
    async with use_cassette(path):
        replayed = [_view(chunk) async for chunk in model.astream(PROMPT)]
    assert replayed == live
    assert "".join(str(chunk["content"]) for chunk in live if chunk["content"]) == EXPECTED_TEXT


def test_streamtap_normalize_over_a_raw_sdk_stream(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "normalize.json"
    client = openai.OpenAI(base_url=sse_server.base_url + "/v1", api_key=OPENAI_KEY, max_retries=0)

    def run() -> list[dict[str, Any]]:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
        return [_view(chunk) for chunk in streamtap.normalize("openai", stream, model="gpt-4o")]

    with use_cassette(path, record_mode="once"):
        live = run()
    with use_cassette(path):
        replayed = run()
    assert replayed == live


def test_streamtap_graph_messages_mode(sse_server: SSEServer, tmp_path: Path) -> None:
    path = tmp_path / "graph.json"
    model = streamtap.chat_model(
        "openai:gpt-4o", base_url=sse_server.base_url + "/v1", api_key=OPENAI_KEY, max_retries=0
    )

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("llm", call_model)
    builder.add_edge(START, "llm")
    graph = builder.compile()

    def run() -> list[tuple[str, dict[str, Any]]]:
        return [
            (metadata["langgraph_node"], _view(chunk))
            for chunk, metadata in graph.stream(
                {"messages": [("user", PROMPT)]}, stream_mode="messages"
            )
        ]

    with use_cassette(path, record_mode="once"):
        live = run()
    with use_cassette(path):
        replayed = run()
    assert replayed == live
    assert {node for node, _ in live} == {"llm"}
    assert "".join(str(chunk["content"]) for _, chunk in live) == EXPECTED_TEXT
