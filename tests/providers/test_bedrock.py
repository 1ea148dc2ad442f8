"""Bedrock ConverseStream through the real boto3 (sync) and aiobotocore (async) clients.

Every test that streams goes over HTTP to the loopback Bedrock (``tests/_bedrock_server.py``):
the SDKs sign the request (SigV4), send it, decode the event-stream frames and raise their
own exceptions, exactly as against AWS; streamtap only sees the decoded event dicts. The
bodies are the fixtures ``fixtures/build_bedrock.py`` builds from the shared scenarios, so
the summed message must equal the logical answer every other wire gives.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

import streamtap
from streamtap.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OverloadedError,
    ProtocolViolation,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
    StreamtapError,
    StreamTimeout,
)
from streamtap.providers._chunks import text_chunk
from streamtap.providers._wire_stream import WireStream
from streamtap.providers.bedrock import WIRE, BedrockChatModel, ConverseMapper
from streamtap.providers.bedrock._deadline import HeadersLate, call_within
from streamtap.providers.bedrock._model import BedrockStream
from tests._bedrock_server import BedrockServer, Reply, running
from tests.providers import _bedrock_replay as R
from tests.providers import _contract as C
from tests.providers._contract import text as _text
from tests.providers._contract import total
from tests.providers.test_models import _Base

BODIES = R.scenarios(errors=False)
HTTP_ERRORS = R.scenarios(errors=True)
MIDSTREAM = {
    "throttling_midstream": RateLimitError,
    "model_stream_error_midstream": ServerError,
    "validation_midstream": ContextLengthError,  # "Input is too long": a context-length error
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[BedrockServer]:
    """One loopback Bedrock for the module, with the machine's AWS configuration kept out."""
    with R.isolated_aws(), running() as srv:
        yield srv


@pytest.fixture
def make(server: BedrockServer) -> Iterator[Any]:
    """Models pointed at the server; their clients are closed after the test."""
    models: list[BedrockChatModel] = []

    def build(**kwargs: Any) -> BedrockChatModel:
        model = streamtap.chat_model(R.SPEC, **{**R.model_kwargs(server), **kwargs})
        assert isinstance(model, BedrockChatModel)
        models.append(model)
        return model

    yield build
    for model in models:
        model.close()


def serve(server: BedrockServer, scenario: str, **kwargs: Any) -> None:
    server.serve(R.reply(scenario, **kwargs))
    server.requests.clear()


def check_message(message: AIMessageChunk, want: dict[str, Any]) -> None:
    """Converse reports no reasoning-token count; the rest of the contract holds."""
    C.check_message(message, want, reasoning_tokens=False)


def check_chunks(chunks: list[AIMessageChunk], want: dict[str, Any]) -> None:
    C.check_chunks(
        chunks,
        want,
        id_prefixes=("msg_bedrock_",),
        native_reasons=("end_turn", "max_tokens", "tool_use"),
        model_name=R.MODEL_ID,
        provider="bedrock",
    )


def run_sync(model: BedrockChatModel, want: dict[str, Any]) -> None:
    if want["ending"] == "complete":
        chunks = list(model.stream_chunks("hi"))
        check_chunks(chunks, want)
        check_message(total(chunks), want)
        return
    seen: list[AIMessageChunk] = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in model.stream_chunks("hi"):
            seen.append(chunk)
    partial = info.value.partial
    assert partial is not None
    check_message(partial, want)
    assert _text(total(seen)) == _text(partial)  # nothing the user saw is lost


async def run_async(model: BedrockChatModel, want: dict[str, Any]) -> None:
    try:
        if want["ending"] == "complete":
            chunks = [c async for c in model.astream_chunks("hi")]
            check_chunks(chunks, want)
            check_message(total(chunks), want)
            return
        with pytest.raises(StreamInterrupted) as info:
            async for _ in model.astream_chunks("hi"):
                pass
        assert info.value.partial is not None
        check_message(info.value.partial, want)
    finally:
        await model.aclose()


# --------------------------------------------------------------------------- fixtures on disk


def test_committed_fixtures_equal_builder_output() -> None:
    """The shared check globs .sse/.json only: the event-stream bodies are checked here."""
    generated = R.generated()
    assert generated, "the builder wrote nothing"
    for relpath, data in generated.items():
        assert relpath.startswith("bedrock/")
        assert (R.FIXTURES / relpath).read_bytes() == data, f"stale: fixtures/{relpath}"
    on_disk = {str(p.relative_to(R.FIXTURES)) for p in R.FOLDER.iterdir()}
    assert on_disk == set(generated)


def test_the_recorded_scenarios() -> None:
    for name in ("text", "unicode", "tool_call", "parallel_tool_calls", "text_then_tool_call"):
        assert name in BODIES
    for name in ("usage_cache", "usage_cache_write", "length", "reasoning", "redacted_thinking"):
        assert name in BODIES
    assert {"reset", "truncated", *MIDSTREAM} <= set(BODIES)
    assert set(HTTP_ERRORS) == {
        "http_429",
        "http_400_context_length",
        "http_403",
        "http_500",
        "http_503",
    }


def test_text_body_for_the_bench() -> None:
    from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

    buffer = EventStreamBuffer()
    buffer.add_data(R.builder().text_body(5))
    names = [m.headers[":event-type"] for m in buffer]
    assert names == [
        "messageStart",
        *["contentBlockDelta"] * 5,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]


# --------------------------------------------------------------------------- every body, both SDKs


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize("scenario", BODIES)
def test_sync_stream(
    server: BedrockServer, make: Any, scenario: str, piece_size: int | None
) -> None:
    serve(server, scenario, piece_size=piece_size)
    run_sync(make(), R.expected(scenario))


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize("scenario", BODIES)
async def test_async_stream(
    server: BedrockServer, make: Any, scenario: str, piece_size: int | None
) -> None:
    serve(server, scenario, piece_size=piece_size)
    await run_async(make(), R.expected(scenario))


_CUT_SCENARIOS = ["text_then_tool_call", "reasoning_tool_call", "unicode", "redacted_thinking"]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scenario=st.sampled_from(_CUT_SCENARIOS),
    cuts=st.lists(st.integers(min_value=1, max_value=3200), max_size=12),
)
def test_any_piece_boundaries_sync(
    server: BedrockServer, make: Any, scenario: str, cuts: list[int]
) -> None:
    serve(server, scenario, cuts=cuts)
    run_sync(make(), R.expected(scenario))


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scenario=st.sampled_from(_CUT_SCENARIOS),
    cuts=st.lists(st.integers(min_value=1, max_value=3200), max_size=12),
)
def test_any_piece_boundaries_async(
    server: BedrockServer, make: Any, scenario: str, cuts: list[int]
) -> None:
    serve(server, scenario, cuts=cuts)
    asyncio.run(run_async(make(), R.expected(scenario)))


