"""``resilient()`` emits ``stream_events(version="v3")`` protocol events natively.

The yardstick is langchain-core's compat bridge (``chunks_to_events``) over the same
model's ``_stream`` chunks, on recorded fixtures replayed through respx: a retry, a
fallback to another vendor, a mid-stream continuation on another vendor, a failure that
ends the call. The native events equal the bridge's, sync and async, except where the
bridge is wrong (``streamtap/providers/_protocol_events.py``): a reasoning block and a
tool call stay two blocks, and a restarted answer gets blocks of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import respx
from langchain_core.language_models import _compat_bridge
from langchain_core.messages import HumanMessage

import streamtap
from streamtap.errors import StreamInterrupted
from streamtap.providers import _protocol_events as P
from streamtap.resilience import ResilientChatModel
from streamtap.resilience._recovery import RESET_EVENT
from tests import _fixtures as F
from tests._stream_lifecycle import assert_valid_event_stream
from tests.providers.test_protocol_events import (
    REASONING_TOOL_CALL,
    _acollect,
    _collect,
    _graph,
    _messages_data,
    _no_bridge,
    _run_managers,
    _with_id,
)

API_KEY = "sk-test-resilience0123456789"
MESSAGES = [HumanMessage("hi")]
#: No waits at all (and no jitter): the attempts' metadata is the same on every run.
NOW = streamtap.RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0)
ONCE = streamtap.RetryPolicy(max_attempts=1)
V3 = pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")


def _model(wire: str, spec: str | None = None) -> streamtap.StreamtapChatModel:
    kwargs: dict[str, Any] = {"api_key": API_KEY, "max_retries": 0}
    if wire == "openai-compatible":
        kwargs["base_url"] = F.BASE_URLS[wire]
    specs = {
        "openai": "openai:gpt-4o",
        "openai-responses": "openai-responses:gpt-5",
        "anthropic": "anthropic:claude-sonnet-4-6",
    }
    return streamtap.chat_model(spec or specs[wire], **kwargs)


def _serve(router: respx.MockRouter, wire: str, *scenarios: str) -> None:
    """``wire``'s endpoint answers ``scenarios`` in order, one per request."""
    responses = [F.response(F.load(wire, s)) for s in scenarios]
    router.post(F.URLS[wire]).mock(side_effect=responses)


#: name -> (routes: wire -> scenarios in order, the models (wire, spec), recovery)
Case = tuple[dict[str, tuple[str, ...]], list[tuple[str, str | None]], str]
CASES: dict[str, Case] = {
    # a 503 before any content, retried on the same model
    "retry": ({"openai": ("http_503", "text_then_tool_call")}, [("openai", None)], "raise"),
    # the primary gives up (a 400 is not retried), another vendor answers with reasoning
    "fallback": (
        {"openai-responses": ("http_400_context_length",), "anthropic": ("reasoning",)},
        [("openai-responses", None), ("anthropic", None)],
        "raise",
    ),
    # the connection drops mid-answer; the model continues it by prefill
    "continue": (
        {"anthropic": ("reset", "text")},
        [("anthropic", "anthropic:claude-3-5-sonnet-latest")],
        "continue",
    ),
    # the connection drops mid-answer, no retries: another vendor continues it
    "fallback_continue": (
        {"openai": ("reset",), "anthropic": ("text",)},
        [("openai", None), ("anthropic", "anthropic:claude-3-5-sonnet-latest")],
        "continue",
    ),
    # retried twice, then a parallel tool call
    "retries_then_tools": (
        {"anthropic": ("http_529", "http_500", "parallel_tool_calls")},
        [("anthropic", None)],
        "raise",
    ),
    # the stream breaks after content and recovery="raise": the call ends with the error
    "interrupted": ({"anthropic": ("reset",)}, [("anthropic", None)], "raise"),
}


