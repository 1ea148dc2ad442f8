"""The AG-UI fold (``_ag_ui_events.AgUiFold``) on exact event lists: a run's Agent
Streaming Protocol events in, AG-UI events out (as the wire has them, camelCase)."""

from __future__ import annotations

from typing import Any, NamedTuple

from langchain_core.messages import ToolMessage

from streamtap.server._ag_ui_events import AgUiFold, json_patch


class E(NamedTuple):
    method: str
    namespace: tuple[str, ...]
    data: Any


def msg(*events: dict[str, Any], ns: tuple[str, ...] = ()) -> list[E]:
    return [E("messages", ns, e) for e in events]


def start(mid: str = "m1", role: str = "ai") -> dict[str, Any]:
    return {"event": "message-start", "role": role, "id": mid}


def block(index: int, content: dict[str, Any], kind: str = "start") -> dict[str, Any]:
    return {"event": f"content-block-{kind}", "index": index, "content": content}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"event": "content-block-delta", "index": index, "delta": d}


FINISH = {
    "event": "message-finish",
    "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
}
RUNNING = E("lifecycle", (), {"event": "running", "graph_name": "g"})
COMPLETED = E("lifecycle", (), {"event": "completed", "graph_name": "g"})
SUCCESS = {"type": "RUN_FINISHED", "threadId": "t", "runId": "r", "outcome": {"type": "success"}}
USAGE = [{"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}]


def fold(events: list[E]) -> list[dict[str, Any]]:
    f = AgUiFold("t", "r")
    out = f.start()
    for event in events:
        out += f.feed(event)
    out += f.close()
    return [e.model_dump(mode="json", by_alias=True) for e in out]


def test_text() -> None:
    events = [
        RUNNING,
        *msg(
            start(),
            block(0, {"type": "text", "text": ""}),
            delta(0, type="text-delta", text="Hel"),
            delta(0, type="text-delta", text="lo"),
            block(0, {"type": "text", "text": "Hello"}, "finish"),
            FINISH,
        ),
        COMPLETED,
    ]
    assert fold(events) == [
        {"type": "RUN_STARTED", "threadId": "t", "runId": "r"},
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Hel"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "lo"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        {**SUCCESS, "usage": USAGE},
    ]


def test_reasoning_then_text() -> None:
    events = [
        *msg(
            start(),
            block(0, {"type": "reasoning", "reasoning": ""}),
            delta(0, type="reasoning-delta", reasoning="think"),
            block(1, {"type": "text", "text": ""}),
            delta(1, type="text-delta", text="ok"),
            block(
                0,
                {"type": "reasoning", "reasoning": "think", "extras": {"signature": "s"}},
                "finish",
            ),
            block(1, {"type": "text", "text": "ok"}, "finish"),
            {"event": "message-finish", "metadata": {}},
        ),
        COMPLETED,
    ]
    rid = "m1-reasoning-0"
    assert fold(events)[1:] == [
        {"type": "REASONING_START", "messageId": rid},
        {"type": "REASONING_MESSAGE_START", "messageId": rid, "role": "reasoning"},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": rid, "delta": "think"},
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "ok"},
        {"type": "REASONING_MESSAGE_END", "messageId": rid},
        {"type": "REASONING_END", "messageId": rid},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        SUCCESS,
    ]


def test_two_parallel_tool_calls_each_its_own_start_args_end() -> None:
    events = [
        *msg(
            start(),
            block(
                0, {"type": "tool_call_chunk", "id": "c1", "name": "search", "args": "", "index": 0}
            ),
            block(
                1,
                {
                    "type": "tool_call_chunk",
                    "id": "c2",
                    "name": "search",
                    "args": '{"q":',
                    "index": 1,
                },
            ),
            delta(0, type="tool-call-delta", args='{"q": "a"}'),
            delta(1, type="tool-call-delta", args=' "b"}'),
            block(
                0, {"type": "tool_call", "id": "c1", "name": "search", "args": {"q": "a"}}, "finish"
            ),
            block(
                1, {"type": "tool_call", "id": "c2", "name": "search", "args": {"q": "b"}}, "finish"
            ),
            FINISH,
        ),
        E(
            "tools",
            (),
            {
                "event": "tool-started",
                "tool_call_id": "c1",
                "tool_name": "search",
                "input": {"q": "a"},
            },
        ),
        E(
            "tools",
            (),
            {
                "event": "tool-finished",
                "tool_call_id": "c1",
                "output": ToolMessage("found a", tool_call_id="c1"),
            },
        ),
        *msg(start("tool-c1", "tool"), block(0, {"type": "text", "text": ""}), ns=("tools:c1",)),
        E(
            "tools",
            (),
            {
                "event": "tool-finished",
                "tool_call_id": "c2",
                "output": {"content": [{"type": "text", "text": "found b"}], "id": "t2"},
            },
        ),
        E("tools", (), {"event": "tool-error", "tool_call_id": "c3", "message": "bad"}),
        COMPLETED,
    ]
    assert fold(events)[1:] == [
        {
            "type": "TOOL_CALL_START",
            "toolCallId": "c1",
            "toolCallName": "search",
            "parentMessageId": "m1",
        },
        {
            "type": "TOOL_CALL_START",
            "toolCallId": "c2",
            "toolCallName": "search",
            "parentMessageId": "m1",
        },
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c2", "delta": '{"q":'},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"q": "a"}'},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c2", "delta": ' "b"}'},
        {"type": "TOOL_CALL_END", "toolCallId": "c1"},
        {"type": "TOOL_CALL_END", "toolCallId": "c2"},
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "tool-c1",
            "toolCallId": "c1",
            "content": "found a",
            "role": "tool",
        },
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "t2",
            "toolCallId": "c2",
            "content": "found b",
            "role": "tool",
        },
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "tool-c3",
            "toolCallId": "c3",
            "content": "Error: bad",
            "role": "tool",
        },
        {**SUCCESS, "usage": USAGE},
    ]


