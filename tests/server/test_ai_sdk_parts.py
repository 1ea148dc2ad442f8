"""The fold from a run's protocol events to AI SDK UI message stream parts
(``_ai_sdk_parts.UIParts``), on exact event lists (the shapes ``_proto_run`` gives:
``notes/issue-23-brief.md`` section 2)."""

from __future__ import annotations

from typing import Any

from streamtap.server._ai_sdk_parts import UIParts, encode

Event = tuple[str, tuple[str, ...], Any]


def fold(events: list[Event], message_id: str = "run-1") -> list[dict[str, Any]]:
    parts = UIParts(message_id)
    out: list[dict[str, Any]] = []
    for method, namespace, data in events:
        out += parts.feed(method, namespace, data)
    return out + parts.close()


def msg(event: str, **data: Any) -> Event:
    return ("messages", (), {"event": event, **data})


def start(block: int, /, **content: Any) -> Event:
    return msg("content-block-start", index=block, content=content)


def delta(block: int, /, **delta_: Any) -> Event:
    return msg("content-block-delta", index=block, delta=delta_)


def finish(block: int, /, **content: Any) -> Event:
    return msg("content-block-finish", index=block, content=content)


RUNNING: Event = ("lifecycle", (), {"event": "running", "graph_name": "agent"})
COMPLETED: Event = ("lifecycle", (), {"event": "completed", "graph_name": "agent"})
USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


#: the whole answer: custom item, reasoning, text, two parallel tool calls, their results
ANSWER: list[Event] = [
    RUNNING,
    ("values", (), {"messages": []}),
    ("tasks", (), {"id": "t1", "name": "agent", "input": {}, "triggers": []}),
    ("custom", (), {"progress": 50}),
    msg("message-start", role="ai", id="lc_run--1"),
    start(0, type="reasoning", reasoning=""),
    delta(0, type="reasoning-delta", reasoning="think"),
    start(1, type="text", text=""),
    delta(1, type="text-delta", text="Let "),
    delta(1, type="text-delta", text="me."),
    start(2, type="tool_call_chunk", id="call_1", name="search", args="", index=0),
    delta(2, type="tool-call-delta", args='{"q":'),
    start(3, type="tool_call_chunk", id="call_2", name="weather", args="", index=1),
    delta(3, type="tool-call-delta", args='{"city":'),
    delta(2, type="tool-call-delta", args=' "x"}'),
    delta(3, type="tool-call-delta", args=' "Paris"}'),
    finish(0, type="reasoning", reasoning="think", extras={"signature": "sig"}),
    finish(1, type="text", text="Let me."),
    finish(2, type="tool_call", id="call_1", name="search", args={"q": "x"}),
    finish(3, type="tool_call", id="call_2", name="weather", args={"city": "Paris"}),
    msg("message-finish", usage=USAGE, metadata={"finish_reason": "tool_calls"}),
    ("updates", (), {"agent": {"messages": []}}),
    ("tasks", (), {"id": "t1", "name": "agent", "error": None, "result": {}, "interrupts": []}),
    ("tools", (), {"event": "tool-started", "tool_call_id": "call_1", "tool_name": "search",
                   "input": {"q": "x"}}),
    ("tools", (), {"event": "tool-started", "tool_call_id": "call_2", "tool_name": "weather",
                   "input": {"city": "Paris"}}),
    ("tools", (), {"event": "tool-finished", "tool_call_id": "call_1",
                   "output": {"content": "found x", "type": "tool", "name": "search",
                              "tool_call_id": "call_1", "status": "success"}}),
    ("messages", ("tools:call_1",), {"event": "message-start", "role": "tool", "id": "x"}),
    ("messages", ("tools:call_1",), {"event": "content-block-start", "index": 0,
                                     "content": {"type": "text", "text": "found x"}}),
    ("messages", ("tools:call_1",), {"event": "message-finish"}),
    ("tools", (), {"event": "tool-error", "tool_call_id": "call_2", "message": "no weather"}),
    COMPLETED,
]  # fmt: skip

ANSWER_PARTS = [
    {"type": "start", "messageId": "run-1"},
    {"type": "data-custom", "data": {"progress": 50}},
    {"type": "start-step"},
    {"type": "reasoning-start", "id": "m1:0"},
    {"type": "reasoning-delta", "id": "m1:0", "delta": "think"},
    {"type": "text-start", "id": "m1:1"},
    {"type": "text-delta", "id": "m1:1", "delta": "Let "},
    {"type": "text-delta", "id": "m1:1", "delta": "me."},
    {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "search"},
    {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '{"q":'},
    {"type": "tool-input-start", "toolCallId": "call_2", "toolName": "weather"},
    {"type": "tool-input-delta", "toolCallId": "call_2", "inputTextDelta": '{"city":'},
    {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": ' "x"}'},
    {"type": "tool-input-delta", "toolCallId": "call_2", "inputTextDelta": ' "Paris"}'},
    {"type": "reasoning-end", "id": "m1:0"},
    {"type": "text-end", "id": "m1:1"},
    {"type": "tool-input-available", "toolCallId": "call_1", "toolName": "search",
     "input": {"q": "x"}},
    {"type": "tool-input-available", "toolCallId": "call_2", "toolName": "weather",
     "input": {"city": "Paris"}},
    {"type": "tool-output-available", "toolCallId": "call_1", "output": "found x"},
    {"type": "tool-output-error", "toolCallId": "call_2", "errorText": "no weather"},
    {"type": "finish-step"},
    {"type": "finish", "finishReason": "tool-calls",
     "messageMetadata": {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}}},
]  # fmt: skip