def _resilient(case: str) -> ResilientChatModel:
    _, models, recovery = CASES[case]
    retry = ONCE if case == "fallback_continue" else NOW
    return streamtap.resilient(
        *(_model(wire, spec) for wire, spec in models),
        retry=retry,
        recovery=recovery,  # type: ignore[arg-type]
    )


def _routed(case: str, run: Callable[[ResilientChatModel], Any]) -> Any:
    routes, _, _ = CASES[case]
    with respx.mock() as router:
        for wire, scenarios in routes.items():
            _serve(router, wire, *scenarios)
        return run(_resilient(case))


def _native(case: str) -> tuple[list[Any], BaseException | None, str]:
    manager, _ = _run_managers()

    def run(model: ResilientChatModel) -> tuple[list[Any], BaseException | None]:
        return _collect_exc(model._stream_chat_model_events(MESSAGES, run_manager=manager))

    events, error = _routed(case, run)
    return events, error, f"lc_run--{manager.run_id}"


def _bridge(case: str, message_id: str) -> tuple[list[Any], BaseException | None]:
    def run(model: ResilientChatModel) -> tuple[list[Any], BaseException | None]:
        events = _compat_bridge.chunks_to_events(model._stream(MESSAGES), message_id=message_id)
        return _collect_exc(events)

    result: tuple[list[Any], BaseException | None] = _routed(case, run)
    return result


async def _anative(case: str) -> tuple[list[Any], BaseException | None, str]:
    _, manager = _run_managers()
    routes, _, _ = CASES[case]
    with respx.mock() as router:
        for wire, scenarios in routes.items():
            _serve(router, wire, *scenarios)
        model = _resilient(case)
        events = model._astream_chat_model_events(MESSAGES, run_manager=manager)
        got, error = await _acollect_exc(events)
    return got, error, f"lc_run--{manager.run_id}"


async def _abridge(case: str, message_id: str) -> tuple[list[Any], BaseException | None]:
    routes, _, _ = CASES[case]
    with respx.mock() as router:
        for wire, scenarios in routes.items():
            _serve(router, wire, *scenarios)
        model = _resilient(case)
        events = _compat_bridge.achunks_to_events(model._astream(MESSAGES), message_id=message_id)
        return await _acollect_exc(events)


def _collect_exc(events: Any) -> tuple[list[Any], BaseException | None]:
    out: list[Any] = []
    try:
        for event in events:
            out.append(event)
    except Exception as exc:
        return out, exc
    return out, None


async def _acollect_exc(events: Any) -> tuple[list[Any], BaseException | None]:
    out: list[Any] = []
    try:
        async for event in events:
            out.append(event)
    except Exception as exc:
        return out, exc
    return out, None


def _attempts(events: list[Any]) -> list[tuple[str, str, str | None]]:
    finish = events[-1]
    assert finish["event"] == "message-finish"
    return [(a["provider"], a["mode"], a["error"]) for a in finish["metadata"]["attempts"]]


ATTEMPTS = {
    "retry": [("openai", "fresh", "ServerError"), ("openai", "fresh", None)],
    "fallback": [
        ("openai", "fresh", "ContextLengthError"),
        ("anthropic", "fresh", None),
    ],
    "continue": [
        ("anthropic", "fresh", "ProviderConnectionError"),
        ("anthropic", "continue", None),
    ],
    "fallback_continue": [
        ("openai", "fresh", "ProviderConnectionError"),
        ("anthropic", "continue", None),
    ],
    "retries_then_tools": [
        ("anthropic", "fresh", "OverloadedError"),
        ("anthropic", "fresh", "ServerError"),
        ("anthropic", "fresh", None),
    ],
}
COMPLETE = list(ATTEMPTS)


@pytest.mark.parametrize("case", COMPLETE)
def test_native_events_equal_the_bridge(case: str) -> None:
    native, error, message_id = _native(case)
    bridged, bridge_error = _bridge(case, message_id)
    assert error is None and bridge_error is None
    assert native == bridged
    assert native[0]["event"] == "message-start" and native[0]["id"] == message_id
    assert_valid_event_stream(native)
    assert _attempts(native) == ATTEMPTS[case]