def test_state_snapshot_then_deltas_steps_custom() -> None:
    human = {"type": "human", "content": "hi", "id": "h1"}
    events = [
        E("values", (), {"messages": [human], "notes": [], "n": 0}),
        E("tasks", (), {"id": "1", "name": "agent", "input": {}, "triggers": ["branch:to:agent"]}),
        E("custom", (), {"progress": 50}),
        E("custom", (), {"name": "progress", "value": 0.5}),
        E("tasks", ("sub:1",), {"id": "2", "name": "inner", "input": {}, "triggers": []}),
        E("tasks", (), {"id": "1", "name": "agent", "error": None, "result": {}, "interrupts": []}),
        E("values", (), {"messages": [human], "notes": ["a/b"], "n": 0}),
        E("values", ("sub:1",), {"messages": [], "x": 1}),
        E("values", (), {"messages": [human], "notes": ["a/b"], "n": 0}),
        E("values", (), {"messages": [human], "notes": ["c"], "n": 1, "done": True}),
        COMPLETED,
    ]
    assert fold(events)[1:] == [
        {"type": "STATE_SNAPSHOT", "snapshot": {"notes": [], "n": 0}},
        {"type": "STEP_STARTED", "stepName": "agent"},
        {"type": "CUSTOM", "name": "custom", "value": {"progress": 50}},
        {"type": "CUSTOM", "name": "progress", "value": 0.5},
        {"type": "STEP_FINISHED", "stepName": "agent"},
        {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/notes/-", "value": "a/b"}]},
        {
            "type": "STATE_DELTA",
            "delta": [
                {"op": "replace", "path": "/notes", "value": ["c"]},
                {"op": "replace", "path": "/n", "value": 1},
                {"op": "add", "path": "/done", "value": True},
            ],
        },
        SUCCESS,
    ]


def test_json_patch() -> None:
    assert json_patch({"a/b": 1, "c~": 2}, {"c~": 3}) == [
        {"op": "remove", "path": "/a~1b"},
        {"op": "replace", "path": "/c~0", "value": 3},
    ]
    assert json_patch({"x": {"y": [1]}}, {"x": {"y": [1, 2]}}) == [
        {"op": "add", "path": "/x/y/-", "value": 2}
    ]


def test_a_finished_message_no_model_streamed_is_sent_whole() -> None:
    human = {"type": "human", "content": "hi", "id": "h1"}
    ai = {
        "type": "ai",
        "content": "approved",
        "id": "a1",
        "tool_calls": [{"id": "c9", "name": "f", "args": {"k": 1}}],
    }
    tool = {"type": "tool", "content": "done", "id": "t9", "tool_call_id": "c9"}
    events = [
        E("values", (), {"messages": [human]}),
        E("values", (), {"messages": [human, ai, tool]}),
        E("values", (), {"messages": [human, ai, tool]}),
        COMPLETED,
    ]
    assert fold(events)[1:] == [
        {"type": "STATE_SNAPSHOT", "snapshot": {}},
        {"type": "TEXT_MESSAGE_START", "messageId": "a1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "a1", "delta": "approved"},
        {"type": "TEXT_MESSAGE_END", "messageId": "a1"},
        {
            "type": "TOOL_CALL_START",
            "toolCallId": "c9",
            "toolCallName": "f",
            "parentMessageId": "a1",
        },
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c9", "delta": '{"k": 1}'},
        {"type": "TOOL_CALL_END", "toolCallId": "c9"},
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "t9",
            "toolCallId": "c9",
            "content": "done",
            "role": "tool",
        },
        SUCCESS,
    ]


def test_interrupt_outcome_closes_what_is_open() -> None:
    events = [
        E("tasks", (), {"id": "1", "name": "ask", "input": {}, "triggers": []}),
        *msg(start(), block(0, {"type": "text", "text": "Sure"})),
        E("input.requested", (), {"interrupt_id": "i1", "payload": {"question": "ok?"}}),
        E("input.requested", ("sub:2",), {"interrupt_id": "i2", "payload": "name?"}),
        E("lifecycle", (), {"event": "interrupted", "graph_name": "g"}),
        E("custom", (), {"after": "the end"}),
    ]
    assert fold(events)[1:] == [
        {"type": "STEP_STARTED", "stepName": "ask"},
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Sure"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        {"type": "STEP_FINISHED", "stepName": "ask"},
        {
            **SUCCESS,
            "outcome": {
                "type": "interrupt",
                "interrupts": [
                    {
                        "id": "i1",
                        "reason": "input_required",
                        "metadata": {"payload": {"question": "ok?"}, "namespace": []},
                    },
                    {
                        "id": "i2",
                        "reason": "input_required",
                        "message": "name?",
                        "metadata": {"payload": "name?", "namespace": ["sub:2"]},
                    },
                ],
            },
        },
    ]


def test_stopped_run_is_cancelled() -> None:
    events = [E("lifecycle", (), {"event": "interrupted", "graph_name": "g"})]
    assert fold(events)[1:] == [{**SUCCESS, "outcome": {"type": "cancelled"}}]


def test_failure_mid_answer() -> None:
    events = [
        *msg(
            start(),
            block(0, {"type": "text", "text": ""}),
            delta(0, type="text-delta", text="Part"),
        ),
        E("lifecycle", ("sub:1",), {"event": "failed", "graph_name": "sub", "error": "X: no"}),
        E("lifecycle", (), {"event": "failed", "graph_name": "g", "error": "RuntimeError: boom"}),
    ]
    assert fold(events)[1:] == [
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Part"},
        {"type": "RUN_ERROR", "message": "RuntimeError: boom", "code": "RuntimeError"},
    ]


def test_events_that_end_early_are_an_error() -> None:
    assert fold([*msg(start())])[1:] == [
        {
            "type": "RUN_ERROR",
            "message": "The run's events ended early",
            "code": "incomplete_stream",
        }
    ]