def test_invoke_equals_summed_stream(server: BedrockServer, make: Any) -> None:
    serve(server, "text_then_tool_call")
    model = make()
    streamed = total(list(model.stream_chunks("hi")))
    invoked = model.invoke("hi")
    assert isinstance(invoked, AIMessage)
    assert invoked.content == streamed.content
    assert invoked.tool_calls == streamed.tool_calls
    assert invoked.usage_metadata == streamed.usage_metadata
    assert invoked.response_metadata["finish_reason"] == "tool_calls"


# --------------------------------------------------------------------------- exact chunks


def test_exact_chunk_sequence_for_text(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    chunks = list(make().stream_chunks("hi"))
    message_id = chunks[0].id
    assert message_id is not None and message_id.startswith("msg_bedrock_")
    pieces = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
    assert chunks[:-1] == [text_chunk(message_id, p) for p in pieces]
    last = chunks[-1]
    assert last.content == ""
    assert last.chunk_position == "last"
    assert last.usage_metadata == {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}
    metrics = last.response_metadata.pop("metrics")
    assert set(metrics) == {"latencyMs"}
    assert last.response_metadata == {
        "finish_reason": "stop",
        "native_finish_reason": "end_turn",
        "model_name": R.MODEL_ID,
        "model_provider": "bedrock",
        "content_format": "streamtap/v1",
    }


def test_one_synthesized_message_id_on_every_chunk(server: BedrockServer, make: Any) -> None:
    """Regression: one synthesized message id on every chunk (Converse sends none)."""
    serve(server, "reasoning_tool_call")
    model = make()
    first = list(model.stream_chunks("hi"))
    second = list(model.stream_chunks("hi"))
    assert len({c.id for c in first}) == 1
    assert len({c.id for c in second}) == 1
    # one per message, from the request id AWS gave it (traceable in AWS's logs)
    assert [first[0].id, second[0].id] == [f"msg_bedrock_{r}" for r in server.request_ids[-2:]]
    assert first[0].id != second[0].id


async def test_the_message_id_is_the_request_id_async(server: BedrockServer, make: Any) -> None:
    serve(server, "parallel_tool_calls")
    model = make()
    try:
        chunks = [c async for c in model.astream_chunks("hi")]
    finally:
        await model.aclose()
    assert {c.id for c in chunks} == {f"msg_bedrock_{server.request_ids[-1]}"}


def test_without_a_request_id_the_message_id_is_random() -> None:
    events: list[dict[str, Any]] = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
    ]
    ids = {_fold(events).id, _fold(events).id}
    assert len(ids) == 2 and all(str(i).startswith("msg_bedrock_") for i in ids)


def test_parallel_tool_calls_keep_separate_ordinals_and_args(
    server: BedrockServer, make: Any
) -> None:
    """Regression: parallel tool calls keep separate ordinals and args."""
    serve(server, "parallel_tool_calls", piece_size=3)
    chunks = list(make().stream_chunks("hi"))
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert [p["index"] for p in pieces] == [0, 0, 0, 0, 1, 1, 1, 1]
    starts = [p for p in pieces if p["id"] is not None]
    assert [(p["index"], p["name"]) for p in starts] == [(0, "get_weather"), (1, "get_time")]
    assert all(str(p["id"]).startswith("tooluse_") for p in starts)
    message = total(chunks)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"location": "San Francisco, CA"}),
        ("get_time", {"timezone": "America/Los_Angeles"}),
    ]
    assert message.tool_calls[0]["id"] != message.tool_calls[1]["id"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("scenario", "details"),
    [
        ("usage_cache", {"cache_read": 2048}),
        ("usage_cache_write", {"cache_read": 1024, "cache_creation": 1024}),
    ],
)
def test_cache_read_and_write_tokens_are_kept_in_usage(
    server: BedrockServer, make: Any, scenario: str, details: dict[str, int]
) -> None:
    """Regression: cacheReadInputTokens / cacheWriteInputTokens are kept in usage, and
    input_tokens counts them (Bedrock's inputTokens leaves them out)."""
    serve(server, scenario)
    message = total(list(make().stream_chunks("hi")))
    assert message.usage_metadata == {
        "input_tokens": 2060,
        "output_tokens": 3,
        "total_tokens": 2063,
        "input_token_details": details,
    }


def test_reasoning_keeps_its_signature_and_redacted_data(server: BedrockServer, make: Any) -> None:
    serve(server, "redacted_thinking", piece_size=5)
    message = total(list(make().stream_chunks("hi")))
    blocks = [b for b in message.content if isinstance(b, dict) and b["type"] == "reasoning"]
    base = R._base()
    assert blocks == [
        {
            "type": "reasoning",
            "index": 0,
            "reasoning": "Let me think about this carefully.",
            "extras": {"signature": base.SIGNATURE},
        },
        {"type": "reasoning", "index": 1, "extras": {"redacted_data": base.REDACTED_DATA}},
    ]
    assert _text(message) == "Done."


def test_length_finish(server: BedrockServer, make: Any) -> None:
    serve(server, "length")
    last = list(make().stream_chunks("hi"))[-1]
    assert last.response_metadata["finish_reason"] == "length"
    assert last.response_metadata["native_finish_reason"] == "max_tokens"


# --------------------------------------------------------------------------- the pure fold


def _fold(events: list[dict[str, Any]]) -> AIMessageChunk:
    run = WireStream(ConverseMapper(model="m"), model="m", terminal=WIRE.terminal)
    return total(list(run.fold(events, strict=True)))


def test_guardrail_stop_is_content_filter_with_the_trace_kept() -> None:
    trace: dict[str, Any] = {"guardrail": {"outputAssessments": {"0": [{"contentPolicy": {}}]}}}
    message = _fold(
        [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": "Sorry."}, "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "guardrail_intervened"}},
            {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 2}, "trace": trace}},
        ]
    )
    meta = message.response_metadata
    assert meta["finish_reason"] == "content_filter"
    assert meta["native_finish_reason"] == "guardrail_intervened"
    assert meta["trace"] == trace