def test_answer_text_reasoning_parallel_tools_custom_usage() -> None:
    assert fold(ANSWER) == ANSWER_PARTS


def test_each_model_message_is_a_step_and_usage_sums() -> None:
    second = [
        msg("message-start", role="ai", id="lc_run--2"),
        start(0, type="text", text=""),
        delta(0, type="text-delta", text="Done."),
        finish(0, type="text", text="Done."),
        msg(
            "message-finish",
            usage={**USAGE, "output_token_details": {"reasoning": 2}},
            metadata={"finish_reason": "end_turn"},
        ),
    ]
    parts = fold([*ANSWER[:-1], *second, COMPLETED])
    assert parts[len(ANSWER_PARTS) - 2 :] == [
        {"type": "finish-step"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m2:0"},
        {"type": "text-delta", "id": "m2:0", "delta": "Done."},
        {"type": "text-end", "id": "m2:0"},
        {"type": "finish-step"},
        {
            "type": "finish",
            "finishReason": "stop",
            "messageMetadata": {
                "usage": {
                    "inputTokens": 6,
                    "outputTokens": 8,
                    "totalTokens": 14,
                    "reasoningTokens": 2,
                }
            },
        },
    ]


def test_interrupt_is_a_data_part_then_a_finish() -> None:
    events: list[Event] = [
        RUNNING,
        ("input.requested", (), {"interrupt_id": "i1", "payload": {"question": "send it?"}}),
        ("lifecycle", (), {"event": "interrupted", "graph_name": "agent"}),
    ]
    assert fold(events) == [
        {"type": "start", "messageId": "run-1"},
        {
            "type": "data-interrupt",
            "id": "i1",
            "data": {"interrupt_id": "i1", "payload": {"question": "send it?"}},
        },
        {"type": "finish", "finishReason": "other"},
    ]


def test_failure_mid_answer_is_an_error_part_after_what_streamed() -> None:
    events: list[Event] = [
        RUNNING,
        msg("message-start", role="ai", id="a"),
        start(0, type="text", text=""),
        delta(0, type="text-delta", text="Hel"),
        ("lifecycle", (), {"event": "failed", "error": "ValueError: key ***"}),
    ]
    assert fold(events) == [
        {"type": "start", "messageId": "run-1"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        {"type": "text-delta", "id": "m1:0", "delta": "Hel"},
        {"type": "error", "errorText": "ValueError: key ***"},
    ]


def test_stopped_run_ends_with_abort() -> None:
    events: list[Event] = [
        RUNNING,
        msg("message-start", role="ai", id="a"),
        start(0, type="text", text=""),
        delta(0, type="text-delta", text="w0 "),
        ("lifecycle", (), {"event": "interrupted", "graph_name": "agent"}),
        ("lifecycle", (), {"event": "running", "graph_name": "agent"}),  # after the end: none
    ]
    assert fold(events) == [
        {"type": "start", "messageId": "run-1"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        {"type": "text-delta", "id": "m1:0", "delta": "w0 "},
        {"type": "abort", "reason": "stopped"},
    ]


def test_unstreamed_blocks_subgraphs_and_tool_calls_no_model_streamed() -> None:
    events: list[Event] = [
        RUNNING,
        ("messages", ("research:t1",), {"event": "message-start", "role": "ai", "id": "s"}),
        ("messages", ("research:t1",), {"event": "content-block-finish", "index": 0,
                                        "content": {"type": "text", "text": "inner"}}),
        ("messages", ("research:t1",), {"event": "message-finish"}),
        ("messages", (), {"event": "message-start", "role": "human", "id": "h"}),
        start(0, type="text", text="not the assistant's"),
        ("tools", (), {"event": "tool-started", "tool_call_id": "c9", "tool_name": "get",
                       "input": {"k": 1}}),
        ("tools", (), {"event": "tool-finished", "tool_call_id": "c9", "output": [1, 2]}),
        ("custom", (), "plain"),
        COMPLETED,
    ]  # fmt: skip
    assert fold(events) == [
        {"type": "start", "messageId": "run-1"},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1:0"},
        {"type": "text-delta", "id": "m1:0", "delta": "inner"},
        {"type": "text-end", "id": "m1:0"},
        {"type": "tool-input-start", "toolCallId": "c9", "toolName": "get"},
        {"type": "tool-input-available", "toolCallId": "c9", "toolName": "get", "input": {"k": 1}},
        {"type": "tool-output-available", "toolCallId": "c9", "output": [1, 2]},
        {"type": "data-custom", "data": "plain"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
    ]


def test_a_stream_cut_before_its_end_still_finishes_and_encodes_compactly() -> None:
    assert fold([RUNNING]) == [
        {"type": "start", "messageId": "run-1"},
        {"type": "finish", "finishReason": "other"},
    ]
    assert encode({"type": "text-delta", "id": "m1:0", "delta": "é"}) == (
        'data: {"type":"text-delta","id":"m1:0","delta":"é"}\n\n'.encode()
    )
