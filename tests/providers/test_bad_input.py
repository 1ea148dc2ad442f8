"""Bad bytes, bad numbers and broken event sequences get streamtap's contract (issue 20).

Each body is a recorded fixture rewritten one way (a non-UTF-8 byte, usage counts as
strings or garbage, an event that breaks the wire's rules) and fed through the official
SDK by respx, on every wire, sync and async.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

from streamtap.errors import ProtocolViolation, StreamInterrupted
from tests import _fixtures as F
from tests.providers._contract import total
from tests.providers.conftest import make_model

MODES = ("sync", "async")

# -- bodies ---------------------------------------------------------------------------


def _events(wire: str, scenario: str) -> list[tuple[str | None, str]]:
    """The fixture's SSE events as (event name, data) pairs."""
    body = F.load(wire, scenario).body
    assert body is not None
    out: list[tuple[str | None, str]] = []
    for block in body.decode("utf-8").split("\n\n"):
        name = None
        data: list[str] = []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            out.append((name, "\n".join(data)))
    return out


def _body(events: list[tuple[str | None, str]]) -> bytes:
    parts = []
    for name, data in events:
        head = f"event: {name}\n" if name is not None else ""
        parts.append(f"{head}data: {data}\n\n")
    return "".join(parts).encode("utf-8")


def _rewrite(
    wire: str, scenario: str, change: Callable[[dict[str, Any]], None]
) -> list[tuple[str | None, str]]:
    """The fixture's events with ``change`` applied to every JSON payload."""
    out = []
    for name, data in _events(wire, scenario):
        if data.startswith("{"):
            payload = json.loads(data)
            change(payload)
            data = json.dumps(payload)
        out.append((name, data))
    return out


def _run(
    router, wire: str, body: bytes, mode: str
) -> tuple[list[AIMessageChunk], Exception | None]:
    router.post(F.URLS[wire]).mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body
        )
    )
    model = make_model(wire)
    seen: list[AIMessageChunk] = []
    try:
        if mode == "sync":
            for chunk in model.stream("hi"):
                seen.append(chunk)
        else:

            async def consume() -> None:
                async for chunk in model.astream("hi"):
                    seen.append(chunk)

            asyncio.run(consume())
    except Exception as exc:
        return seen, exc
    return seen, None


# -- a byte that is not UTF-8 -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", F.WIRES)
def test_invalid_utf8_midstream_is_interrupted_with_partial(router, wire: str, mode: str) -> None:
    body = F.load(wire, "text").body
    assert body is not None and body.count(b'" How"') == 1
    seen, exc = _run(router, wire, body.replace(b'" How"', b'" H\xffow"'), mode)
    assert type(exc) is StreamInterrupted
    assert isinstance(exc.__cause__, UnicodeDecodeError)
    assert "UTF-8" in str(exc)
    text = "".join(c.content for c in seen if isinstance(c.content, str))
    assert text == "Hello!"  # the consumer had seen these already
    assert exc.partial is not None and exc.partial.content == text


# -- usage counts -----------------------------------------------------------------------


