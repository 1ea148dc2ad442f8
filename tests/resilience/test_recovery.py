"""Recovery after the first token: continuation details, restarts, and how UIs hear about them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers._streaming import _StreamingCallbackHandler

import streamtap
from streamtap.errors import OverloadedError, StreamInterrupted
from tests.resilience import _server as S
from tests.resilience.conftest import FAST, make, run_async, run_sync


def test_anthropic_prefill_holds_back_trailing_whitespace(server: S.FaultServer) -> None:
    script = server.script(S.in_stream_error(3), S.ok())  # shown so far: "Hello world, "
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="continue")
    out = run_sync(model)
    assert out.error is None
    # Anthropic rejects a prefill ending in whitespace; the model then repeats the
    # space itself, and streamtap drops that repeat: no double space on screen.
    assert script.requests[1].prefill == "Hello world,"
    ((_, text),) = out.by_id()
    assert text == S.FULL


async def test_continue_twice_keeps_one_id_and_sums_usage(server: S.FaultServer) -> None:
    script = server.script(S.in_stream_error(2), S.in_stream_error(1), S.ok())
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="continue")
    out = await run_async(model)
    assert out.error is None
    ((message_id, text),) = out.by_id()
    assert text == S.FULL and message_id.endswith("_1")
    assert [r.prefill for r in script.requests] == [None, "Hello wor", "Hello world,"]
    final = out.final()
    assert [a["mode"] for a in final.response_metadata["attempts"]] == [
        "fresh",
        "continue",
        "continue",
    ]
    assert final.usage_metadata is not None
    assert final.usage_metadata["input_tokens"] == 36  # three requests made this message


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_tool_call_arguments_are_never_continued(server: S.FaultServer, wire: str) -> None:
    script = server.script(S.reset(2, tool=True), S.ok(tool=True, tokens=['{"city": ', '"Paris"}']))
    model = streamtap.resilient(make(script, wire), retry=FAST, recovery="continue")
    out = run_sync(model)
    assert out.error is None
    (old_id, _), (new_id, _) = out.by_id()
    old_args = "".join(
        tc.get("args") or "" for c in out.chunks if c.id == old_id for tc in c.tool_call_chunks
    )
    assert old_args == '{"location": "Pa'  # half a JSON object was on screen
    assert script.requests[1].prefill is None  # ...and was not sent back to be continued
    reset = out.first_of(new_id).response_metadata["stream_reset"]
    assert reset["discarded_id"] == old_id and reset["new_id"] == new_id
    final = out.final()
    assert final.response_metadata["attempts"][1]["mode"] == "restart"
    assert [tc["args"] for tc in final.tool_calls] == [{"city": "Paris"}]


def test_vllm_continues_with_continue_final_message(server: S.FaultServer) -> None:
    script = server.script(S.eof(2), S.ok())
    model = streamtap.resilient(make(script, "vllm"), retry=FAST, recovery="continue")
    out = run_sync(model)
    assert out.error is None
    ((_, text),) = out.by_id()
    assert text == S.FULL
    body = script.requests[1].body
    assert body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False
    assert body["messages"][-1] == {"role": "assistant", "content": "Hello wor"}
    assert "continue_final_message" not in script.requests[0].body


def test_llamacpp_continues_a_trailing_assistant_message(server: S.FaultServer) -> None:
    script = server.script(S.eof(2), S.ok())
    model = streamtap.resilient(make(script, "llamacpp"), retry=FAST, recovery="continue")
    out = run_sync(model)
    assert out.error is None
    ((_, text),) = out.by_id()
    assert text == S.FULL
    body = script.requests[1].body
    assert body["messages"][-1] == {"role": "assistant", "content": "Hello wor"}
    assert "continue_final_message" not in body


async def test_a_fallback_vendor_continues_what_another_started(server: S.FaultServer) -> None:
    primary, fallback = server.script(S.in_stream_error(2)), server.script(S.ok())
    model = streamtap.resilient(
        make(primary, "openai"),
        make(fallback, "anthropic"),
        retry=streamtap.RetryPolicy(max_attempts=1),
        recovery="continue",
    )
    out = await run_async(model)
    assert out.error is None
    ((message_id, text),) = out.by_id()
    assert text == S.FULL and message_id == "chatcmpl-" + primary.sid + "-1"
    assert fallback.requests[0].prefill == "Hello wor"
    final = out.final()
    assert [(a["provider"], a["mode"]) for a in final.response_metadata["attempts"]] == [
        ("openai", "fresh"),
        ("anthropic", "continue"),
    ]
    assert final.response_metadata["model_provider"] == "anthropic"


def test_a_restart_that_fails_before_content_keeps_the_old_bubble(server: S.FaultServer) -> None:
    script = server.script(S.in_stream_error(2), S.status(529), S.ok())
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="restart")
    out = run_sync(model)
    assert out.error is None
    (old_id, old_text), (new_id, new_text) = out.by_id()
    assert (old_text, new_text) == ("Hello wor", S.FULL)
    resets = [
        c.response_metadata["stream_reset"]
        for c in out.chunks
        if "stream_reset" in c.response_metadata
    ]
    assert resets == [
        {
            "event": "stream_reset",
            "discarded_id": old_id,
            "new_id": new_id,
            "reason": "overloaded_error",
        }
    ]


@pytest.mark.parametrize("use_async", [False, True])
async def test_when_recovery_fails_the_partial_is_not_lost(
    server: S.FaultServer, use_async: bool
) -> None:
    script = server.script(S.in_stream_error(2), S.status(529), S.status(529))
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="restart")
    out = await run_async(model) if use_async else run_sync(model)
    assert isinstance(out.error, StreamInterrupted)
    assert isinstance(out.error.__cause__, OverloadedError)
    assert out.error.partial is not None and out.error.partial.content == "Hello wor"
    assert len(script.requests) == 3


class UIHandler(BaseCallbackHandler, _StreamingCallbackHandler[Any]):
    """What a graph's messages mode hears: tokens and custom events, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        self.log.append(("token", (chunk.message.id, chunk.message.content)))

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.log.append((name, data))


