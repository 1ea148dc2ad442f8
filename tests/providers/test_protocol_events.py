"""``stream_events(version="v3")``: streamtap models emit the protocol events natively.

The yardstick is langchain-core's own compat bridge (``chunks_to_events``) over the same
model's ``_stream`` chunks: for every recorded fixture, sync and async, the native events
equal the bridge's, list for list, and obey langchain-tests' lifecycle rules. The two
places where they must differ (``streamtap/providers/_protocol_events.py`` says why) are
tested on their own, with the exact events each side gives.
"""

from __future__ import annotations

import functools
import operator
import uuid
from typing import Any

import pytest
import respx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import _compat_bridge
from langchain_core.language_models import chat_models as lc_chat_models
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGenerationChunk

from streamtap.providers import _protocol_events as P
from streamtap.providers import normalize
from streamtap.providers._chunks import generation_chunk
from tests import _fixtures as F
from tests._stream_lifecycle import assert_valid_event_stream
from tests.providers.conftest import make_model, sse_cases

MESSAGES = [HumanMessage("hi")]
#: The one fixture where the native events must differ from the bridge's (see below).
BLOCK_IDENTITY = ("openai-responses", "reasoning_tool_call")


def _run_managers() -> tuple[CallbackManagerForLLMRun, AsyncCallbackManagerForLLMRun]:
    run_id = uuid.uuid4()
    return (
        CallbackManagerForLLMRun(run_id=run_id, handlers=[], inheritable_handlers=[]),
        AsyncCallbackManagerForLLMRun(run_id=run_id, handlers=[], inheritable_handlers=[]),
    )


def _collect(events: Any) -> tuple[list[Any], type[BaseException] | None]:
    out: list[Any] = []
    try:
        for event in events:
            out.append(event)
    except Exception as exc:
        return out, type(exc)
    return out, None


async def _acollect(events: Any) -> tuple[list[Any], type[BaseException] | None]:
    out: list[Any] = []
    try:
        async for event in events:
            out.append(event)
    except Exception as exc:
        return out, type(exc)
    return out, None


def _native(wire: str, scenario: str) -> tuple[list[Any], type[BaseException] | None, str]:
    sync_manager, _ = _run_managers()
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = make_model(wire)
        events = model._stream_chat_model_events(MESSAGES, run_manager=sync_manager)
        got, error = _collect(events)
    return got, error, f"lc_run--{sync_manager.run_id}"


def _bridge(wire: str, scenario: str, message_id: str) -> tuple[list[Any], Any]:
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = make_model(wire)
        events = _compat_bridge.chunks_to_events(model._stream(MESSAGES), message_id=message_id)
        return _collect(events)


async def _anative(wire: str, scenario: str) -> tuple[list[Any], Any, str]:
    _, async_manager = _run_managers()
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = make_model(wire)
        events = model._astream_chat_model_events(MESSAGES, run_manager=async_manager)
        got, error = await _acollect(events)
    return got, error, f"lc_run--{async_manager.run_id}"


async def _abridge(wire: str, scenario: str, message_id: str) -> tuple[list[Any], Any]:
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = make_model(wire)
        events = _compat_bridge.achunks_to_events(model._astream(MESSAGES), message_id=message_id)
        return await _acollect(events)


def _check_lifecycle(wire: str, scenario: str, events: list[Any], error: Any) -> None:
    want = F.expected(wire, scenario)
    assert events[0]["event"] == "message-start"
    text = "".join(
        e["delta"]["text"]
        for e in events
        if e["event"] == "content-block-delta" and e["delta"]["type"] == "text-delta"
    )
    assert text == want["text"] + want["refusal"]
    if want["ending"] == "complete":
        assert error is None
        assert_valid_event_stream(events)
        assert events[-1]["event"] == "message-finish"
        assert events[-1]["metadata"]["finish_reason"] == want["finish_reason"]
    else:  # the stream failed: the events stop where it did, and the error is raised
        assert error is not None and error.__name__ == "StreamInterrupted"
        assert all(e["event"] not in ("content-block-finish", "message-finish") for e in events)