@pytest.mark.parametrize("case", COMPLETE)
async def test_async_native_events_equal_the_bridge(case: str) -> None:
    native, error, message_id = await _anative(case)
    bridged, bridge_error = await _abridge(case, message_id)
    assert error is None and bridge_error is None
    assert native == bridged
    sync_native, _, _ = _native(case)
    assert native == [_with_id(e, message_id) for e in sync_native]
    assert_valid_event_stream(native)


def test_the_fixtures_give_what_each_case_says() -> None:
    """What the events of each case carry: the answer the last attempt gave."""

    def text(events: list[Any]) -> str:
        return "".join(
            e["delta"]["text"]
            for e in events
            if e["event"] == "content-block-delta" and e["delta"]["type"] == "text-delta"
        )

    def finished(events: list[Any]) -> list[str]:
        return [e["content"]["type"] for e in events if e["event"] == "content-block-finish"]

    retry, _, _ = _native("retry")
    assert text(retry) == F.expected("openai", "text_then_tool_call")["text"]
    assert finished(retry) == ["text", "tool_call"]
    fallback, _, _ = _native("fallback")
    assert finished(fallback) == ["reasoning", "text"]
    assert fallback[-1]["metadata"]["model_provider"] == "anthropic"
    tools, _, _ = _native("retries_then_tools")
    assert finished(tools) == ["tool_call", "tool_call"]
    # a continuation appends to the same text block, under the same message
    for case, wire in (("continue", "anthropic"), ("fallback_continue", "openai")):
        cont, _, _ = _native(case)
        assert finished(cont) == ["text"]
        partial = F.expected(wire, "reset")["text"]
        assert text(cont).startswith(partial) and len(text(cont)) > len(partial)


# -- a stream that fails after it started ------------------------------------------------
@pytest.mark.parametrize("use_async", [False, True])
async def test_a_failed_stream_raises_what_stream_raises(use_async: bool) -> None:
    """The events stop where the stream did (no finish), and the error is the one
    ``stream()`` raises: ``StreamInterrupted`` with the partial message on ``.partial``."""
    native, error, message_id = (
        await _anative("interrupted") if use_async else _native("interrupted")
    )
    bridged, bridge_error = (
        await _abridge("interrupted", message_id)
        if use_async
        else _bridge("interrupted", message_id)
    )
    assert native == bridged
    assert all(e["event"] not in ("content-block-finish", "message-finish") for e in native)

    def plain(model: ResilientChatModel) -> BaseException:
        with pytest.raises(StreamInterrupted) as info:
            list(model.stream("hi"))
        return info.value

    expected = _routed("interrupted", plain)
    for err in (error, bridge_error):
        assert isinstance(err, StreamInterrupted)
        assert type(err.__cause__) is type(expected.__cause__)
        assert err.partial is not None and expected.partial is not None
        assert err.partial.content == expected.partial.content != ""
        assert (
            err.partial.response_metadata["attempts"]
            == (expected.partial.response_metadata["attempts"])
        )
    text = "".join(e["delta"]["text"] for e in native if e["event"] == "content-block-delta")
    assert text == expected.partial.content


@V3
def test_stream_events_v3_raises_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_bridge(monkeypatch)

    def run(model: ResilientChatModel) -> tuple[list[Any], BaseException]:
        stream = model.stream_events("hi", version="v3")
        seen: list[Any] = []
        with pytest.raises(StreamInterrupted) as info:
            for event in stream:
                seen.append(event)
        return seen, info.value

    seen, err = _routed("interrupted", run)
    assert seen[0]["event"] == "message-start" and len(seen) > 2
    assert (
        err.partial is not None and err.partial.content == F.expected("anthropic", "reset")["text"]
    )


