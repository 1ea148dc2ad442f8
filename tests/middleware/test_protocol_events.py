"""``with_transforms()`` (``TransformedChatModel``) emits ``stream_events(version="v3")``
protocol events natively: the transformed chunks folded by
``streamtap/providers/_protocol_events.py``.

The yardstick is langchain-core's compat bridge over the same model's ``_stream``
(the transformed chunks), sync and async, on recorded fixtures and on the fake; where
the bridge is wrong (a reasoning block and a tool call in one answer) the exact events
are pinned.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import respx
from langchain_core.language_models import _compat_bridge
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

import streamtap
from streamtap.errors import StreamInterrupted
from streamtap.middleware import TransformedChatModel, coalesce, on_chunk, redact, with_transforms
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import ToolCall, disconnect, words
from tests import _fixtures as F
from tests._stream_lifecycle import assert_valid_event_stream
from tests.providers.conftest import make_model
from tests.providers.test_protocol_events import (
    REASONING_TOOL_CALL,
    _collect,
    _graph,
    _messages_data,
    _no_bridge,
    _run_managers,
    _with_id,
)

MESSAGES = [HumanMessage("hi")]
V3 = pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
TRANSFORMS = {
    "coalesce": lambda: coalesce(max_chars=12, max_delay_ms=None),
    "redact": lambda: redact(r"\d+", "#"),
    "on_chunk": lambda: on_chunk(lambda message: None),
}
FIXTURES = [
    ("openai", "text"),
    ("anthropic", "reasoning"),
    ("openai", "parallel_tool_calls"),
    ("openai-responses", "text_then_tool_call"),
    ("anthropic", "unicode"),
]


async def _acollect(events: Any) -> list[Any]:
    return [e async for e in events]


async def _check_parity(make: Any) -> list[Any]:
    """Native (sync, async) == the bridge over ``_stream`` (sync, async); the events."""
    sync_manager, async_manager = _run_managers()
    message_id = f"lc_run--{sync_manager.run_id}"
    native, error = _collect(make()._stream_chat_model_events(MESSAGES, run_manager=sync_manager))
    assert error is None
    bridged = list(_compat_bridge.chunks_to_events(make()._stream(MESSAGES), message_id=message_id))
    assert native == bridged
    assert_valid_event_stream(native)
    anative = await _acollect(
        make()._astream_chat_model_events(MESSAGES, run_manager=async_manager)
    )
    abridged = await _acollect(
        _compat_bridge.achunks_to_events(make()._astream(MESSAGES), message_id=message_id)
    )
    assert [_with_id(e, message_id) for e in anative] == native == abridged
    return native


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize(("wire", "scenario"), FIXTURES)
async def test_native_events_equal_the_bridge(wire: str, scenario: str, transform: str) -> None:
    with respx.mock() as router:
        route = F.mock(router, wire, scenario)
        native = await _check_parity(
            lambda: with_transforms(make_model(wire), TRANSFORMS[transform]())
        )
    assert route.call_count == 4
    text = "".join(
        e["delta"]["text"]
        for e in native
        if e["event"] == "content-block-delta" and e["delta"]["type"] == "text-delta"
    )
    want = F.expected(wire, scenario)["text"]
    assert text == (re.sub(r"\d+", "#", want) if transform == "redact" else want)


async def test_over_the_fake_and_a_foreign_model() -> None:
    """Over ``FakeChatModel`` (its chunk stream handed over) and over a chat model that is
    not streamtap's (its ``_stream`` read as ``_stream`` reads it)."""

    def fake() -> TransformedChatModel:
        script = [*words("call 42 now"), ToolCall(0, id="c", name="f", args='{"n": "42"}')]
        return with_transforms(FakeChatModel(scripts=[script]), redact(r"\d+", "#"))

    native = await _check_parity(fake)
    assert [e["content"] for e in native if e["event"] == "content-block-finish"] == [
        {"type": "text", "text": "call # now"},
        {"type": "tool_call", "id": "c", "name": "f", "args": {"n": "#"}},
    ]

    def foreign() -> TransformedChatModel:
        model = GenericFakeChatModel(messages=iter([AIMessage("one two 3 four", id="m")]))
        return with_transforms(model, redact(r"\d+", "#"), coalesce(max_chars=8, max_delay_ms=None))

    native = await _check_parity(foreign)
    assert native[-2] == {
        "event": "content-block-finish",
        "index": 0,
        "content": {"type": "text", "text": "one two # four"},
    }