PARITY_CASES = [c for c in sse_cases() if c != BLOCK_IDENTITY]


def test_every_fixture_is_covered() -> None:
    assert len(PARITY_CASES) == len(sse_cases()) - 1 >= 45


@pytest.mark.parametrize(("wire", "scenario"), PARITY_CASES)
def test_native_events_equal_the_bridge(wire: str, scenario: str) -> None:
    native, error, message_id = _native(wire, scenario)
    bridged, bridge_error = _bridge(wire, scenario, message_id)
    assert native == bridged
    assert error is bridge_error
    assert native[0] == {"event": "message-start", "role": "ai", "id": message_id}
    _check_lifecycle(wire, scenario, native, error)


@pytest.mark.parametrize(("wire", "scenario"), PARITY_CASES)
async def test_async_native_events_equal_the_bridge(wire: str, scenario: str) -> None:
    native, error, message_id = await _anative(wire, scenario)
    bridged, bridge_error = await _abridge(wire, scenario, message_id)
    assert native == bridged
    assert error is bridge_error
    sync_native, _, _ = _native(wire, scenario)
    assert native == [_with_id(e, message_id) for e in sync_native]  # sync and async agree
    _check_lifecycle(wire, scenario, native, error)


def _with_id(event: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {**event, "id": message_id} if event["event"] == "message-start" else event


# -- where the native events differ from the bridge's ----------------------------------------
REASONING_TOOL_CALL = [
    {"event": "message-start", "role": "ai", "id": "lc_run--X"},
    {"event": "content-block-start", "index": 0, "content": {"type": "reasoning", "reasoning": ""}},
    {
        "event": "content-block-delta",
        "index": 0,
        "delta": {"type": "reasoning-delta", "reasoning": "The user asks about"},
    },
    {
        "event": "content-block-delta",
        "index": 0,
        "delta": {"type": "reasoning-delta", "reasoning": " the weather in Paris."},
    },
    {
        "event": "content-block-delta",
        "index": 0,
        "delta": {"type": "reasoning-delta", "reasoning": " I will call get_weather."},
    },
    {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": "Let"}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": " me"}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": " look"}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": " that"}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": " up."}},
    {
        "event": "content-block-start",
        "index": 2,
        "content": {
            "type": "tool_call_chunk",
            "id": "call_0C7etJPnAKX3YcAsOQPHtow6",
            "name": "get_weather",
            "args": "",
            "index": 0,
        },
    },
    {
        "event": "content-block-delta",
        "index": 2,
        "delta": {"type": "tool-call-delta", "args": '{"loc'},
    },
    {
        "event": "content-block-delta",
        "index": 2,
        "delta": {"type": "tool-call-delta", "args": 'ation": "Pa'},
    },
    {
        "event": "content-block-delta",
        "index": 2,
        "delta": {"type": "tool-call-delta", "args": 'ris"}'},
    },
    {
        "event": "content-block-finish",
        "index": 0,
        "content": {
            "type": "reasoning",
            "index": 0,
            "extras": {"item_id": "rs_1c478d3f902d85bf6e83d14ca2e0a4718a270fbca223548de9"},
            "reasoning": "The user asks about the weather in Paris. I will call get_weather.",
        },
    },
    {
        "event": "content-block-finish",
        "index": 1,
        "content": {"type": "text", "text": "Let me look that up."},
    },
    {
        "event": "content-block-finish",
        "index": 2,
        "content": {
            "type": "tool_call",
            "id": "call_0C7etJPnAKX3YcAsOQPHtow6",
            "name": "get_weather",
            "args": {"location": "Paris"},
        },
    },
    {
        "event": "message-finish",
        "usage": {
            "input_tokens": 95,
            "output_tokens": 60,
            "total_tokens": 155,
            "output_token_details": {"reasoning": 25},
        },
        "metadata": {
            "finish_reason": "tool_calls",
            "native_finish_reason": "completed",
            "model_name": "gpt-5-2025-08-07",
            "model_provider": "openai",
            "content_format": "streamtap/v1",
            "service_tier": "default",
        },
    },
]


