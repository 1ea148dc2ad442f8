"""The OpenAI-compatible fold (``_openai_chunks.ChunkFold``): exact Agent Streaming
Protocol events in, exact ``chat.completion.chunk`` objects out, each one a valid
``openai.types.chat.ChatCompletionChunk`` of the official SDK."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from streamtap.server._openai_chunks import ChunkFold, finish_reason, openai_error


class Ev(NamedTuple):
    method: str
    namespace: tuple[str, ...]
    data: Any


def msg(data: dict[str, Any], ns: tuple[str, ...] = ()) -> Ev:
    return Ev("messages", ns, data)


START = Ev("lifecycle", (), {"event": "running", "graph_name": "g"})
DONE = Ev("lifecycle", (), {"event": "completed", "graph_name": "g"})


def ai_start(mid: str = "m1") -> Ev:
    return msg({"event": "message-start", "role": "ai", "id": mid})


def block_start(i: int, content: dict[str, Any]) -> Ev:
    return msg({"event": "content-block-start", "index": i, "content": content})


def text(i: int, t: str) -> Ev:
    return msg(
        {"event": "content-block-delta", "index": i, "delta": {"type": "text-delta", "text": t}}
    )


def think(i: int, t: str) -> Ev:
    delta = {"type": "reasoning-delta", "reasoning": t}
    return msg({"event": "content-block-delta", "index": i, "delta": delta})


def args(i: int, a: str) -> Ev:
    return msg(
        {
            "event": "content-block-delta",
            "index": i,
            "delta": {"type": "tool-call-delta", "args": a},
        }
    )


def call_start(i: int, cid: str, name: str, index: int) -> Ev:
    content = {"type": "tool_call_chunk", "id": cid, "name": name, "args": "", "index": index}
    return block_start(i, content)


def call_finish(i: int, cid: str, name: str, parsed: dict[str, Any]) -> Ev:
    content = {"type": "tool_call", "id": cid, "name": name, "args": parsed}
    return msg({"event": "content-block-finish", "index": i, "content": content})


def finish(reason: str, usage: dict[str, Any] | None = None) -> Ev:
    data: dict[str, Any] = {"event": "message-finish", "metadata": {"finish_reason": reason}}
    if usage is not None:
        data["usage"] = usage
    return msg(data)


def fold_all(events: list[Ev], *, include_usage: bool = False) -> tuple[ChunkFold, list[Any]]:
    fold = ChunkFold("chatcmpl-1", 1700000000, "g", include_usage=include_usage)
    out = [item for event in events for item in fold.feed(event)]
    for item in out:
        if "error" not in item:
            ChatCompletionChunk.model_validate(item)  # the SDK's own type reads it
    return fold, out


def deltas(out: list[Any]) -> list[Any]:
    """Each chunk as (delta, finish_reason), or ("usage", usage), or ("error", error)."""
    rows: list[Any] = []
    for item in out:
        if "error" in item:
            rows.append(("error", item["error"]))
        elif not item["choices"]:
            rows.append(("usage", item["usage"]))
        else:
            choice = item["choices"][0]
            rows.append((choice["delta"], choice["finish_reason"]))
    return rows


ROLE = ({"role": "assistant", "content": ""}, None)
USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


def test_text_exact_chunks_with_usage() -> None:
    events = [
        START,
        ai_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Hel"),
        text(0, "lo"),
        msg(
            {
                "event": "content-block-finish",
                "index": 0,
                "content": {"type": "text", "text": "Hello"},
            }
        ),
        finish("stop", USAGE),
        DONE,
    ]
    fold, out = fold_all(events, include_usage=True)
    assert out[0] == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "g",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert deltas(out) == [
        ROLE,
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
        ("usage", usage),
    ]
    assert out[-1]["choices"] == [] and out[-1]["id"] == "chatcmpl-1"
    assert fold.done and fold.error is None
    completion = ChatCompletion.model_validate(fold.completion())
    assert completion.choices[0].message.content == "Hello"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 7


def test_no_usage_chunk_unless_asked() -> None:
    _, out = fold_all([START, ai_start(), text(0, "x"), finish("stop", USAGE), DONE])
    assert deltas(out) == [ROLE, ({"content": "x"}, None), ({}, "stop")]


def test_reasoning_as_reasoning_content() -> None:
    usage = {
        **USAGE,
        "output_token_details": {"reasoning": 2},
        "input_token_details": {"cache_read": 1},
    }
    events = [
        START,
        ai_start(),
        block_start(0, {"type": "reasoning", "reasoning": ""}),
        think(0, "thi"),
        think(0, "nk"),
        block_start(1, {"type": "text", "text": ""}),
        text(1, "Done."),
        finish("end_turn", usage),
        DONE,
    ]
    fold, out = fold_all(events, include_usage=True)
    assert deltas(out)[:-1] == [
        ROLE,
        ({"reasoning_content": "thi"}, None),
        ({"reasoning_content": "nk"}, None),
        ({"content": "Done."}, None),
        ({}, "stop"),
    ]
    assert deltas(out)[-1][1]["completion_tokens_details"] == {"reasoning_tokens": 2}
    assert deltas(out)[-1][1]["prompt_tokens_details"] == {"cached_tokens": 1}
    message = fold.completion()["choices"][0]["message"]
    assert message["reasoning_content"] == "think" and message["content"] == "Done."


def _two_calls() -> list[Ev]:
    return [
        ai_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Checking."),
        call_start(1, "call_a", "get_weather", 0),
        call_start(2, "call_b", "get_time", 1),
        args(1, '{"city":'),
        args(2, '{"tz":'),
        args(1, ' "Paris"}'),
        args(2, ' "CET"}'),
        call_finish(1, "call_a", "get_weather", {"city": "Paris"}),
        call_finish(2, "call_b", "get_time", {"tz": "CET"}),
        finish("tool_calls", USAGE),
    ]


def test_client_tool_calls_two_parallel() -> None:
    fold, out = fold_all([START, *_two_calls(), DONE])
    head_a = {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    head_b = {
        "index": 1,
        "id": "call_b",
        "type": "function",
        "function": {"name": "get_time", "arguments": ""},
    }
    assert deltas(out) == [
        ROLE,
        ({"content": "Checking."}, None),
        ({"tool_calls": [head_a]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}, None),
        ({"tool_calls": [head_b]}, None),
        ({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz":'}}]}, None),
        ({"tool_calls": [{"index": 1, "function": {"arguments": ' "CET"}'}}]}, None),
        ({}, "tool_calls"),
    ]
    completion = ChatCompletion.model_validate(fold.completion())
    calls = completion.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_time", '{"tz": "CET"}'),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_graph_executed_tool_calls_are_not_sent() -> None:
    tool_events = [
        Ev(
            "tools",
            (),
            {"event": "tool-started", "tool_call_id": "call_a", "tool_name": "get_weather"},
        ),
        Ev("tools", (), {"event": "tool-finished", "tool_call_id": "call_a", "output": {}}),
        Ev(
            "tools",
            (),
            {"event": "tool-started", "tool_call_id": "call_b", "tool_name": "get_time"},
        ),
        msg({"event": "message-start", "role": "tool", "id": "t1"}, ("tools:call_b",)),
        msg(
            {
                "event": "content-block-delta",
                "index": 0,
                "delta": {"type": "text-delta", "text": "12:00"},
            },
            ("tools:call_b",),
        ),
    ]
    answer = [ai_start("m2"), text(0, "Sunny."), finish("stop", USAGE)]
    fold, out = fold_all([START, *_two_calls(), *tool_events, *answer, DONE], include_usage=True)
    assert deltas(out)[:-1] == [
        ROLE,
        ({"content": "Checking."}, None),
        ({"content": "Sunny."}, None),
        ({}, "stop"),
    ]
    assert deltas(out)[-1][1]["total_tokens"] == 14  # both model calls
    # the graph ran them and ended without another answer: still no tool_calls, "stop"
    fold, out = fold_all([START, *_two_calls(), *tool_events[:3], DONE])
    assert deltas(out) == [ROLE, ({"content": "Checking."}, None), ({}, "stop")]
    assert "tool_calls" not in fold.completion()["choices"][0]["message"]


def test_unstreamed_ai_message_and_its_tool_result() -> None:
    """A node returning an AIMessage without a model stream: its text once, from its update;
    a ToolMessage in an update answers a tool call (executed by the graph)."""
    ai = {"type": "ai", "id": "plain", "content": "Plain answer.", "tool_calls": []}
    asked = {
        "type": "ai",
        "id": "ask",
        "content": "",
        "tool_calls": [{"id": "c1", "name": "f", "args": {"a": 1}}],
    }
    tool = {"type": "tool", "id": "t", "content": "r", "tool_call_id": "c1"}
    streamed = {"type": "ai", "id": "m1", "content": "Hello", "tool_calls": []}
    events = [
        START,
        ai_start("m1"),
        text(0, "Hello"),
        finish("stop"),
        Ev("updates", (), {"agent": {"messages": [streamed, ai]}}),
        Ev("updates", (), {"tools": {"messages": [asked, tool]}}),
        DONE,
    ]
    _, out = fold_all(events)
    assert deltas(out) == [
        ROLE,
        ({"content": "Hello"}, None),
        ({"content": "Plain answer."}, None),
        ({}, "stop"),
    ]
    # an unstreamed AI message whose tool call nobody answered: sent as a tool call
    _, out = fold_all([START, Ev("updates", (), {"agent": {"messages": [asked]}}), DONE])
    head = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    assert deltas(out) == [
        ROLE,
        ({"tool_calls": [head]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}, None),
        ({}, "tool_calls"),
    ]


def test_subgraph_answer_is_sent() -> None:
    ns = ("research:1",)
    events = [
        START,
        msg({"event": "message-start", "role": "ai", "id": "s"}, ns),
        msg(
            {
                "event": "content-block-delta",
                "index": 0,
                "delta": {"type": "text-delta", "text": "Sub"},
            },
            ns,
        ),
        msg({"event": "message-finish", "metadata": {"finish_reason": "stop"}}, ns),
        DONE,
    ]
    _, out = fold_all(events)
    assert deltas(out) == [ROLE, ({"content": "Sub"}, None), ({}, "stop")]


@pytest.mark.parametrize(
    ("native", "mapped"),
    [
        ("stop", "stop"),
        ("end_turn", "stop"),
        ("length", "length"),
        ("max_tokens", "length"),
        ("MAX_TOKENS", "length"),
        ("content_filter", "content_filter"),
        ("SAFETY", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons(native: Any, mapped: str) -> None:
    assert finish_reason(native) == mapped
    _, out = fold_all([START, ai_start(), text(0, "x"), finish(native), DONE])
    assert deltas(out)[-1] == ({}, mapped)


def test_failure_mid_answer() -> None:
    failed = Ev(
        "lifecycle", (), {"event": "failed", "graph_name": "g", "error": "ValueError: down"}
    )
    fold, out = fold_all([START, ai_start(), text(0, "Hel"), text(0, "lo"), failed])
    error = {
        "message": "ValueError: down",
        "type": "server_error",
        "param": None,
        "code": "run_failed",
    }
    assert deltas(out) == [
        ROLE,
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ("error", error),
    ]
    assert fold.done and fold.error == {"error": error}
    assert fold.feed(DONE) == []  # nothing after the end


def test_interrupt_payload_as_content_and_cancel_as_error() -> None:
    asked = Ev("input.requested", (), {"interrupt_id": "i1", "payload": {"question": "send it?"}})
    interrupted = Ev("lifecycle", (), {"event": "interrupted", "graph_name": "g"})
    _, out = fold_all([START, ai_start(), text(0, "Draft"), finish("stop"), asked, interrupted])
    assert deltas(out) == [
        ROLE,
        ({"content": "Draft"}, None),
        ({"content": '\n\n{"question": "send it?"}'}, None),
        ({}, "stop"),
    ]
    _, out = fold_all([START, ai_start(), text(0, "Dr"), interrupted])
    assert deltas(out)[-1] == (
        "error",
        openai_error("The run was cancelled", code="run_cancelled")["error"],
    )


def test_openai_error_shape() -> None:
    assert openai_error("nope", 404, code="model_not_found", param="model") == {
        "error": {
            "message": "nope",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert openai_error("x", 503)["error"]["type"] == "server_error"