@pytest.mark.parametrize("use_async", [False, True])
async def test_invoke_streams_tokens_and_returns_only_the_clean_message(
    server: S.FaultServer, use_async: bool
) -> None:
    script = server.script(S.reset(2), S.ok())
    model = streamtap.resilient(make(script, "openai"), retry=FAST, recovery="restart")
    ui = UIHandler()
    config = {"callbacks": [ui]}
    message = (
        await model.ainvoke("hi", config=config) if use_async else model.invoke("hi", config=config)
    )
    old_id, new_id = f"chatcmpl-{script.sid}-1", f"chatcmpl-{script.sid}-2"
    assert message.content == S.FULL and message.id == new_id  # not "Hello worHello world..."
    reset = {"event": "stream_reset", "discarded_id": old_id, "new_id": new_id}
    kinds = [kind for kind, _ in ui.log]
    at = kinds.index("stream_reset")
    assert {k: ui.log[at][1][k] for k in reset} == reset
    assert all(data[0] == old_id for _, data in ui.log[:at])
    assert all(data[0] == new_id for _, data in ui.log[at + 1 :])
    assert "".join(data[1] for _, data in ui.log[at + 1 :]) == S.FULL


async def test_astream_events_carry_the_reset(server: S.FaultServer) -> None:
    script = server.script(S.eof(2), S.ok())
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="restart")
    events = [
        (e["event"], e.get("name"), e["data"])
        async for e in model.astream_events("hi", version="v2")
        if e["event"] in ("on_chat_model_stream", "on_custom_event")
    ]
    at = [e[0] for e in events].index("on_custom_event")
    assert events[at][1] == "stream_reset"
    assert events[at][2]["new_id"] == events[at + 1][2]["chunk"].id
    assert events[at][2]["discarded_id"] == events[at - 1][2]["chunk"].id


@pytest.mark.parametrize("runtime", ["streamtap", "langgraph"])
def test_graph_custom_mode_gets_the_reset_between_the_two_messages(
    server: S.FaultServer, runtime: str
) -> None:
    if runtime == "streamtap":
        from streamtap.graph import END, START, MessagesState, StateGraph
    else:
        from langgraph.graph import END, START, MessagesState, StateGraph  # type: ignore[assignment]

    script = server.script(S.stall(2, keepalive=0.05), S.ok())
    model = streamtap.resilient(
        make(script, "anthropic"), retry=FAST, recovery="restart", idle_timeout=0.2
    )

    def node(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("llm", node)
    graph = graph.add_edge(START, "llm").add_edge("llm", END).compile()
    items = list(
        graph.stream({"messages": [("user", "hi")]}, stream_mode=["messages", "custom", "values"])
    )
    seen: list[Any] = []
    for mode, payload in items:
        if mode == "messages":
            seen.append((payload[0].id, payload[0].content))
        elif mode == "custom":
            seen.append(payload)
    old_id, new_id = f"msg_{script.sid}_1", f"msg_{script.sid}_2"
    at = next(i for i, x in enumerate(seen) if isinstance(x, dict))
    assert seen[at] == {
        "event": "stream_reset",
        "discarded_id": old_id,
        "new_id": new_id,
        "reason": "idle_timeout",
    }
    assert "".join(t for i, t in seen[:at]) == "Hello wor"
    assert all(i == new_id for i, _ in seen[at + 1 :])
    final = items[-1][1]["messages"][-1]
    assert (final.id, final.content) == (new_id, S.FULL)


class EndRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.ends: list[Any] = []

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.ends.append(response.generations[0][0].message)


@pytest.mark.parametrize("use_async", [False, True])
async def test_on_llm_end_after_a_restart_is_the_clean_message(
    server: S.FaultServer, use_async: bool
) -> None:
    script = server.script(S.in_stream_error(2), S.ok())
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST, recovery="restart")
    recorder = EndRecorder()
    config = {"callbacks": [recorder]}
    out = await run_async(model, config=config) if use_async else run_sync(model, config=config)
    assert [text for _, text in out.by_id()] == ["Hello wor", S.FULL]  # the consumer saw both
    (ended,) = recorder.ends
    assert (ended.content, ended.id) == (S.FULL, f"msg_{script.sid}_2")
    assert out.chunks[0].content == "Hello "  # the consumer's own chunks are untouched