async def test_reasoning_and_a_tool_call_stay_two_blocks() -> None:
    """streamtap numbers tool calls and the other non-text blocks in two ordinal spaces; the
    bridge keys blocks by ``index`` alone, so tool call 0 lands in reasoning block 0: no
    ``content-block-start`` for it, its argument deltas on the reasoning block's index, and
    a finish that replaced the reasoning with the tool call. The native events keep three
    blocks; everything else is the bridge's."""
    wire, scenario = BLOCK_IDENTITY
    native, error, _ = _native(wire, scenario)
    assert error is None
    assert [_with_id(e, "lc_run--X") for e in native] == REASONING_TOOL_CALL
    assert_valid_event_stream(native)
    anative, _, _ = await _anative(wire, scenario)
    assert [_with_id(e, "lc_run--X") for e in anative] == REASONING_TOOL_CALL

    bridged, _ = _bridge(wire, scenario, "lc_run--X")
    tool_start, finishes = REASONING_TOOL_CALL[11], REASONING_TOOL_CALL[15:18]
    tool_deltas = REASONING_TOOL_CALL[12:15]
    assert bridged == [
        *REASONING_TOOL_CALL[:11],
        *({**d, "index": 0} for d in tool_deltas),  # on the reasoning block, never started
        {**finishes[2], "index": 0},  # the reasoning block finishes as the tool call
        finishes[1],
        REASONING_TOOL_CALL[-1],
    ]
    assert tool_start not in bridged


def _anthropic_citations() -> list[dict[str, Any]]:
    def citation(n: int) -> dict[str, Any]:
        return {
            "type": "web_search_result_location",
            "cited_text": f"fact {n}",
            "url": f"https://w.example/{n}",
            "title": f"Source {n}",
        }

    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_c",
                "model": "claude",
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": "", "citations": []},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": citation(1)},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": citation(2)},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Sunny"},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "."}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    ]


def _annotation(n: int) -> dict[str, Any]:
    return {
        "type": "citation",
        "url": f"https://w.example/{n}",
        "title": f"Source {n}",
        "cited_text": f"fact {n}",
        "extras": {"type": "web_search_result_location"},
    }


def test_several_citations_on_one_block_are_all_kept() -> None:
    """Each citation is a chunk of the same (annotation) block; summing the chunks keeps
    them all, the bridge keeps only the last one's ``annotations``. The native finish
    carries them all; every other event is the bridge's."""
    chunks = list(normalize("anthropic", _anthropic_citations()))
    native = list(P.protocol_events(chunks, message_id="m"))
    assert native == [
        {"event": "message-start", "role": "ai", "id": "m"},
        {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}},
        {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
        {
            "event": "content-block-delta",
            "index": 1,
            "delta": {"type": "text-delta", "text": "Sunny"},
        },
        {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": "."}},
        {
            "event": "content-block-finish",
            "index": 0,
            "content": {
                "type": "text",
                "text": "",
                "index": 0,
                "annotations": [_annotation(1), _annotation(2)],
            },
        },
        {
            "event": "content-block-finish",
            "index": 1,
            "content": {"type": "text", "text": "Sunny."},
        },
        {
            "event": "message-finish",
            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            "metadata": {
                "finish_reason": "stop",
                "native_finish_reason": "end_turn",
                "model_name": "claude",
                "model_provider": "anthropic",
                "content_format": "streamtap/v1",
            },
        },
    ]
    assert_valid_event_stream(native)
    # the same annotations as the summed message's block
    summed = functools.reduce(operator.add, chunks)
    (cited,) = [b for b in summed.content_blocks if b.get("annotations")]
    assert native[5]["content"]["annotations"] == cited["annotations"]

    bridged = list(_bridge_over(chunks, "m"))
    assert bridged[5]["content"]["annotations"] == [_annotation(2)]
    assert bridged[:5] == native[:5] and bridged[6:] == native[6:]


def _bridge_over(chunks: list[AIMessageChunk], message_id: str) -> Any:
    return _compat_bridge.chunks_to_events(
        (generation_chunk(c) for c in chunks), message_id=message_id
    )


# -- blocks no fixture records: equal to the bridge's ---------------------------------------
def _server_tools_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "message_start",
            "message": {"id": "msg_s", "model": "claude", "usage": {"input_tokens": 3}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Look"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "SIG"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "server_tool_use",
                "id": "srv_1",
                "name": "web_search",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "paris"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "web_search_tool_result",
                "tool_use_id": "srv_1",
                "content": [{"type": "web_search_result", "url": "https://w.example"}],
            },
        },
        {"type": "content_block_stop", "index": 2},
        {"type": "content_block_start", "index": 3, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "text_delta", "text": "Sunny."},
        },
        {"type": "content_block_stop", "index": 3},
        {
            "type": "content_block_start",
            "index": 4,
            "content_block": {"type": "container_upload", "file_id": "f1"},
        },
        {"type": "content_block_stop", "index": 4},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    ]