# -- where the native events differ from the bridge's ------------------------------------
def _retried_reasoning_tool_call(router: respx.MockRouter) -> ResilientChatModel:
    _serve(router, "openai-responses", "http_503", "reasoning_tool_call")
    return streamtap.resilient(_model("openai-responses"), retry=NOW)


def _expected_reasoning_tool_call(message_id: str) -> list[dict[str, Any]]:
    """The plain model's events (tests/providers), the attempts added to the metadata."""
    events = [_with_id(e, message_id) for e in copy.deepcopy(REASONING_TOOL_CALL)]
    events[-1]["metadata"]["attempts"] = [
        {
            "provider": "openai",
            "model": "gpt-5",
            "mode": "fresh",
            "error": "ServerError",
            "error_type": "server_error",
            "status_code": 503,
            "next": "retry",
            "wait": 0.0,
        },
        {
            "provider": "openai",
            "model": "gpt-5",
            "mode": "fresh",
            "error": None,
            "error_type": None,
            "status_code": None,
        },
    ]
    return events


async def test_reasoning_and_a_tool_call_stay_two_blocks() -> None:
    sync_manager, async_manager = _run_managers()
    with respx.mock() as router:
        model = _retried_reasoning_tool_call(router)
        native, error = _collect(
            model._stream_chat_model_events(MESSAGES, run_manager=sync_manager)
        )
    assert error is None
    assert native == _expected_reasoning_tool_call(f"lc_run--{sync_manager.run_id}")
    assert_valid_event_stream(native)
    with respx.mock() as router:
        model = _retried_reasoning_tool_call(router)
        events = model._astream_chat_model_events(MESSAGES, run_manager=async_manager)
        anative, _ = await _acollect(events)
    assert anative == _expected_reasoning_tool_call(f"lc_run--{async_manager.run_id}")

    with respx.mock() as router:
        model = _retried_reasoning_tool_call(router)
        bridged, _ = _collect(
            _compat_bridge.chunks_to_events(model._stream(MESSAGES), message_id="m")
        )
    # the bridge: tool call 0 folded into reasoning block 0 (never started, finishes as it)
    assert not any(
        e["event"] == "content-block-start" and e["content"]["type"] == "tool_call_chunk"
        for e in bridged
    )
    assert [e["content"]["type"] for e in bridged if e["event"] == "content-block-finish"] == [
        "tool_call",
        "text",
    ]


def _restart(router: respx.MockRouter) -> ResilientChatModel:
    """The Responses wire cannot continue: an in-stream error after content restarts."""
    _serve(router, "openai-responses", "error_nested", "text")
    return streamtap.resilient(_model("openai-responses"), retry=NOW, recovery="continue")


def _text_deltas(index: int, *tokens: str) -> list[dict[str, Any]]:
    return [
        {"event": "content-block-delta", "index": index, "delta": {"type": "text-delta", "text": t}}
        for t in tokens
    ]