def test_unknown_content_becomes_non_standard_blocks() -> None:
    citation = {"audio": {"format": "mp3"}}  # a delta member newer than this code
    message = _fold(
        [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": "Cited."}, "contentBlockIndex": 0}},
            {"contentBlockDelta": {"delta": citation, "contentBlockIndex": 0}},
            {"contentBlockStart": {"start": {"image": {"format": "png"}}, "contentBlockIndex": 1}},
            {"contentBlockDelta": {"delta": {"image": {"source": "x"}}, "contentBlockIndex": 1}},
            {"contentBlockDelta": {"delta": {"text": "alt"}, "contentBlockIndex": 1}},
            {"contentBlockStop": {"contentBlockIndex": 1}},
            {"messageStop": {"stopReason": "end_turn"}},
        ]
    )
    others = [b for b in message.content if isinstance(b, dict) and b["type"] == "non_standard"]
    assert [o["value"] for o in others] == [
        {"type": "bedrock_delta", **citation},
        {"type": "bedrock_block_start", "image": {"format": "png"}},
        {"type": "bedrock_delta", "contentBlockIndex": 1, "image": {"source": "x"}},
        {"type": "bedrock_delta", "contentBlockIndex": 1, "text": "alt"},
    ]
    assert _text(message) == "Cited."  # an unknown block's text is not the answer's
    assert message.response_metadata["finish_reason"] == "stop"  # closed at the end of body


def test_citations_become_standard_annotations() -> None:
    citation = {
        "title": "Paris facts",
        "sourceContent": [{"text": "Paris is the capital"}],
        "location": {"documentChar": {"documentIndex": 0, "start": 0, "end": 20}},
    }
    message = _fold(
        [
            {"contentBlockDelta": {"delta": {"text": "Paris."}, "contentBlockIndex": 0}},
            {"contentBlockDelta": {"delta": {"citation": citation}, "contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
        ]
    )
    assert message.content == [
        "Paris.",
        {
            "type": "text",
            "text": "",
            "annotations": [
                {
                    "type": "citation",
                    "title": "Paris facts",
                    "cited_text": "Paris is the capital",
                    "extras": {"location": citation["location"]},
                }
            ],
            "index": 0,
        },
    ]


def test_server_tool_calls_and_results_are_whole_blocks_not_client_calls() -> None:
    message = _fold(
        [
            {
                "contentBlockStart": {
                    "start": {
                        "toolUse": {
                            "toolUseId": "srv_1",
                            "name": "web_search",
                            "type": "server_tool_use",
                        }
                    },
                    "contentBlockIndex": 0,
                }
            },
            {
                "contentBlockDelta": {
                    "delta": {"toolUse": {"input": '{"query": '}},
                    "contentBlockIndex": 0,
                }
            },
            {
                "contentBlockDelta": {
                    "delta": {"toolUse": {"input": '"paris"}'}},
                    "contentBlockIndex": 0,
                }
            },
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {
                "contentBlockStart": {
                    "start": {
                        "toolResult": {
                            "toolUseId": "srv_1",
                            "type": "web_search_result",
                            "status": "success",
                        }
                    },
                    "contentBlockIndex": 1,
                }
            },
            {
                "contentBlockDelta": {
                    "delta": {"toolResult": [{"json": {"hits": 3}}]},
                    "contentBlockIndex": 1,
                }
            },
            {"contentBlockStop": {"contentBlockIndex": 1}},
            {"contentBlockDelta": {"delta": {"text": "Found it."}, "contentBlockIndex": 2}},
            {"messageStop": {"stopReason": "end_turn"}},
        ]
    )
    assert message.tool_calls == [] and message.tool_call_chunks == []
    assert message.content == [
        {
            "type": "server_tool_call",
            "id": "srv_1",
            "name": "web_search",
            "args": {"query": "paris"},
            "index": 0,
        },
        {
            "type": "server_tool_result",
            "tool_call_id": "srv_1",
            "status": "success",
            "output": [{"json": {"hits": 3}}],
            "extras": {"block_type": "web_search_result"},
            "index": 1,
        },
        "Found it.",
    ]
    assert message.response_metadata["finish_reason"] == "stop"
    # and they go back as they came
    from streamtap.providers.bedrock._request import to_converse_messages

    _, turns = to_converse_messages([HumanMessage("q"), AIMessage(content=message.content)])
    assert turns[1]["content"] == [
        {
            "toolUse": {
                "toolUseId": "srv_1",
                "name": "web_search",
                "input": {"query": "paris"},
                "type": "server_tool_use",
            }
        },
        {
            "toolResult": {
                "toolUseId": "srv_1",
                "content": [{"json": {"hits": 3}}],
                "type": "web_search_result",
            }
        },
        {"text": "Found it."},
    ]


def test_bytes_from_boto3_become_base64_text() -> None:
    message = _fold(
        [
            {
                "contentBlockDelta": {
                    "delta": {"reasoningContent": {"redactedContent": b"\x00\xff"}}
                }
            },
            {"messageStop": {"stopReason": "end_turn"}},
            {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1}}},
        ]
    )
    assert isinstance(message.content, list)
    (block,) = message.content
    assert isinstance(block, dict)
    assert block["extras"] == {"redacted_data": base64.b64encode(b"\x00\xff").decode()}


def test_a_tool_delta_without_its_start_is_a_protocol_violation() -> None:
    run = WireStream(ConverseMapper(model="m"), model="m", terminal=WIRE.terminal)
    events = [
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": "{}"}}, "contentBlockIndex": 1}},
    ]
    with pytest.raises(ProtocolViolation) as info:
        list(run.fold(events, strict=True))
    assert info.value.event == "contentBlockDelta"
    assert info.value.partial is not None and info.value.partial.content == "Hi"