def test_signature_server_tools_and_unknown_blocks_equal_the_bridge() -> None:
    chunks = list(normalize("anthropic", _server_tools_events()))
    native = list(P.protocol_events(chunks, message_id="m"))
    assert native == list(_bridge_over(chunks, "m"))
    assert_valid_event_stream(native)
    finishes = [e["content"] for e in native if e["event"] == "content-block-finish"]
    assert finishes == [
        {"type": "reasoning", "index": 0, "reasoning": "Look", "extras": {"signature": "SIG"}},
        {
            "type": "server_tool_call",
            "id": "srv_1",
            "name": "web_search",
            "args": {"query": "paris"},
            "index": 1,
        },
        {
            "type": "server_tool_result",
            "tool_call_id": "srv_1",
            "status": "success",
            "output": [{"type": "web_search_result", "url": "https://w.example"}],
            "extras": {"block_type": "web_search_tool_result"},
            "index": 2,
        },
        {"type": "text", "text": "Sunny."},
        # content_blocks reads a non-standard block without its index (so does the bridge)
        {"type": "non_standard", "value": {"type": "container_upload", "file_id": "f1"}},
    ]
    starts = [e["content"] for e in native if e["event"] == "content-block-start"]
    assert starts[1] == {
        "type": "server_tool_call",
        "id": "srv_1",
        "name": "web_search",
        "index": 1,
        "args": {},
    }
    assert "output" not in starts[2] and starts[4] == {"type": "non_standard", "value": {}}