def _usages(wire: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage objects inside one event of ``wire``."""
    if wire in ("openai", "openai-compatible"):
        usage = payload.get("usage")
    elif wire == "openai-responses":
        usage = (payload.get("response") or {}).get("usage")
    else:
        usage = payload.get("usage") or (payload.get("message") or {}).get("usage")
    return [usage] if isinstance(usage, dict) else []


def _map_counts(usage: dict[str, Any], fn: Callable[[int], Any]) -> None:
    for key, value in usage.items():
        if isinstance(value, dict):
            _map_counts(value, fn)
        elif isinstance(value, int) and not isinstance(value, bool):
            usage[key] = fn(value)


def _final_usage(router, wire: str, events: list[tuple[str | None, str]], mode: str) -> Any:
    seen, exc = _run(router, wire, _body(events), mode)
    assert exc is None
    return total(seen)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", F.WIRES)
def test_usage_counts_sent_as_strings_are_summed_as_numbers(
    router, wire: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = _final_usage(router, wire, _events(wire, "text"), mode)
    assert baseline.usage_metadata is not None and baseline.usage_metadata["total_tokens"] > 0

    def as_strings(payload: dict[str, Any]) -> None:
        for usage in _usages(wire, payload):
            _map_counts(usage, str)

    with caplog.at_level(logging.WARNING, logger="streamtap.providers"):
        message = _final_usage(router, wire, _rewrite(wire, "text", as_strings), mode)
    assert message.usage_metadata == baseline.usage_metadata  # "12" + "9" is 21, not "129"
    assert isinstance(message.usage_metadata["total_tokens"], int)
    assert "raw_usage" not in message.response_metadata
    assert not [r for r in caplog.records if r.name == "streamtap.providers"]


@pytest.mark.parametrize("bad", [-1, 10**30, "five", 1.5, True, "-3"], ids=repr)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", F.WIRES)
def test_unusable_usage_counts_are_kept_raw_not_summed_with_one_warning(
    router, wire: str, mode: str, bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def spoil(payload: dict[str, Any]) -> None:
        for usage in _usages(wire, payload):
            _map_counts(usage, lambda _: bad)
        if wire in ("openai", "openai-compatible") and "choices" in payload:
            # Usage on every chunk, as some compatible servers send it: still one warning.
            payload["usage"] = {"prompt_tokens": bad, "completion_tokens": bad}

    with caplog.at_level(logging.WARNING, logger="streamtap.providers"):
        message = _final_usage(router, wire, _rewrite(wire, "text", spoil), mode)
    assert message.usage_metadata is None  # nothing summed
    raw = message.response_metadata["raw_usage"]
    assert bad in [v for v in _flat(raw)]
    assert message.content == "Hello! How can I help you today?"
    warnings = [r for r in caplog.records if r.name == "streamtap.providers"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and "raw_usage" in warnings[0].getMessage()


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    return [value]


# -- Anthropic: events that break the wire's rules ------------------------------------


def _insert_before(
    events: list[tuple[str | None, str]], marker: str, extra: dict[str, Any]
) -> list[tuple[str | None, str]]:
    at = next(i for i, (_, data) in enumerate(events) if marker in data)
    return [*events[:at], (extra["type"], json.dumps(extra)), *events[at:]]


@pytest.mark.parametrize("mode", MODES)
def test_anthropic_delta_for_a_block_that_never_started(router, mode: str) -> None:
    events = _insert_before(
        _events("anthropic", "text_then_tool_call"),
        '"content_block_stop","index":0',
        {
            "type": "content_block_delta",
            "index": 7,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
        },
    )
    seen, exc = _run(router, "anthropic", _body(events), mode)
    assert isinstance(exc, ProtocolViolation) and isinstance(exc, StreamInterrupted)
    assert exc.event == "content_block_delta"
    assert "content_block_delta" in str(exc) and "never started" in str(exc)
    assert exc.partial is not None
    assert exc.partial.content == "Let me check the weather." == total(seen).content
    assert not exc.partial.tool_call_chunks


@pytest.mark.parametrize("mode", MODES)
def test_anthropic_text_delta_to_a_tool_use_block(router, mode: str) -> None:
    events = _insert_before(
        _events("anthropic", "text_then_tool_call"),
        '"content_block_stop","index":1',
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "NOT ANSWER TEXT"},
        },
    )
    seen, exc = _run(router, "anthropic", _body(events), mode)
    assert isinstance(exc, ProtocolViolation)
    assert exc.event == "content_block_delta"
    assert "text_delta" in str(exc) and "tool_use" in str(exc)
    assert exc.partial is not None
    assert "NOT ANSWER TEXT" not in exc.partial.content
    assert "NOT ANSWER TEXT" not in "".join(str(c.content) for c in seen)
    assert exc.partial.content == "Let me check the weather."
    assert exc.partial.tool_call_chunks[0]["name"] == "get_weather"


@pytest.mark.parametrize("mode", MODES)
def test_anthropic_body_without_event_names_says_so(router, mode: str) -> None:
    events = [(None, data) for _, data in _events("anthropic", "text")]
    seen, exc = _run(router, "anthropic", _body(events), mode)
    assert isinstance(exc, ProtocolViolation)
    assert "`event:` name" in str(exc)
    assert "closed early" not in str(exc)
    assert seen == []


@pytest.mark.parametrize("mode", MODES)
def test_anthropic_unknown_delta_types_and_block_types_still_pass(router, mode: str) -> None:
    """Forward compatibility: what is newer than this code is not a violation."""
    events = _insert_before(
        _events("anthropic", "text"),
        '"content_block_stop"',
        {"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta"}},
    )
    events = _insert_before(
        events,
        '"message_delta"',
        {"type": "content_block_start", "index": 1, "content_block": {"type": "future_block"}},
    )
    events = _insert_before(
        events,
        '"message_delta"',
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "x"}},
    )
    seen, exc = _run(router, "anthropic", _body(events), mode)
    assert exc is None
    assert total(seen).text == "Hello! How can I help you today?"


# -- OpenAI Responses: the same rules, where the wire has them ---------------------------


@pytest.mark.parametrize("mode", MODES)
def test_responses_arguments_before_any_function_call(router, mode: str) -> None:
    events = _insert_before(
        _events("openai-responses", "text"),
        '"response.output_text.done"',
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_never_added",
            "output_index": 3,
            "delta": '{"a"',
        },
    )
    seen, exc = _run(router, "openai-responses", _body(events), mode)
    assert isinstance(exc, ProtocolViolation)
    assert exc.event == "response.function_call_arguments.delta"
    assert exc.partial is not None
    assert exc.partial.content == "Hello! How can I help you today?" == total(seen).content


@pytest.mark.parametrize("mode", MODES)
def test_responses_text_delta_aimed_at_a_function_call_item(router, mode: str) -> None:
    events = _events("openai-responses", "tool_call")
    item_id = json.loads(events[2][1])["item"]["id"]
    events = _insert_before(
        events,
        '"response.function_call_arguments.done"',
        {
            "type": "response.output_text.delta",
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": "NOT ANSWER TEXT",
        },
    )
    _, exc = _run(router, "openai-responses", _body(events), mode)
    assert isinstance(exc, ProtocolViolation)
    assert exc.event == "response.output_text.delta"
    assert "function_call" in str(exc)
    assert exc.partial is not None and exc.partial.content == ""
    assert exc.partial.tool_call_chunks[0]["name"] == "get_weather"


# -- OpenAI Chat Completions: no such violation ------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_chat_tool_call_delta_for_a_new_index_starts_a_call(router, mode: str) -> None:
    """Chat Completions has no block start: the SDK's own accumulation creates a tool call
    at the first delta for an index, so streamtap does too (no violation to report)."""

    def late_index(payload: dict[str, Any]) -> None:
        for choice in payload.get("choices") or ():
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                call["index"] = 4

    seen, exc = _run(router, "openai", _body(_rewrite("openai", "tool_call", late_index)), mode)
    assert exc is None
    message = total(seen)
    assert [c["name"] for c in message.tool_call_chunks] == ["get_weather"]


# -- the same through normalize() / anormalize() on a raw SDK stream ----------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", ["openai", "openai-responses", "anthropic"])
def test_normalize_raw_stream_invalid_utf8_and_bare_data(router, wire: str, mode: str) -> None:
    from streamtap.providers import anormalize, normalize
    from tests.providers.test_normalize import _raw_stream

    body = F.load(wire, "text").body
    assert body is not None
    bodies = [body.replace(b'" How"', b'" H\xffow"')]
    if wire == "anthropic":
        bodies.append(_body([(None, data) for _, data in _events(wire, "text")]))
    for bad in bodies:
        router.post(F.URLS[wire]).mock(
            return_value=httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=bad
            )
        )
        seen: list[AIMessageChunk] = []
        with pytest.raises(StreamInterrupted) as info:
            if mode == "sync":
                seen.extend(normalize(wire, _raw_stream(wire)))
            else:

                async def consume(into: list[AIMessageChunk]) -> None:
                    raw = await _raw_stream(wire, is_async=True)
                    async for chunk in anormalize(wire, raw):
                        into.append(chunk)

                asyncio.run(consume(seen))
        exc = info.value
        if b"\xff" in bad:
            assert type(exc) is StreamInterrupted
            assert isinstance(exc.__cause__, UnicodeDecodeError)
            assert exc.partial is not None and exc.partial.content == "Hello!"
        else:
            assert isinstance(exc, ProtocolViolation) and "`event:` name" in str(exc)
