"""stream_tokens / astream_tokens on the raw streams of the SDKs that do not speak SSE:
google-genai's ``generate_content_stream`` generator and boto3's ``converse_stream``
response (or its ``EventStream``). The oracle is the streamtap chat model for the same
fixture: the same chunks, in a graph's ``messages`` mode as outside one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

import streamtap
import streamtap.graph as g
from streamtap.middleware import astream_tokens, stream_tokens
from tests.providers import _bedrock_replay as BEDROCK
from tests.providers import _gemini_replay as GEMINI

SCENARIOS = ("text_then_tool_call", "parallel_tool_calls", "usage_cache")
CLAUDE = BEDROCK.SPEC.partition(":")[2]
#: Converse's stream names no model (the request did): stream_tokens is told, as the chat
#: model knows it from its request. Gemini's events carry ``modelVersion``.
_MODEL = {"gemini": None, "bedrock": CLAUDE}


def _view(chunks: list[AIMessageChunk]) -> list[Any]:
    """What a chunk says, its id aside (Bedrock's are made per stream)."""
    return [
        (c.content, c.tool_call_chunks, c.usage_metadata, c.chunk_position, c.response_metadata)
        for c in chunks
    ]


def _expected(wire: str, scenario: str) -> list[AIMessageChunk]:
    """The streamtap chat model's chunks for the same fixture (the oracle)."""
    spec, serving = (
        (GEMINI.SPEC, GEMINI.serving) if wire == "gemini" else (BEDROCK.SPEC, BEDROCK.serving)
    )
    with serving(scenario) as kw:
        return list(streamtap.chat_model(spec, **kw).stream("hi"))


@contextlib.contextmanager
def _raw(wire: str, scenario: str) -> Iterator[Any]:
    """A raw SDK stream of ``scenario``, as a user of the SDK holds it."""
    if wire == "gemini":
        from google import genai
        from google.genai import types

        with GEMINI.serving(scenario) as kw:
            options = types.HttpOptions(base_url=kw["base_url"], httpx_client=httpx.Client())
            client = genai.Client(api_key=GEMINI.API_KEY, http_options=options)
            yield client.models.generate_content_stream(model=GEMINI.MODEL, contents="hi")
        return
    import boto3

    with BEDROCK.serving(scenario) as kw:
        client = boto3.client(
            "bedrock-runtime",
            region_name=kw["region_name"],
            endpoint_url=kw["endpoint_url"],
            aws_access_key_id=kw["aws_access_key_id"],
            aws_secret_access_key=kw["aws_secret_access_key"].get_secret_value()
            if hasattr(kw["aws_secret_access_key"], "get_secret_value")
            else kw["aws_secret_access_key"],
        )
        messages = [{"role": "user", "content": [{"text": "hi"}]}]
        yield client.converse_stream(modelId=CLAUDE, messages=messages)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("wire", ["gemini", "bedrock"])
def test_outside_a_run_the_chunks_equal_the_chat_models(wire: str, scenario: str) -> None:
    expected = _expected(wire, scenario)
    with _raw(wire, scenario) as raw:
        tokens = stream_tokens(raw, model=_MODEL[wire])
        got = list(tokens)
    assert _view(got) == _view(expected)
    assert len({c.id for c in got}) == 1 and got[0].id is not None
    assert tokens.message.content == sum(expected[1:], expected[0]).content


@pytest.mark.parametrize("wire", ["gemini", "bedrock"])
def test_in_a_graph_node_the_tokens_reach_messages_mode(wire: str) -> None:
    seen = _expected(wire, "text_then_tool_call")

    def node(state: Any) -> dict[str, Any]:
        with _raw(wire, "text_then_tool_call") as raw:
            tokens = stream_tokens(raw, model=_MODEL[wire])
            for _ in tokens:
                pass
            return {"messages": [tokens.message]}

    graph = g.StateGraph(g.MessagesState).add_node("llm", node).add_edge(g.START, "llm").compile()
    pairs = list(graph.stream({"messages": [("user", "hi")]}, stream_mode="messages"))
    chunks = [m for m, meta in pairs if meta["langgraph_node"] == "llm"]
    assert _view(chunks) == _view(seen)
    assert all(meta["langgraph_step"] == 1 for _, meta in pairs)
    assert chunks[-1].chunk_position == "last" and any(c.tool_call_chunks for c in chunks)


def test_the_bedrock_event_stream_alone_is_read_too() -> None:
    expected = _expected("bedrock", "usage_cache")
    with _raw("bedrock", "usage_cache") as response:
        got = list(stream_tokens(response["stream"], provider="bedrock", model=CLAUDE))
    assert _view(got) == _view(expected)


async def test_async_tokens_of_a_raw_gemini_stream() -> None:
    from google import genai
    from google.genai import types

    expected = _expected("gemini", "parallel_tool_calls")
    with GEMINI.serving("parallel_tool_calls") as kw:
        options = types.HttpOptions(base_url=kw["base_url"], httpx_async_client=httpx.AsyncClient())
        client = genai.Client(api_key=GEMINI.API_KEY, http_options=options)
        raw = await client.aio.models.generate_content_stream(model=GEMINI.MODEL, contents="hi")
        got = [c async for c in astream_tokens(raw)]
    assert _view(got) == _view(expected)


def test_azure_and_claude_on_bedrock_raw_streams_are_their_wires() -> None:
    """The openai SDK's Azure client and the anthropic SDK's Bedrock client hand out the SDKs'
    usual streams: stream_tokens reads them as Chat Completions and Messages, and Azure's
    filter-only first chunk never becomes the message id."""
    import anthropic
    import openai
    import respx

    from tests import _fixtures as F
    from tests.providers import _anthropic_clouds_replay as CLOUDS

    with respx.mock(assert_all_called=False) as router:
        F.mock(router, "azure", "text")
        client = openai.AzureOpenAI(
            api_key="k", azure_endpoint="https://res.openai.azure.com", api_version="2024-10-21"
        )
        raw = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        azure = list(stream_tokens(raw))
        CLOUDS.mock(router, "anthropic-bedrock", "usage_cache")
        kw = CLOUDS.kwargs_for("anthropic-bedrock")
        bedrock = anthropic.AnthropicBedrock(
            aws_region=kw["aws_region"],
            aws_access_key=kw["aws_access_key_id"],
            aws_secret_key=kw["aws_secret_access_key"],
            aws_session_token=kw["aws_session_token"],
        )
        raw = bedrock.messages.create(
            model=CLOUDS.MODELS["anthropic-bedrock"],
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        claude = list(stream_tokens(raw))
    assert "".join(c.content for c in azure) == "Hello! How can I help you today?"
    assert len({c.id for c in azure}) == 1 and azure[0].id.startswith("chatcmpl-")
    assert azure[-1].response_metadata["prompt_filter_results"][0]["prompt_index"] == 0
    assert "".join(c.content for c in claude if isinstance(c.content, str)) == "Cached answer."
    usage = claude[-1].usage_metadata
    assert usage is not None and usage["input_token_details"] == {"cache_read": 2048}