def test_stream_cut_before_message_stop_is_interrupted() -> None:
    run = WireStream(ConverseMapper(model="m"), model="m", terminal=WIRE.terminal)
    events = [{"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}}]
    with pytest.raises(StreamInterrupted, match="messageStop") as info:
        list(run.fold(events, strict=True))
    assert isinstance(info.value.__cause__, ProviderConnectionError)


def test_message_stop_without_metadata_still_completes() -> None:
    run = WireStream(ConverseMapper(model="m"), model="m", terminal=WIRE.terminal)
    events: list[dict[str, Any]] = [
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
    ]
    chunks = list(run.fold(events, strict=True))
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].usage_metadata is None


def test_wire_descriptor() -> None:
    assert WIRE.name == "bedrock" and WIRE.terminal == "messageStop"
    assert WIRE.owns_event({"contentBlockDelta": {"delta": {"text": "x"}}})
    assert WIRE.owns_event({"metadata": {"usage": {}}})
    assert not WIRE.owns_event({"type": "message_start"})
    assert not WIRE.owns_event({"choices": [], "metadata": {}})
    assert not WIRE.owns_event_module("botocore.eventstream")
    assert WIRE.continuation == "prefill"
    assert WIRE.prefill_trailing_whitespace is False


def test_owns_the_sdk_stream(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    client = make()._sync_client()
    response = client.converse_stream(
        modelId=R.MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )
    try:
        assert WIRE.owns_sdk_stream(response["stream"])
        assert WIRE.owns_sdk_stream(response)
        assert not WIRE.owns_sdk_stream(iter([]))
        from streamtap.providers.bedrock._events import sdk_events

        assert sdk_events(response) is response["stream"]
        assert sdk_events(response["stream"]) is response["stream"]
    finally:
        response["stream"].close()


async def test_anormalize_a_raw_aiobotocore_response(server: BedrockServer, make: Any) -> None:
    serve(server, "parallel_tool_calls")
    model = make()
    try:
        client = await model._aclient().get()
        response = await client.converse_stream(
            modelId=R.MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        chunks = [c async for c in streamtap.anormalize("bedrock", response)]
    finally:
        await model.aclose()
    check_message(total(chunks), R.expected("parallel_tool_calls"))


def test_normalize_a_raw_boto3_stream(server: BedrockServer, make: Any) -> None:
    serve(server, "text_then_tool_call")
    client = make()._sync_client()
    response = client.converse_stream(
        modelId=R.MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )
    chunks = list(streamtap.normalize("bedrock", response["stream"]))
    check_message(total(chunks), R.expected("text_then_tool_call"))
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].response_metadata["finish_reason"] == "tool_calls"
    assert _raw_closed(BedrockStream(response))  # normalize() closed the stream


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("scenario", "cls"), list(MIDSTREAM.items()))
def test_in_stream_exceptions_are_typed_and_keep_the_partial(
    server: BedrockServer, make: Any, scenario: str, cls: type[StreamtapError]
) -> None:
    serve(server, scenario, piece_size=11)
    with pytest.raises(StreamInterrupted) as info:
        list(make().stream_chunks("hi"))
    error = info.value
    assert error.partial is not None and error.partial.content == "Hello wor"
    assert type(error.__cause__) is cls
    assert error.error_type is not None and error.error_type.endswith("Exception")
    assert type(error.__cause__.__cause__).__name__ == "EventStreamError"


@pytest.mark.parametrize(("scenario", "cls"), list(MIDSTREAM.items()))
async def test_in_stream_exceptions_async(
    server: BedrockServer, make: Any, scenario: str, cls: type[StreamtapError]
) -> None:
    serve(server, scenario)
    model = make()
    try:
        with pytest.raises(StreamInterrupted) as info:
            async for _ in model.astream_chunks("hi"):
                pass
    finally:
        await model.aclose()
    assert info.value.partial is not None and info.value.partial.content == "Hello wor"
    assert type(info.value.__cause__) is cls


def test_in_stream_kinds_have_the_right_retry_classes() -> None:
    from streamtap.providers.bedrock._errors import class_for_code

    assert class_for_code("throttlingException", "", None) is RateLimitError
    assert class_for_code("serviceUnavailableException", "", None) is OverloadedError
    assert class_for_code("modelStreamErrorException", "", None) is ServerError
    assert class_for_code("internalServerException", "", None) is ServerError
    assert class_for_code("validationException", "bad role", None) is BadRequestError
    assert class_for_code("UnrecognizedClientException", "", 403) is AuthenticationError
    assert class_for_code("ExpiredTokenException", "", 403) is AuthenticationError
    assert class_for_code("SomethingNewException", "", None) is ServerError


HTTP_CASES = {
    "http_429": (RateLimitError, 429, "ThrottlingException"),
    "http_400_context_length": (ContextLengthError, 400, "ValidationException"),
    "http_403": (AuthenticationError, 403, "AccessDeniedException"),
    "http_500": (ServerError, 500, "InternalServerException"),
    "http_503": (OverloadedError, 503, "ServiceUnavailableException"),
}


@pytest.mark.parametrize("scenario", HTTP_ERRORS)
def test_http_errors_are_typed(server: BedrockServer, make: Any, scenario: str) -> None:
    cls, status, code = HTTP_CASES[scenario]
    serve(server, scenario)
    with pytest.raises(StreamtapError) as info:
        list(make().stream_chunks("hi"))
    error = info.value
    assert type(error) is cls
    assert not isinstance(error, StreamInterrupted)  # nothing had started
    assert (error.status_code, error.error_type) == (status, code)
    assert error.request_id == R.reply(scenario).headers["x-amzn-RequestId"]
    assert len(server.requests) == 1  # max_retries=0: botocore did not retry


@pytest.mark.parametrize("scenario", ["http_429", "http_403"])
async def test_http_errors_are_typed_async(server: BedrockServer, make: Any, scenario: str) -> None:
    cls, status, code = HTTP_CASES[scenario]
    serve(server, scenario)
    model = make()
    try:
        with pytest.raises(cls) as info:
            async for _ in model.astream_chunks("hi"):
                pass
    finally:
        await model.aclose()
    assert (info.value.status_code, info.value.error_type) == (status, code)


def test_max_retries_is_botocore_s_retry_count(server: BedrockServer, make: Any) -> None:
    serve(server, "http_500")
    with pytest.raises(ServerError):
        list(make(max_retries=1).stream_chunks("hi"))
    assert len(server.requests) == 2


# --------------------------------------------------------------------------- header budget


def test_header_timeout_gives_up_on_a_response_that_does_not_start(
    server: BedrockServer, make: Any
) -> None:
    """boto3 has no per-request timeout: ``open(header_timeout=)`` still bounds the wait for
    the response to start, as for the httpx-based SDKs (resilient's sync timeouts need it)."""
    server.serve(R.reply("text", header_delay=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderConnectionError, match=r"timed out: no response within 0\.3 s"):
        list(make().open([HumanMessage("hi")], header_timeout=0.3))
    assert time.monotonic() - started < 2.5  # not the server's 3 s


def test_header_timeout_bounds_the_headers_not_the_body(server: BedrockServer, make: Any) -> None:
    """Once the response has started, the body reads are the client's own (botocore's read
    timeout), however long the answer takes."""
    serve(server, "text", piece_size=40, delay=0.15)
    chunks = list(make().open([HumanMessage("hi")], header_timeout=0.3))
    check_chunks(chunks, R.expected("text"))
    assert len(server.requests) == 1


async def test_header_timeout_async(server: BedrockServer, make: Any) -> None:
    server.serve(R.reply("text", header_delay=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderConnectionError, match="timed out"):
        async for _ in make().open([HumanMessage("hi")], header_timeout=0.3):
            pass
    assert time.monotonic() - started < 2.5
    server.serve(R.reply("text"))
    chunks = [c async for c in make().open([HumanMessage("hi")], header_timeout=5.0)]
    check_message(total(chunks), R.expected("text"))


def test_resilient_first_token_timeout_covers_a_silent_bedrock(
    server: BedrockServer, make: Any
) -> None:
    server.serve(R.reply("text", header_delay=3.0))
    model = streamtap.resilient(
        make(), retry=streamtap.RetryPolicy(max_attempts=1), first_token_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(StreamTimeout) as info:
        list(model.stream("hi"))
    assert info.value.error_type == "first_token_timeout" and info.value.partial is None
    assert time.monotonic() - started < 2.5


def test_call_within_returns_raises_and_closes_a_late_response() -> None:
    closed = threading.Event()

    class Stream:
        def close(self) -> None:
            closed.set()

    assert call_within(1.0, lambda: {"stream": "fast"}) == {"stream": "fast"}
    with pytest.raises(KeyError):
        call_within(1.0, lambda: {}["missing"])
    release = threading.Event()

    def slow() -> dict[str, Any]:
        release.wait(5)
        return {"stream": Stream()}

    with pytest.raises(HeadersLate):
        call_within(0.05, slow)
    assert not closed.is_set()
    release.set()  # the response comes after the caller gave up: closed, never leaked
    assert closed.wait(5)


def test_reset_mid_body_is_a_connection_error_with_the_partial(
    server: BedrockServer, make: Any
) -> None:
    serve(server, "reset", piece_size=64)
    with pytest.raises(StreamInterrupted) as info:
        list(make().stream_chunks("hi"))
    assert isinstance(info.value.__cause__, ProviderConnectionError)
    assert info.value.partial is not None and info.value.partial.content == "Hello! How"
    # the reset has no response of its own: the stream's request id names it
    assert info.value.request_id == server.request_ids[-1]
    assert f"[request id {server.request_ids[-1]}]" in str(info.value)


@pytest.mark.parametrize("is_async", [False, True])
async def test_no_region_anywhere_is_a_bad_request(server: BedrockServer, is_async: bool) -> None:
    with R.isolated_aws():
        model = BedrockChatModel(
            model=R.MODEL_ID,
            aws_access_key_id=R.ACCESS_KEY_ID,
            aws_secret_access_key=R.SECRET_ACCESS_KEY,
        )
        try:
            with pytest.raises(BadRequestError, match="region"):
                if is_async:
                    async for _ in model.astream_chunks("hi"):
                        pass
                else:
                    list(model.stream_chunks("hi"))
        finally:
            await model.aclose()


async def test_ainvoke_equals_summed_astream(server: BedrockServer, make: Any) -> None:
    serve(server, "text_then_tool_call")
    model = make()
    try:
        streamed = total([c async for c in model.astream_chunks("hi")])
        invoked = await model.ainvoke("hi")
    finally:
        await model.aclose()
    assert invoked.content == streamed.content
    assert invoked.tool_calls == streamed.tool_calls
    assert invoked.usage_metadata == streamed.usage_metadata


def test_unreachable_endpoint_is_a_connection_error(make: Any) -> None:
    with running() as gone:
        url = gone.url
    model = make(endpoint_url=url)
    with pytest.raises(ProviderConnectionError):
        list(model.stream_chunks("hi"))


async def test_unreachable_endpoint_is_a_connection_error_async(make: Any) -> None:
    with running() as gone:
        url = gone.url
    model = make(endpoint_url=url)
    try:
        with pytest.raises(ProviderConnectionError):
            async for _ in model.astream_chunks("hi"):
                pass
    finally:
        await model.aclose()


def _held_after_hello(server: BedrockServer) -> threading.Event:
    """Serve "text" but hold everything after its first text delta until the gate is set."""
    gate = threading.Event()
    body = R.reply("text").body
    assert body is not None
    reply = R.reply("text", cuts=[_frame_end(body, 2)])
    reply.gate, reply.gate_at = gate, 1
    server.serve(reply)
    return gate


def test_a_read_timeout_mid_body_is_interrupted(server: BedrockServer, make: Any) -> None:
    gate = _held_after_hello(server)
    try:
        with pytest.raises(StreamInterrupted) as info:
            list(make(timeout=0.3).stream_chunks("hi"))
        assert not gate.is_set()
    finally:
        gate.set()
    assert isinstance(info.value.__cause__, ProviderConnectionError)
    assert info.value.partial is not None and info.value.partial.content == "Hello"


async def test_a_read_timeout_mid_body_is_interrupted_async(
    server: BedrockServer, make: Any
) -> None:
    gate = _held_after_hello(server)
    model = make(timeout=0.3)
    try:
        with pytest.raises(StreamInterrupted) as info:
            async for _ in model.astream_chunks("hi"):
                pass
        assert not gate.is_set()
    finally:
        gate.set()
        await model.aclose()
    assert isinstance(info.value.__cause__, ProviderConnectionError)
    assert info.value.partial is not None and info.value.partial.content == "Hello"


# --------------------------------------------------------------------------- credentials


def test_requests_are_sigv4_signed_with_the_session_token(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    list(make().stream_chunks("hi"))
    (seen,) = server.requests
    assert seen.path == "/model/anthropic.claude-sonnet-4-6-v1%3A0/converse-stream"
    auth = seen.headers["Authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={R.ACCESS_KEY_ID}/")
    assert f"/{R.REGION}/bedrock/aws4_request" in auth
    assert "Signature=" in auth
    assert seen.headers["X-Amz-Security-Token"] == R.SESSION_TOKEN
    assert R.SECRET_ACCESS_KEY not in json.dumps(seen.headers)


def test_environment_credentials_are_used(server: BedrockServer, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", R.SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    serve(server, "text")
    model = BedrockChatModel(model=R.MODEL_ID, base_url=server.url, max_retries=0)
    assert model.region_name == "eu-west-3"
    assert model.endpoint_url == server.url
    try:
        list(model.stream_chunks("hi"))
    finally:
        model.close()
    auth = server.requests[0].headers["Authorization"]
    assert "Credential=AKIDFROMTHEENVIRONMENT/" in auth and "/eu-west-3/bedrock/" in auth


def test_an_api_key_is_a_bearer_token_instead_of_sigv4(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    key = "ABSKQmVkcm9ja0FQSUtleS1" + "PLANTEDbearer0123456789"
    model = make(api_key=key)
    assert _text(total(list(model.stream_chunks("hi")))) == R.expected("text")["text"]
    assert server.requests[-1].headers["Authorization"] == f"Bearer {key}"
    assert "X-Amz-Security-Token" not in server.requests[-1].headers
    assert key not in repr(model) and key not in str(model.model_dump())


async def test_an_api_key_is_a_bearer_token_async(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    key = "ABSKQmVkcm9ja0FQSUtleS1" + "PLANTEDbearer0123456789"
    model = make(api_key=key)
    try:
        [c async for c in model.astream_chunks("hi")]
    finally:
        await model.aclose()
    assert server.requests[-1].headers["Authorization"] == f"Bearer {key}"


def _leaks(text: str) -> list[str]:
    return [s for s in (R.SECRET_ACCESS_KEY, R.SESSION_TOKEN) if s in text]


@pytest.mark.parametrize("scenario", ["http_403", "throttling_midstream", "reset"])
def test_secrets_never_in_errors_repr_or_logs(
    server: BedrockServer, make: Any, scenario: str, caplog: Any
) -> None:
    import traceback

    serve(server, scenario)
    model = make()
    with caplog.at_level(logging.DEBUG), pytest.raises(StreamtapError) as info:
        list(model.stream_chunks("hi"))
    error = info.value
    shown = "\n".join(
        [
            str(error),
            repr(error),
            "".join(traceback.format_exception(error)),
            repr(model),
            str(model.model_dump()),
            json.dumps(model.to_json(), default=str),
            str(model._get_invocation_params()),
        ]
    )
    assert _leaks(shown) == []
    assert "X-Amz-Security-Token" in caplog.text  # botocore logged the signed headers
    assert _leaks(caplog.text) == []


# --------------------------------------------------------------------------- closing


def _raw_closed(sdk_stream: BedrockStream) -> bool:
    raw = sdk_stream.events._raw_stream
    return bool(raw.closed)


def test_response_closed_on_early_consumer_close(
    server: BedrockServer, make: Any, monkeypatch: Any
) -> None:
    server.serve(Reply(body=R.builder().text_body(20_000), piece_size=2048))
    closed: list[BedrockStream] = []
    original = BedrockChatModel._close_stream

    def spy(self: BedrockChatModel, sdk_stream: BedrockStream) -> None:
        original(self, sdk_stream)
        closed.append(sdk_stream)

    monkeypatch.setattr(BedrockChatModel, "_close_stream", spy)
    chunks = make().stream_chunks("hi")
    assert next(chunks).content == " tok0"
    chunks.close()
    (sdk_stream,) = closed
    assert _raw_closed(sdk_stream)


async def test_async_response_closed_on_early_consumer_close(
    server: BedrockServer, make: Any, monkeypatch: Any
) -> None:
    server.serve(Reply(body=R.builder().text_body(20_000), piece_size=2048))
    closed: list[BedrockStream] = []
    original = BedrockChatModel._close_stream

    def spy(self: BedrockChatModel, sdk_stream: BedrockStream) -> None:
        original(self, sdk_stream)
        closed.append(sdk_stream)

    monkeypatch.setattr(BedrockChatModel, "_close_stream", spy)
    model = make()
    chunks = model.astream_chunks("hi")
    assert (await anext(chunks)).content == " tok0"
    await chunks.aclose()
    (sdk_stream,) = closed
    assert _raw_closed(sdk_stream)
    await model.aclose()


def test_response_closed_after_errors(server: BedrockServer, make: Any, monkeypatch: Any) -> None:
    closed: list[BedrockStream] = []
    original = BedrockChatModel._close_stream

    def spy(self: BedrockChatModel, sdk_stream: BedrockStream) -> None:
        original(self, sdk_stream)
        closed.append(sdk_stream)

    monkeypatch.setattr(BedrockChatModel, "_close_stream", spy)
    for scenario in ("throttling_midstream", "truncated", "text"):
        serve(server, scenario)
        with pytest.raises(StreamInterrupted) if scenario != "text" else _nothing():
            list(make().stream_chunks("hi"))
    assert len(closed) == 3 and all(_raw_closed(s) for s in closed)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def test_async_does_not_block_the_event_loop(server: BedrockServer, make: Any) -> None:
    """The body is held after its first piece until another task on the loop releases it:
    a client that blocked the loop in a read would never let that task run."""
    gate = threading.Event()
    reply = R.reply("text", piece_size=40)
    reply.gate, reply.gate_at = gate, 1
    server.serve(reply)
    server.gate_timeouts = 0

    async def release() -> None:
        await asyncio.sleep(0.05)
        gate.set()

    model = make()
    try:
        releaser = asyncio.create_task(release())
        chunks = [c async for c in model.astream_chunks("hi")]
        await releaser
    finally:
        await model.aclose()
    assert _text(total(chunks)) == "Hello! How can I help you today?"
    assert server.gate_timeouts == 0


def _frame_end(body: bytes, frames: int) -> int:
    """The byte offset after the first ``frames`` event-stream frames (the prelude's length)."""
    offset = 0
    for _ in range(frames):
        offset += int.from_bytes(body[offset : offset + 4], "big")
    return offset


def test_abort_wakes_a_read_blocked_on_a_silent_connection(
    server: BedrockServer, make: Any
) -> None:
    """streamtap.resilient's watchdog aborts from another thread; boto3's read must wake
    while the server still holds the body (the gate is never set)."""
    gate = _held_after_hello(server)
    stream = make().open([HumanMessage("hi")])
    chunks = iter(stream)
    first = next(chunks)
    assert first.content == "Hello"
    threading.Timer(0.1, stream.abort).start()
    try:
        with pytest.raises(StreamInterrupted) as info:
            list(chunks)
        assert not gate.is_set()  # woken by the abort, not by more bytes
        assert isinstance(info.value.__cause__, ProviderConnectionError)
        assert info.value.partial is not None and _text(info.value.partial).startswith("Hello")
    finally:
        gate.set()


async def test_aclose_closes_the_async_client(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    model = make()
    [c async for c in model.astream_chunks("hi")]
    holder = model._async_client
    client = await holder.get()
    await model.aclose()
    assert holder.closed
    assert _sessions_closed(client)
    # the model stays usable: the next call builds a new client
    assert _text(total([c async for c in model.astream_chunks("hi")])) == R.expected("text")["text"]
    await model.aclose()


def _sessions_closed(client: Any) -> bool:
    return not client._endpoint.http_session._sessions  # None, or {} in older aiobotocore


def test_loops_in_two_threads_each_get_their_own_client(
    server: BedrockServer, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """One model, two threads each running its own loop at the same time: each loop has
    its own aiobotocore client, neither is replaced or closed under the other's stream,
    and each closes when its own loop ends."""
    serve(server, "text", piece_size=16, delay=0.01)
    model = make()
    both = threading.Barrier(2)
    results: dict[str, Any] = {}

    async def answer(name: str) -> None:
        client = await model._aclient().get()
        both.wait(5)  # both loops hold a client before either streams
        chunks = [c async for c in model.astream_chunks("hi")]
        results[name] = (_text(total(chunks)), client, await model._aclient().get())

    threads = [threading.Thread(target=asyncio.run, args=(answer(n),)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    expected_text = R.expected("text")["text"]
    (text_a, first_a, last_a), (text_b, first_b, last_b) = results["a"], results["b"]
    assert (text_a, text_b) == (expected_text, expected_text)
    assert first_a is last_a and first_b is last_b and first_a is not first_b
    assert model._async_client.closed and _sessions_closed(first_a) and _sessions_closed(first_b)
    assert "Unclosed" not in caplog.text


def test_asyncio_run_closes_the_async_client_with_its_loop(
    server: BedrockServer, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No aclose(): a script's asyncio.run() closes aiobotocore's client (its aiohttp
    session) before the loop ends, so nothing reports "Unclosed client session"; the next
    asyncio.run() gets a client of its own loop, closed the same way."""
    import gc
    import warnings

    serve(server, "text")
    model = make()

    async def answer() -> tuple[str, Any]:
        text = _text(total([c async for c in model.astream_chunks("hi")]))
        return text, await model._async_client.get()

    clients = []
    gc.collect()  # earlier tests' garbage is not this test's
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):
            text, client = asyncio.run(answer())
            assert text == R.expected("text")["text"]
            assert model._async_client.closed and _sessions_closed(client)
            clients.append(client)
        del client, clients
        gc.collect()
    assert [str(w.message) for w in seen if "Unclosed" in str(w.message)] == []  # aiohttp's
    assert "Unclosed" not in caplog.text


# --------------------------------------------------------------------------- requests


def _body(server: BedrockServer) -> dict[str, Any]:
    body = server.requests[-1].body
    assert isinstance(body, dict)
    return body


def test_request_shape(server: BedrockServer, make: Any) -> None:
    from pydantic import BaseModel, Field

    class GetWeather(BaseModel):
        """Get the weather for a city."""

        location: str = Field(description="the city")

    serve(server, "text")
    model = make(
        temperature=0.2,
        max_tokens=300,
        stop=["END"],
        model_kwargs={"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    bound = model.bind_tools([GetWeather], tool_choice="GetWeather")
    bound.invoke([SystemMessage("Be brief."), HumanMessage("Weather in Paris?")])
    body = _body(server)
    assert body["messages"] == [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {
        "maxTokens": 300,
        "temperature": 0.2,
        "stopSequences": ["END"],
    }
    assert body["additionalModelRequestFields"] == {
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    (tool,) = body["toolConfig"]["tools"]
    assert tool["toolSpec"]["name"] == "GetWeather"
    assert tool["toolSpec"]["description"] == "Get the weather for a city."
    assert tool["toolSpec"]["inputSchema"]["json"]["properties"]["location"]["type"] == "string"
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "GetWeather"}}
    assert "modelId" not in body  # it travels in the path


def test_parallel_tool_results_travel_in_one_user_message_and_reasoning_goes_back(
    server: BedrockServer, make: Any
) -> None:
    base = R._base()
    serve(server, "reasoning_tool_call")
    model = make()
    first = model.invoke("Weather in SF and time in LA?")
    assert first.tool_calls and first.content_blocks[0]["type"] == "reasoning"
    serve(server, "text")
    history = [
        HumanMessage("Weather in SF and time in LA?"),
        AIMessage(
            content=[
                {
                    "type": "reasoning",
                    "reasoning": "Two tools.",
                    "extras": {"signature": base.SIGNATURE},
                    "index": 0,
                },
                {"type": "reasoning", "extras": {"redacted_data": base.REDACTED_DATA}, "index": 1},
                {"type": "text", "text": "Checking."},
            ],
            tool_calls=[
                {"id": "tooluse_a", "name": "get_weather", "args": {"location": "SF"}},
                {"id": "tooluse_b", "name": "get_time", "args": {"timezone": "LA"}},
            ],
        ),
        ToolMessage('{"temp": 18}', tool_call_id="tooluse_a"),
        ToolMessage("17:00", tool_call_id="tooluse_b", status="error"),
        HumanMessage("Thanks!"),
    ]
    model.invoke(history)
    messages = _body(server)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {
            "reasoningContent": {
                "reasoningText": {"text": "Two tools.", "signature": base.SIGNATURE}
            }
        },
        {"reasoningContent": {"redactedContent": base.REDACTED_DATA}},  # bytes, base64 on the wire
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather", "input": {"location": "SF"}}},
        {"toolUse": {"toolUseId": "tooluse_b", "name": "get_time", "input": {"timezone": "LA"}}},
    ]
    assert messages[2]["content"] == [
        {"toolResult": {"toolUseId": "tooluse_a", "content": [{"json": {"temp": 18}}]}},
        {
            "toolResult": {
                "toolUseId": "tooluse_b",
                "content": [{"text": "17:00"}],
                "status": "error",
            }
        },
        {"text": "Thanks!"},
    ]


def test_a_streamed_answer_goes_back_as_it_came(server: BedrockServer, make: Any) -> None:
    """The message streamtap built from a reasoning + tool stream is valid history."""
    base = R._base()
    serve(server, "reasoning_tool_call")
    model = make()
    answer = model.invoke("Weather in Paris?")
    serve(server, "text")
    call = answer.tool_calls[0]
    model.invoke(
        [
            HumanMessage("Weather in Paris?"),
            answer,
            ToolMessage("sunny", tool_call_id=str(call["id"])),
        ]
    )
    messages = _body(server)["messages"]
    assert messages[1]["content"] == [
        {
            "reasoningContent": {
                "reasoningText": {
                    "text": "The user asks about the weather in Paris. I will call get_weather.",
                    "signature": base.SIGNATURE,
                }
            }
        },
        {"text": "Let me look that up."},
        {
            "toolUse": {
                "toolUseId": call["id"],
                "name": "get_weather",
                "input": {"location": "Paris"},
            }
        },
    ]


def test_trailing_assistant_message_is_sent_as_prefill(server: BedrockServer, make: Any) -> None:
    serve(server, "text")
    make().invoke([HumanMessage("Count to three."), AIMessage("One, two,")])
    messages = _body(server)["messages"]
    assert messages[-1] == {"role": "assistant", "content": [{"text": "One, two,"}]}


def test_a_tool_history_without_tools_gets_an_inert_tool_config(
    server: BedrockServer, make: Any
) -> None:
    """Converse refuses toolUse / toolResult blocks without a toolConfig (a summary after an
    agent loop); tool_choice="none" withholds the tools, as Converse has no "none"."""
    from streamtap.providers.bedrock._request import NO_TOOLS

    history = [
        HumanMessage("Weather?"),
        AIMessage("", tool_calls=[{"id": "t1", "name": "get_weather", "args": {}}]),
        ToolMessage("sunny", tool_call_id="t1"),
        HumanMessage("Summarize."),
    ]
    serve(server, "text")
    model = make()
    model.invoke(history)
    assert _body(server)["toolConfig"] == {"tools": [NO_TOOLS]}

    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    model.bind_tools([get_weather], tool_choice="none").invoke(history)
    assert _body(server)["toolConfig"] == {"tools": [NO_TOOLS]}
    model.bind_tools([get_weather], tool_choice="none").invoke("hi")
    assert "toolConfig" not in _body(server)
    model.invoke("hi")
    assert "toolConfig" not in _body(server)
    model.bind_tools([get_weather]).invoke(history)
    assert [t["toolSpec"]["name"] for t in _body(server)["toolConfig"]["tools"]] == ["get_weather"]


def test_tool_choice_spellings() -> None:
    from streamtap.providers.bedrock._request import converse_tool_choice

    assert converse_tool_choice("auto") == {"auto": {}}
    assert converse_tool_choice("any") == {"any": {}}
    assert converse_tool_choice("required") == {"any": {}}
    assert converse_tool_choice("none") is None
    assert converse_tool_choice("get_weather") == {"tool": {"name": "get_weather"}}


def test_images_go_as_bytes() -> None:
    from streamtap.providers.bedrock._request import to_converse_messages

    data = base64.b64encode(b"\x89PNG").decode()
    _, turns = to_converse_messages(
        [
            HumanMessage(
                content=[
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "base64": data, "mime_type": "image/png"},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}},
                ]
            )
        ]
    )
    assert turns[0]["content"][1:] == [
        {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}},
        {"image": {"format": "jpeg", "source": {"bytes": b"\x89PNG"}}},
    ]
    with pytest.raises(ValueError, match="s3://"):
        to_converse_messages([HumanMessage(content=[{"type": "image", "url": "https://x/y.png"}])])


def test_spec_and_fields() -> None:
    with R.isolated_aws():
        model = streamtap.chat_model(
            R.SPEC,
            region_name="us-west-2",
            base_url="http://127.0.0.1:9",
            timeout=7,
            max_retries=3,
            profile_name="dev",
        )
    assert type(model) is BedrockChatModel
    assert (model.provider_name, model.model, model.endpoint_url) == (
        "bedrock",
        R.MODEL_ID,
        "http://127.0.0.1:9",
    )
    config = model._config()
    assert config.retries == {"total_max_attempts": 4, "mode": "standard"}
    assert (config.read_timeout, config.connect_timeout) == (7, 7)
    assert model._get_ls_params()["ls_provider"] == "bedrock"
    assert BedrockChatModel.sdk_modules == ("boto3", "aiobotocore")


@pytest.mark.parametrize(
    ("model_id", "style", "key"),
    [
        ("anthropic.claude-sonnet-4-6", "none", "="),  # Claude 4.6 and later: no prefill
        ("anthropic.claude-sonnet-5", "none", "="),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "prefill", "="),
        # not in the table under its prefix: found without it, as langchain-aws finds it
        (
            "apac.anthropic.claude-haiku-4-5-20251001-v1:0",
            "prefill",
            "anthropic.claude-haiku-4-5-20251001-v1:0",
        ),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "prefill", None),
        ("amazon.nova-pro-v1:0", "none", "="),  # nothing says Converse continues Nova
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0",
            "none",
            "us.amazon.nova-pro-v1:0",
        ),
    ],
)
def test_continuation_and_profile_follow_the_model(
    model_id: str, style: str, key: str | None
) -> None:
    """The profile is ChatBedrockConverse's (langchain-aws's table, by Bedrock model id),
    minus the two claims Converse cannot honour: it hoists every system message and takes
    tools only up front."""
    from streamtap.providers import _profiles

    with R.isolated_aws():
        model = BedrockChatModel(model=model_id, region_name="us-east-1")
    assert model.continuation_style() == style
    if key is None:
        assert model.profile is None
        return
    table = dict(_profiles._profiles("bedrock")[model_id if key == "=" else key])
    if model_id == "anthropic.claude-sonnet-5":  # the table claims both; Converse honours neither
        assert {"mid_conversation_system_messages", "mid_conversation_tools"} <= set(table)
    for claim in ("mid_conversation_system_messages", "mid_conversation_tools"):
        table.pop(claim, None)
    assert model.profile == table and table["max_input_tokens"] > 0


def test_dumpd_load_round_trip(monkeypatch: Any) -> None:
    """Credentials serialize as references to AWS's own environment variables."""
    from langchain_core.load import dumpd, load

    with R.isolated_aws():
        model = BedrockChatModel(
            model=R.MODEL_ID,
            region_name="eu-west-1",
            aws_access_key_id=R.ACCESS_KEY_ID,
            aws_secret_access_key=R.SECRET_ACCESS_KEY,
            aws_session_token=R.SESSION_TOKEN,
            temperature=0.5,
        )
        data = dumpd(model)
        assert _leaks(str(data)) == [] and R.ACCESS_KEY_ID not in str(data)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", R.ACCESS_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", R.SECRET_ACCESS_KEY)
        monkeypatch.setenv("AWS_SESSION_TOKEN", R.SESSION_TOKEN)
        loaded = load(
            data,
            valid_namespaces=["streamtap"],
            allowed_objects=[BedrockChatModel],
            secrets_from_env=True,
        )
    assert type(loaded) is BedrockChatModel and loaded.model_dump() == model.model_dump()
    assert loaded.aws_access_key_id == R.ACCESS_KEY_ID
    assert loaded.aws_secret_access_key is not None
    assert loaded.aws_secret_access_key.get_secret_value() == R.SECRET_ACCESS_KEY


# --------------------------------------------------------------------------- langchain-tests


class TestBedrockStandard(_Base):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return BedrockChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": R.MODEL_ID, "region_name": "us-east-1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"AWS_REGION": "eu-central-1"},
            {"model": R.MODEL_ID},
            {"region_name": "eu-central-1"},
        )