OLD = ("Hello", " wor")
NEW = ("Hello", "!", " How", " can", " I", " help", " you", " today", "?")
RESTART_FINISH = {
    "event": "message-finish",
    "usage": {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21},
    "metadata": {
        "stream_reset": {
            "event": "stream_reset",
            "discarded_id": "resp_59021a74b7fac7d70099e835b6d9326ed94314f03566d3d72c",
            "new_id": "resp_3fa835fa0999cdb4ec5d075751fea627f722418b020fe4a22e",
            "reason": "server_error",
        },
        "finish_reason": "stop",
        "native_finish_reason": "completed",
        "model_name": "gpt-5-2025-08-07",
        "model_provider": "openai",
        "content_format": "streamtap/v1",
        "service_tier": "default",
        "attempts": [
            {
                "provider": "openai",
                "model": "gpt-5",
                "mode": "fresh",
                "error": "ServerError",
                "error_type": "server_error",
                "status_code": None,
                "after_content": True,
                "next": "retry",
                "wait": 0.0,
            },
            {
                "provider": "openai",
                "model": "gpt-5",
                "mode": "restart",
                "error": None,
                "error_type": None,
                "status_code": None,
            },
        ],
    },
}
TEXT_START = {"type": "text", "text": ""}
RESTARTED = [
    {"event": "message-start", "role": "ai", "id": "X"},
    {"event": "content-block-start", "index": 0, "content": TEXT_START},
    *_text_deltas(0, *OLD),
    {"event": "content-block-finish", "index": 0, "content": {"type": "text", "text": "Hello wor"}},
    {"event": "content-block-start", "index": 1, "content": TEXT_START},
    *_text_deltas(1, *NEW),
    {
        "event": "content-block-finish",
        "index": 1,
        "content": {"type": "text", "text": "Hello! How can I help you today?"},
    },
    RESTART_FINISH,
]


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_restarted_answer_gets_blocks_of_its_own(use_async: bool) -> None:
    """After content was shown, the Responses wire restarts the answer (its first chunk
    carries ``stream_reset``). Natively, the abandoned text block finishes there and the
    new answer opens block 1; the bridge appends the new answer to block 0's text."""
    sync_manager, async_manager = _run_managers()
    with respx.mock() as router:
        model = _restart(router)
        if use_async:
            events = model._astream_chat_model_events(MESSAGES, run_manager=async_manager)
            native, error = await _acollect(events)
        else:
            events = model._stream_chat_model_events(MESSAGES, run_manager=sync_manager)
            native, error = _collect(events)
    assert error is None
    assert [_with_id(e, "X") for e in native] == RESTARTED
    assert_valid_event_stream(native)
    with respx.mock() as router:
        model = _restart(router)
        events = _compat_bridge.chunks_to_events(model._stream(MESSAGES), message_id="X")
        bridged, _ = _collect(events)
    assert bridged == [
        *RESTARTED[:2],
        *_text_deltas(0, *OLD, *NEW),
        {
            "event": "content-block-finish",
            "index": 0,
            "content": {"type": "text", "text": "Hello worHello! How can I help you today?"},
        },
        RESTART_FINISH,
    ]


def test_the_restart_key_is_resiliences() -> None:
    assert P.RESTART_KEY == RESET_EVENT


# -- inside a graph ----------------------------------------------------------------------
@V3
async def test_a_graph_v3_run_carries_the_native_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's ``invoke`` under LangGraph's v3 run goes through core's v2 handler route,
    which takes the native hook: the retry is invisible, the events are the model's own."""
    _no_bridge(monkeypatch)
    with respx.mock() as router:
        model = _retried_reasoning_tool_call(router)
        run = _graph(model, is_async=False).stream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        got = [_messages_data(e) for e in run if e["method"] == "messages"]
    with respx.mock() as router:
        model = _retried_reasoning_tool_call(router)
        arun = await _graph(model, is_async=True).astream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        agot = [_messages_data(e) async for e in arun if e["method"] == "messages"]
    assert [_with_id(e, "X") for e in got] == _expected_reasoning_tool_call("X")
    assert [_with_id(e, "X") for e in agot] == _expected_reasoning_tool_call("X")


@V3
def test_a_graph_v3_run_keeps_the_clean_message_when_the_model_may_restart() -> None:
    """With ``recovery="continue"`` / ``"restart"`` a node's ``invoke`` keeps ``_generate``'s
    clean message: the message a v3 run assembles from the events would keep the
    abandoned block (a delta cannot be taken back)."""
    with respx.mock() as router:
        model = _restart(router)
        run = _graph(model, is_async=False).stream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        for _ in run:
            pass
        final = run.output["messages"][-1]
    assert final.content == "Hello! How can I help you today?"
    assert final.response_metadata["stream_reset"] == RESTART_FINISH["metadata"]["stream_reset"]