# -- where the bridge is wrong: reasoning block 0 and tool call 0 --------------------------
async def test_reasoning_and_a_tool_call_stay_two_blocks() -> None:
    wire, scenario = "openai-responses", "reasoning_tool_call"
    sync_manager, async_manager = _run_managers()
    expected = copy.deepcopy(REASONING_TOOL_CALL)
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = with_transforms(make_model(wire), coalesce(max_chars=1, max_delay_ms=None))
        native, _ = _collect(model._stream_chat_model_events(MESSAGES, run_manager=sync_manager))
        anative = await _acollect(
            model._astream_chat_model_events(MESSAGES, run_manager=async_manager)
        )
        bridged = list(
            _compat_bridge.chunks_to_events(model._stream(MESSAGES), message_id="lc_run--X")
        )
    assert [_with_id(e, "lc_run--X") for e in native] == expected
    assert [_with_id(e, "lc_run--X") for e in anative] == expected
    assert_valid_event_stream(native)
    tool_deltas, finishes = expected[12:15], expected[15:18]
    assert bridged == [
        *expected[:11],
        *({**d, "index": 0} for d in tool_deltas),
        {**finishes[2], "index": 0},
        finishes[1],
        expected[-1],
    ]


# -- a stream that fails after it started -------------------------------------------------
@pytest.mark.parametrize("use_async", [False, True])
async def test_a_failed_stream_raises_what_stream_raises(use_async: bool) -> None:
    def model() -> TransformedChatModel:
        script = [*words("Hello wor"), disconnect()]
        return with_transforms(FakeChatModel(scripts=[script]), on_chunk(lambda m: None))

    sync_manager, async_manager = _run_managers()
    seen: list[Any] = []
    with pytest.raises(StreamInterrupted) as native:
        if use_async:
            async for event in model()._astream_chat_model_events(
                MESSAGES, run_manager=async_manager
            ):
                seen.append(event)
        else:
            for event in model()._stream_chat_model_events(MESSAGES, run_manager=sync_manager):
                seen.append(event)
    with pytest.raises(StreamInterrupted) as plain:
        list(model().stream("hi"))
    assert native.value.partial is not None and plain.value.partial is not None
    assert native.value.partial.content == plain.value.partial.content == "Hello wor"
    assert type(native.value.__cause__) is type(plain.value.__cause__)
    assert [e["event"] for e in seen] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
    ]


# -- over resilient(): retries reported on this run -----------------------------------------
def test_over_resilient_the_retry_is_reported_on_this_run() -> None:
    from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun

    retries: list[Any] = []

    class Handler(BaseCallbackHandler):
        raise_error = True

        def on_retry(self, state: Any, **kwargs: Any) -> None:
            retries.append(kwargs["run_id"])

    sync_manager, _ = _run_managers()
    manager = CallbackManagerForLLMRun(
        run_id=sync_manager.run_id,
        handlers=[Handler()],
        inheritable_handlers=[],  # type: ignore[list-item]
    )
    with respx.mock() as router:
        responses = [F.response(F.load("openai", s)) for s in ("http_503", "text")]
        router.post(F.URLS["openai"]).mock(side_effect=responses)
        inner = streamtap.resilient(
            make_model("openai"),
            retry=streamtap.RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        )
        model = with_transforms(inner, coalesce(max_chars=50, max_delay_ms=None))
        events, error = _collect(model._stream_chat_model_events(MESSAGES, run_manager=manager))
    assert error is None and retries == [manager.run_id]
    assert_valid_event_stream(events)
    text = "".join(e["delta"]["text"] for e in events if e["event"] == "content-block-delta")
    assert text == F.expected("openai", "text")["text"]


# -- the public surface and a graph ---------------------------------------------------------
@V3
async def test_a_graph_v3_run_carries_the_native_events(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_bridge(monkeypatch)
    wire, scenario = "openai-responses", "reasoning_tool_call"
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        model = with_transforms(make_model(wire), on_chunk(lambda m: None))
        stream = model.stream_events("hi", version="v3")
        direct = list(stream)
        run = _graph(model, is_async=False).stream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        got = [_messages_data(e) for e in run if e["method"] == "messages"]
        arun = await _graph(model, is_async=True).astream_events(
            {"messages": [("user", "hi")]}, version="v3"
        )
        agot = [_messages_data(e) async for e in arun if e["method"] == "messages"]
    for events in (direct, got, agot):
        assert [_with_id(e, "lc_run--X") for e in events] == REASONING_TOOL_CALL
