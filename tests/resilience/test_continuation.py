"""Continuation chosen per model: Claude 4.6+ refuses prefill, refusals are learned, user turns.

Every test drives the real SDKs against the loopback fault server; the server answers
a refused prefill with Anthropic's exact 400 body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import tool

import streamtap
from streamtap.providers import StreamtapChatModel
from streamtap.providers._profiles import forget_refusals
from streamtap.resilience._recovery import USER_TURN_PROMPT
from tests.resilience import _server as S
from tests.resilience.conftest import API_KEY, FAST, Outcome, make, run_async, run_sync

ONE_TRY = streamtap.RetryPolicy(max_attempts=1)


@pytest.fixture(autouse=True)
def _fresh_refusals() -> Iterator[None]:
    forget_refusals()
    yield
    forget_refusals()


def claude(script: S.Script, name: str) -> StreamtapChatModel:
    return streamtap.chat_model(
        f"anthropic:{name}", api_key=API_KEY, base_url=script.base_url("anthropic")
    )


async def run(model: Any, use_async: bool, prompt: Any = "hi") -> Outcome:
    return await run_async(model, prompt) if use_async else run_sync(model, prompt)


def attempts(out: Outcome) -> list[dict[str, Any]]:
    return list(out.final().response_metadata["attempts"])


def modes(out: Outcome) -> list[tuple[str, str | None, str | None]]:
    return [(a["mode"], a.get("style"), a.get("refused")) for a in attempts(out)]


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def assert_restarted(out: Outcome) -> None:
    assert out.error is None, out.error
    (old_id, old_text), (new_id, new_text) = out.by_id()
    assert (old_text, new_text) == ("Hello wor", S.FULL)
    reset = out.first_of(new_id).response_metadata["stream_reset"]
    assert (reset["discarded_id"], reset["new_id"]) == (old_id, new_id)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_claude_sonnet_4_6_restarts_without_asking_for_a_prefill(
    server: S.FaultServer, use_async: bool
) -> None:
    # The README's example: recovery="continue" on claude-sonnet-4-6, cut mid-answer.
    script = server.script(S.reset(2), S.refuse_prefill())
    model = streamtap.resilient(
        claude(script, "claude-sonnet-4-6"), retry=FAST, recovery="continue"
    )
    out = await run(model, use_async)
    assert_restarted(out)
    assert [r.prefill for r in script.requests] == [None, None]
    assert modes(out) == [("fresh", None, None), ("restart", None, None)]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_refused_prefill_restarts_the_same_call_and_is_remembered(
    server: S.FaultServer, use_async: bool
) -> None:
    # An Anthropic model streamtap's data does not know: the wire's prefill is tried,
    # refused with the 4.6 error, and the call restarts at once. Two tries in the
    # policy: the refusal must not use up the second one.
    script = server.script(S.in_stream_error(2), S.refuse_prefill(), S.ok())
    model = streamtap.resilient(
        claude(script, "claude-next"),
        retry=streamtap.RetryPolicy(max_attempts=2, initial_wait=0.01),
        recovery="continue",
    )
    out = await run(model, use_async)
    assert_restarted(out)
    assert [r.prefill for r in script.requests] == [None, "Hello wor", None]
    assert modes(out) == [
        ("fresh", None, None),
        ("continue", "prefill", "prefill"),
        ("restart", None, None),
    ]
    refused = attempts(out)[1]
    assert (refused["error"], refused["status_code"], refused["next"]) == (
        "BadRequestError",
        400,
        "restart",
    )
    assert model.models[0].continuation_style() == "none"  # remembered in the process

    script.steps.extend([S.in_stream_error(2), S.refuse_prefill()])
    again = await run(model, use_async)
    assert_restarted(again)
    assert [r.prefill for r in script.requests[3:]] == [None, None]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_refused_prefill_on_a_fallback_restarts_there(
    server: S.FaultServer, use_async: bool
) -> None:
    primary = server.script(S.in_stream_error(2))
    fallback = server.script(S.refuse_prefill(), S.ok())
    model = streamtap.resilient(
        make(primary, "openai"), claude(fallback, "claude-next"), retry=ONE_TRY, recovery="continue"
    )
    out = await run(model, use_async)
    assert_restarted(out)
    assert [r.prefill for r in fallback.requests] == ["Hello wor", None]
    assert [(a["provider"], a["mode"]) for a in attempts(out)] == [
        ("openai", "fresh"),
        ("anthropic", "continue"),
        ("anthropic", "restart"),
    ]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_fallback_continues_when_it_can_and_restarts_when_it_cannot(
    server: S.FaultServer, use_async: bool
) -> None:
    cut, older = server.script(S.in_stream_error(2)), server.script(S.ok())
    model = streamtap.resilient(
        claude(cut, "claude-sonnet-4-6"),
        claude(older, "claude-sonnet-4-5"),
        retry=ONE_TRY,
        recovery="continue",
    )
    out = await run(model, use_async)
    assert out.error is None
    ((_, text),) = out.by_id()
    assert text == S.FULL
    assert older.requests[0].prefill == "Hello wor"

    cut, newer = server.script(S.in_stream_error(2)), server.script(S.refuse_prefill())
    model = streamtap.resilient(
        claude(cut, "claude-sonnet-4-5"),
        claude(newer, "claude-opus-4-6"),
        retry=ONE_TRY,
        recovery="continue",
    )
    out = await run(model, use_async)
    assert_restarted(out)
    assert newer.requests[0].prefill is None


def test_an_older_claude_still_continues_by_prefill(server: S.FaultServer) -> None:
    script = server.script(S.reset(2), S.ok())
    model = streamtap.resilient(
        claude(script, "claude-sonnet-4-5"), retry=FAST, recovery="continue"
    )
    out = run_sync(model)
    assert out.error is None
    ((_, text),) = out.by_id()
    assert text == S.FULL
    assert script.requests[1].prefill == "Hello wor"
    assert modes(out) == [("fresh", None, None), ("continue", "prefill", None)]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(None, id="repeats-the-whole-answer"),
        pytest.param(["Hello world, ", "how ", "are ", "you?"], id="repeats-a-tail"),
        pytest.param(["ld, ", "how ", "are ", "you?"], id="no-repeat"),
    ],
)
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_user_turn_continues_a_model_that_cannot_prefill(
    server: S.FaultServer, use_async: bool, answer: list[str] | None
) -> None:
    # S.ok() without tokens answers a request without a prefill with the whole
    # answer again: exactly the repeat a user-turn continuation must drop.
    script = server.script(S.reset(2), S.ok(tokens=answer))
    model = streamtap.resilient(
        claude(script, "claude-sonnet-4-6"), retry=FAST, recovery="continue", user_turn=True
    )
    out = await run(model, use_async)
    assert out.error is None, out.error
    ((_, text),) = out.by_id()
    assert text == S.FULL
    sent = [(m["role"], text_of(m)) for m in script.requests[1].messages]
    assert sent[-2:] == [("assistant", "Hello wor"), ("user", USER_TURN_PROMPT)]
    assert modes(out) == [("fresh", None, None), ("continue", "user_turn", None)]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


@pytest.mark.parametrize(
    ("spec", "user_turn", "style"),
    [
        ("anthropic:claude-sonnet-4-5", False, "prefill"),
        ("anthropic:claude-sonnet-4-6", True, "user_turn"),
        ("openai:gpt-test", True, "user_turn"),
        ("llamacpp:qwen-test", False, "prefill"),
    ],
)
def test_a_continuation_keeps_its_tools_and_can_still_call_one(
    server: S.FaultServer, spec: str, user_turn: bool, style: str
) -> None:
    wire = "anthropic" if spec.startswith("anthropic") else "openai"
    script = server.script(S.reset(2), S.ok(tool=True, tokens=['{"city": ', '"Paris"}']))
    base = streamtap.chat_model(spec, api_key=API_KEY, base_url=script.base_url(wire))
    model = streamtap.resilient(base, retry=FAST, recovery="continue", user_turn=user_turn)
    out = run_sync(model.bind_tools([get_weather]))
    assert out.error is None, out.error
    ((_, text),) = out.by_id()
    assert text == "Hello wor"
    first, second = script.requests
    assert second.body["tools"] == first.body["tools"] and first.body["tools"]
    final = out.final()
    assert [(tc["name"], tc["args"]) for tc in final.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert modes(out) == [("fresh", None, None), ("continue", style, None)]


def test_an_open_tool_call_is_restarted_even_with_user_turn(server: S.FaultServer) -> None:
    script = server.script(S.reset(2, tool=True), S.ok(tool=True, tokens=['{"city": "Paris"}']))
    model = streamtap.resilient(
        claude(script, "claude-sonnet-4-6"), retry=FAST, recovery="continue", user_turn=True
    )
    out = run_sync(model)
    assert out.error is None
    assert len(out.by_id()) == 2
    last = script.requests[1].messages[-1]
    assert (last["role"], text_of(last)) == ("user", "hi")
    assert modes(out)[1] == ("restart", None, None)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_refused_prefill_with_user_turn_continues_through_a_user_turn(
    server: S.FaultServer, use_async: bool
) -> None:
    script = server.script(
        S.reset(2), S.refuse_prefill(), S.ok(tokens=["ld, ", "how ", "are ", "you?"])
    )
    model = streamtap.resilient(
        claude(script, "claude-next"), retry=FAST, recovery="continue", user_turn=True
    )
    out = await run(model, use_async)
    assert out.error is None, out.error
    ((_, text),) = out.by_id()  # one bubble: the user never saw the refusal
    assert text == S.FULL
    assert [r.prefill for r in script.requests] == [None, "Hello wor", None]
    assert modes(out) == [
        ("fresh", None, None),
        ("continue", "prefill", "prefill"),
        ("continue", "user_turn", None),
    ]
    assert attempts(out)[1]["next"] == "continue"
    last = script.requests[2].messages[-1]
    assert (last["role"], text_of(last)) == ("user", USER_TURN_PROMPT)
