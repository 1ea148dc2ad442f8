"""``FakeChatModel`` emits ``stream_events(version="v3")`` protocol events natively.

The yardstick is langchain-core's compat bridge (``chunks_to_events``) over the fake's
own ``_stream`` chunks for the same script, sync and async; where the bridge is wrong
(a reasoning block and a tool call in one answer, ``streamtap/providers/_protocol_events.py``)
the exact native events are pinned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.language_models import _compat_bridge
from langchain_core.messages import HumanMessage

from streamtap.errors import OverloadedError, StreamInterrupted
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import (
    Finish,
    Reasoning,
    Step,
    ToolCall,
    Usage,
    disconnect,
    overloaded,
    words,
)
from tests._stream_lifecycle import assert_valid_event_stream
from tests.providers.test_protocol_events import (
    _collect,
    _graph,
    _messages_data,
    _no_bridge,
    _run_managers,
    _with_id,
)

MESSAGES = [HumanMessage("hi")]
V3 = pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")

SCRIPTS: dict[str, Sequence[Step]] = {
    "text": [*words("Hello there, friend"), Usage(10, 3)],
    "text_then_tool_call": [
        *words("Let me look"),
        ToolCall(0, id="call_1", name="get_weather", args='{"city"'),
        ToolCall(0, args=': "Paris"}'),
        Usage(5, 7),
    ],
    "parallel_tool_calls": [
        ToolCall(0, id="a", name="f", args='{"x": 1}'),
        ToolCall(1, id="b", name="g", args='{"y"'),
        ToolCall(1, args=": 2}"),
    ],
    "reasoning_then_text": [Reasoning("Think"), Reasoning(" hard"), *words("The answer")],
    "length": [*words("cut short"), Finish("length", "max_tokens")],
}


def _fake(name: str) -> FakeChatModel:
    return FakeChatModel(scripts=[SCRIPTS[name]])


async def _acollect(events: Any) -> list[Any]:
    return [e async for e in events]


@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_native_events_equal_the_bridge(name: str) -> None:
    sync_manager, async_manager = _run_managers()
    message_id = f"lc_run--{sync_manager.run_id}"
    native, error = _collect(
        _fake(name)._stream_chat_model_events(MESSAGES, run_manager=sync_manager)
    )
    assert error is None
    bridged = list(
        _compat_bridge.chunks_to_events(_fake(name)._stream(MESSAGES), message_id=message_id)
    )
    assert native == bridged
    assert native[0] == {"event": "message-start", "role": "ai", "id": message_id}
    assert_valid_event_stream(native)
    anative = await _acollect(
        _fake(name)._astream_chat_model_events(MESSAGES, run_manager=async_manager)
    )
    abridged = await _acollect(
        _compat_bridge.achunks_to_events(_fake(name)._astream(MESSAGES), message_id=message_id)
    )
    assert [_with_id(e, message_id) for e in anative] == native == abridged


# -- where the bridge is wrong: reasoning block 0 and tool call 0 --------------------------
REASONING_TOOL_CALL: list[Step] = [
    Reasoning("Think"),
    Reasoning(" more"),
    "Ok",
    ToolCall(0, id="c1", name="f", args='{"a"'),
    ToolCall(0, args=": 1}"),
    Usage(3, 4),
]
EXPECTED = [
    {"event": "message-start", "role": "ai", "id": "X"},
    {"event": "content-block-start", "index": 0, "content": {"type": "reasoning", "reasoning": ""}},
    {
        "event": "content-block-delta",
        "index": 0,
        "delta": {"type": "reasoning-delta", "reasoning": "Think"},
    },
    {
        "event": "content-block-delta",
        "index": 0,
        "delta": {"type": "reasoning-delta", "reasoning": " more"},
    },
    {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
    {"event": "content-block-delta", "index": 1, "delta": {"type": "text-delta", "text": "Ok"}},
    {
        "event": "content-block-start",
        "index": 2,
        "content": {"type": "tool_call_chunk", "id": "c1", "name": "f", "args": "", "index": 0},
    },
    {
        "event": "content-block-delta",
        "index": 2,
        "delta": {"type": "tool-call-delta", "args": '{"a"'},
    },
    {
        "event": "content-block-delta",
        "index": 2,
        "delta": {"type": "tool-call-delta", "args": ": 1}"},
    },
    {
        "event": "content-block-finish",
        "index": 0,
        "content": {"type": "reasoning", "index": 0, "reasoning": "Think more"},
    },
    {"event": "content-block-finish", "index": 1, "content": {"type": "text", "text": "Ok"}},
    {
        "event": "content-block-finish",
        "index": 2,
        "content": {"type": "tool_call", "id": "c1", "name": "f", "args": {"a": 1}},
    },
    {
        "event": "message-finish",
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        "metadata": {
            "finish_reason": "tool_calls",
            "native_finish_reason": "stop",
            "model_name": "fake-model",
            "model_provider": "fake",
            "content_format": "streamtap/v1",
        },
    },
]


async def test_reasoning_and_a_tool_call_stay_two_blocks() -> None:
    sync_manager, async_manager = _run_managers()
    native, _ = _collect(
        FakeChatModel(scripts=[REASONING_TOOL_CALL])._stream_chat_model_events(
            MESSAGES, run_manager=sync_manager
        )
    )
    assert [_with_id(e, "X") for e in native] == EXPECTED
    assert_valid_event_stream(native)
    anative = await _acollect(
        FakeChatModel(scripts=[REASONING_TOOL_CALL])._astream_chat_model_events(
            MESSAGES, run_manager=async_manager
        )
    )
    assert [_with_id(e, "X") for e in anative] == EXPECTED
    bridged = list(
        _compat_bridge.chunks_to_events(
            FakeChatModel(scripts=[REASONING_TOOL_CALL])._stream(MESSAGES), message_id="X"
        )
    )
    assert bridged == [
        *EXPECTED[:6],
        *({**d, "index": 0} for d in EXPECTED[7:9]),  # on the reasoning block, never started
        {**EXPECTED[11], "index": 0},  # the reasoning block finishes as the tool call
        EXPECTED[10],
        EXPECTED[-1],
    ]


# -- a stream that fails after it started -------------------------------------------------
@pytest.mark.parametrize("fail", [disconnect, overloaded])
async def test_a_failed_stream_raises_what_stream_raises(fail: Any) -> None:
    script = [*words("Hello wor"), fail()]
    sync_manager, async_manager = _run_managers()
    native, _ = _collect(
        FakeChatModel(scripts=[script])._stream_chat_model_events(
            MESSAGES, run_manager=sync_manager
        )
    )
    with pytest.raises(StreamInterrupted) as native_error:
        for _ in FakeChatModel(scripts=[script])._stream_chat_model_events(
            MESSAGES, run_manager=sync_manager
        ):
            pass
    with pytest.raises(StreamInterrupted) as async_error:
        async for _ in FakeChatModel(scripts=[script])._astream_chat_model_events(
            MESSAGES, run_manager=async_manager
        ):
            pass
    with pytest.raises(StreamInterrupted) as plain:
        list(FakeChatModel(scripts=[script]).stream("hi"))
    for err in (native_error.value, async_error.value):
        assert type(err.__cause__) is type(plain.value.__cause__)
        assert err.partial is not None and plain.value.partial is not None
        assert err.partial.content == plain.value.partial.content == "Hello wor"
    bridged, _ = _collect(
        _compat_bridge.chunks_to_events(
            FakeChatModel(scripts=[script])._stream(MESSAGES),
            message_id=f"lc_run--{sync_manager.run_id}",
        )
    )
    assert native == bridged
    assert [e["event"] for e in native] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
    ]


def test_a_failure_before_any_chunk_is_raised_as_given() -> None:
    sync_manager, _ = _run_managers()
    events = FakeChatModel(scripts=[[overloaded()]])._stream_chat_model_events(
        MESSAGES, run_manager=sync_manager
    )
    with pytest.raises(OverloadedError):
        next(iter(events))


# -- the public surface and a graph ---------------------------------------------------------
@V3
async def test_stream_events_v3_and_a_graph_v3_run_are_native(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_bridge(monkeypatch)
    stream = FakeChatModel(scripts=[REASONING_TOOL_CALL]).stream_events("hi", version="v3")
    assert [_with_id(e, "X") for e in stream] == EXPECTED
    assert stream.output.tool_calls[0]["args"] == {"a": 1}
    astream = await FakeChatModel(scripts=[REASONING_TOOL_CALL]).astream_events("hi", version="v3")
    assert [_with_id(e, "X") async for e in astream] == EXPECTED

    graph = _graph(FakeChatModel(scripts=[REASONING_TOOL_CALL]), is_async=False)
    run = graph.stream_events({"messages": [("user", "hi")]}, version="v3")
    got = [_messages_data(e) for e in run if e["method"] == "messages"]
    assert [_with_id(e, "X") for e in got] == EXPECTED
    agraph = _graph(FakeChatModel(scripts=[REASONING_TOOL_CALL]), is_async=True)
    arun = await agraph.astream_events({"messages": [("user", "hi")]}, version="v3")
    agot = [_messages_data(e) async for e in arun if e["method"] == "messages"]
    assert [_with_id(e, "X") for e in agot] == EXPECTED