def _chat(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _call(index: int, args: str, **head: str) -> dict[str, Any]:
    function = {"arguments": args, **({"name": head["name"]} if "name" in head else {})}
    call: dict[str, Any] = {"index": index, "function": function}
    if "id" in head:
        call.update(id=head["id"], type="function")
    return call


def test_interleaved_parallel_tool_calls_and_a_bad_argument() -> None:
    """Blocks interleave (deltas of call 1 before call 0 finishes); each keeps start < deltas
    < finish; a call whose arguments are not JSON finishes as ``invalid_tool_call``."""
    events = [
        _chat({"role": "assistant", "content": None}),
        _chat({"tool_calls": [_call(0, "", id="call_a", name="f")]}),
        _chat({"tool_calls": [_call(1, '{"y"', id="call_b", name="g")]}),
        _chat({"tool_calls": [_call(0, '{"x": ')]}),
        _chat({"tool_calls": [_call(1, ": 2"), _call(0, "1}")]}),
        _chat({}, "tool_calls"),
        {
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        },
    ]
    chunks = list(normalize("openai", events))
    native = list(P.protocol_events(chunks, message_id="m"))
    assert native == list(_bridge_over(chunks, "m"))
    assert_valid_event_stream(native)
    assert [(e["event"], e["index"]) for e in native[1:-1]] == [
        ("content-block-start", 0),
        ("content-block-start", 1),
        ("content-block-delta", 1),
        ("content-block-delta", 0),
        ("content-block-delta", 1),
        ("content-block-delta", 0),
        ("content-block-finish", 0),
        ("content-block-finish", 1),
    ]
    assert native[-3]["content"] == {
        "type": "tool_call",
        "id": "call_a",
        "name": "f",
        "args": {"x": 1},
    }
    assert native[-2]["content"] == {
        "type": "invalid_tool_call",
        "id": "call_b",
        "name": "g",
        "args": '{"y": 2',
        "error": "Failed to parse tool call arguments as JSON",
    }


def test_fold_edges_equal_the_bridge() -> None:
    # no chunk at all: no event (core reports the empty stream)
    assert list(P.protocol_events([], message_id="m")) == []
    # no message id given: the chunks' own id, as the bridge takes it
    chunks = [AIMessageChunk(content="a", id="msg_1"), AIMessageChunk(content="b", id="msg_1")]
    native = list(P.protocol_events(chunks))
    assert native == list(_bridge_over(chunks, None))  # type: ignore[arg-type]
    assert native[0] == {"event": "message-start", "role": "ai", "id": "msg_1"}
    # usage on several chunks, gateway metadata and additional_kwargs, as the bridge does
    chunks = [
        AIMessageChunk(
            content="a",
            usage_metadata={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
            response_metadata={"model_name": "m1", "model_provider": "p"},
        ),
        AIMessageChunk(
            content="b",
            additional_kwargs={"k": "v"},
            usage_metadata={
                "input_tokens": 0,
                "output_tokens": 2,
                "total_tokens": 2,
                "output_token_details": {"reasoning": 1},
            },
            response_metadata={"finish_reason": "stop", "lc_gateway_metadata": {"x": 1}},
        ),
    ]
    native = list(P.protocol_events(chunks, message_id="m"))
    assert native == list(_bridge_over(chunks, "m"))
    assert native[0]["metadata"] == {"provider": "p", "model": "m1"}
    assert native[-1] == {
        "event": "message-finish",
        "usage": {
            "input_tokens": 1,
            "output_tokens": 3,
            "total_tokens": 4,
            "output_token_details": {"reasoning": 1},
        },
        "metadata": {"model_name": "m1", "model_provider": "p", "finish_reason": "stop"},
        "additional_kwargs": {"k": "v"},
    }


@pytest.mark.parametrize(
    ("wire", "scenario"), [("anthropic", "reasoning"), ("openai", "text_then_tool_call")]
)
async def test_without_the_bridge_helpers_the_fold_is_the_bridge(
    wire: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    native, _, _ = _native(wire, scenario)
    monkeypatch.setattr(P, "_HELPERS", False)
    assert not P.native_events_available()
    fallback, error, _ = _native(wire, scenario)
    assert error is None
    assert [_with_id(e, "x") for e in fallback] == [_with_id(e, "x") for e in native]
    afallback, _, _ = await _anative(wire, scenario)
    assert [_with_id(e, "x") for e in afallback] == [_with_id(e, "x") for e in native]


# -- the public surface: stream_events(version="v3") goes native ----------------------------
def _no_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the compat bridge was used")

    monkeypatch.setattr(lc_chat_models, "chunks_to_events", refuse)
    monkeypatch.setattr(lc_chat_models, "achunks_to_events", refuse)


COMPLETE = [c for c in sse_cases() if F.expected(*c)["ending"] == "complete"]


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize(("wire", "scenario"), COMPLETE)
async def test_stream_events_v3_is_native(
    wire: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    native, _, _ = _native(wire, scenario)
    want = F.expected(wire, scenario)
    _no_bridge(monkeypatch)
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = make_model(wire)
        stream = model.stream_events("hi", version="v3")
        events = list(stream)
        astream = await model.astream_events("hi", version="v3")
        aevents = [e async for e in astream]
        aoutput = await astream.output

    message_id = events[0]["id"]
    assert message_id.startswith("lc_run--")
    assert events == [_with_id(e, message_id) for e in native]
    output = stream.output
    assert isinstance(output, AIMessage) and output.id == message_id
    assert output.text == want["text"] + want["refusal"]
    assert [(c["name"], c["args"]) for c in output.tool_calls] == [
        (c["name"], c["args"]) for c in want["tool_calls"]
    ]
    assert output.response_metadata["finish_reason"] == want["finish_reason"]

    assert aevents == [_with_id(e, aevents[0]["id"]) for e in events]
    assert aevents[0]["id"] != message_id  # a run of its own
    assert aoutput.content == output.content and aoutput.usage_metadata == output.usage_metadata


# -- langchain-tests' own v3 tests, on the recorded fixtures ---------------------------------
def _standard_suite(wire: str) -> Any:
    from langchain_tests.integration_tests import ChatModelIntegrationTests

    if not hasattr(ChatModelIntegrationTests, "test_stream_events_v3"):
        pytest.skip("the installed langchain-tests has no test_stream_events_v3")

    class Suite(ChatModelIntegrationTests):
        @property
        def chat_model_class(self) -> Any:
            return type(make_model(wire))

    return Suite()


TEXT_ANSWERS = [c for c in COMPLETE if F.expected(*c)["text"]]


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize(("wire", "scenario"), TEXT_ANSWERS)
def test_langchain_tests_stream_events_v3(
    router: respx.MockRouter, wire: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _standard_suite(wire)
    _no_bridge(monkeypatch)
    F.mock(router, wire, scenario)
    suite.test_stream_events_v3(make_model(wire))


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize(("wire", "scenario"), TEXT_ANSWERS)
async def test_langchain_tests_astream_events_v3(
    router: respx.MockRouter, wire: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _standard_suite(wire)
    _no_bridge(monkeypatch)
    F.mock(router, wire, scenario)
    await suite.test_astream_events_v3(make_model(wire))


def test_generation_chunks_are_what_the_bridge_reads() -> None:
    """The parity above compares the fold over ``stream_chunks`` with the bridge over
    ``_stream``: ``_stream`` wraps exactly those chunks, with no ``generation_info``."""
    message = AIMessageChunk(content="hi", id="m")
    assert generation_chunk(message) == ChatGenerationChunk(message=message)
    assert generation_chunk(message).generation_info is None


# -- inside a graph: LangGraph's v3 run reads the model's native events -----------------------
def _graph(model: Any, *, is_async: bool) -> Any:
    from langgraph.graph import START, MessagesState, StateGraph

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", acall if is_async else call)
    graph.add_edge(START, "model")
    return graph.compile()


def _messages_data(event: dict[str, Any]) -> dict[str, Any]:
    data = event["params"]["data"]
    return data[0] if isinstance(data, tuple) else data


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
async def test_a_graph_v3_run_carries_the_native_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """``graph.stream_events(version="v3")`` drives an ``invoke`` in a node through core's
    v2 handler route, which takes the native hook too: the ``messages`` events are the
    model's own (with the reasoning and the tool call as two blocks)."""
    wire, scenario = BLOCK_IDENTITY
    _no_bridge(monkeypatch)
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        run = _graph(make_model(wire), is_async=False).stream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        got = [_messages_data(e) for e in run if e["method"] == "messages"]
        arun = await _graph(make_model(wire), is_async=True).astream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        agot = [_messages_data(e) async for e in arun if e["method"] == "messages"]
    assert [_with_id(e, "lc_run--X") for e in got] == REASONING_TOOL_CALL
    assert [_with_id(e, "lc_run--X") for e in agot] == REASONING_TOOL_CALL
