"""Resilience decisions as fast unit tests on the fake chat model (no SDK, no server).

Each test scripts one or two ``streamtap.testing.FakeChatModel`` s request by
request and asserts the exact chunks the consumer saw and the ``attempts``
record; sync and async alike. The fault-server tests beside this file stay the
integration tests (real SDKs, real sockets).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage

import streamtap
from streamtap.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderConnectionError,
    StreamInterrupted,
    StreamTimeout,
)
from streamtap.providers import ChunkSource, ContinuableSource
from streamtap.providers._profiles import forget_refusals
from streamtap.testing import FakeChatModel
from streamtap.testing.fake import (
    Fail,
    Pause,
    Usage,
    disconnect,
    overloaded,
    prefill_refused,
    rate_limited,
    words,
)
from tests.resilience.conftest import Outcome, run_async, run_sync

#: No waiting between attempts: the decisions, not the backoff, are under test.
NOW = streamtap.RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0)
MODES = ["sync", "async"]


@pytest.fixture(autouse=True)
def _no_learned_refusals() -> Iterator[None]:
    forget_refusals()
    yield
    forget_refusals()


def play(mode: str, model: Any, prompt: Any = "hi", **kwargs: Any) -> Outcome:
    if mode == "sync":
        return run_sync(model, prompt, **kwargs)
    return asyncio.run(run_async(model, prompt, **kwargs))


def texts(out: Outcome) -> list[tuple[str | None, str]]:
    """(id, text) of every chunk, the closing chunk included (as ``""``)."""
    return [(c.id, c.content if isinstance(c.content, str) else "") for c in out.chunks]


def record(error: str | None = None, **extra: Any) -> dict[str, Any]:
    """One ``attempts`` entry as the fake's provider reports it."""
    base: dict[str, Any] = {
        "provider": "fake",
        "model": "fake-model",
        "mode": "fresh",
        "error": error,
        "error_type": None,
        "status_code": None,
    }
    return {**base, **extra}


# --------------------------------------------------------------------------- the seam


def test_the_fake_and_the_streamtap_models_are_chunk_sources() -> None:
    fake = FakeChatModel(scripts=["x"])
    assert isinstance(fake, ChunkSource) and isinstance(fake, ContinuableSource)
    model = streamtap.chat_model("openai:gpt-test", api_key="sk-x")
    assert isinstance(model, ChunkSource) and isinstance(model, ContinuableSource)
    assert streamtap.resilient(fake).models[0] is fake  # nothing to copy: its requests stay yours


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("mode", MODES)
def test_retry_on_429_then_success(mode: str) -> None:
    fake = FakeChatModel(scripts=[[rate_limited()], [*words("Hello there"), Usage(10, 2)]])
    out = play(mode, streamtap.resilient(fake, retry=NOW))
    assert out.error is None
    assert texts(out) == [("fake-2", "Hello "), ("fake-2", "there"), ("fake-2", "")]
    last = out.chunks[-1]
    assert last.chunk_position == "last"
    assert last.usage_metadata == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert last.response_metadata["attempts"] == [
        record(
            "RateLimitError",
            error_type="rate_limit_error",
            status_code=429,
            next="retry",
            wait=0.0,
        ),
        record(),
    ]
    assert [r.messages for r in fake.requests] == [[HumanMessage("hi")]] * 2
    assert all(r.closed for r in fake.requests)


@pytest.mark.parametrize("mode", MODES)
def test_in_stream_overload_before_content_is_retried_invisibly(mode: str) -> None:
    fake = FakeChatModel(scripts=[[overloaded()], [overloaded()], ["ok"]])
    out = play(mode, streamtap.resilient(fake, retry=NOW))
    assert out.error is None
    assert texts(out) == [("fake-3", "ok"), ("fake-3", "")]
    overload = record(
        "OverloadedError", error_type="overloaded_error", status_code=529, next="retry", wait=0.0
    )
    assert out.chunks[-1].response_metadata["attempts"] == [overload, overload, record()]


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_request_is_raised_without_retry_or_fallback(mode: str) -> None:
    primary = FakeChatModel(scripts=[[Fail(BadRequestError("bad tool schema", status_code=400))]])
    fallback = FakeChatModel(scripts=["never"])
    out = play(mode, streamtap.resilient(primary, fallback, retry=NOW))
    assert isinstance(out.error, BadRequestError)
    assert out.chunks == []
    assert len(primary.requests) == 1 and fallback.requests == []
    assert out.error.__notes__ == [
        "streamtap.resilient: 1 attempt(s): fake/fake-model: BadRequestError"
    ]


# --------------------------------------------------------------------------- fallbacks


@pytest.mark.parametrize("mode", MODES)
def test_fallback_to_the_second_model_after_retries(mode: str) -> None:
    primary = FakeChatModel(scripts=[[overloaded()], [overloaded()]])
    fallback = FakeChatModel(scripts=[["from ", "B"]], model="b-model", provider_name="other")
    policy = streamtap.RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0)
    out = play(mode, streamtap.resilient(primary, fallback, retry=policy))
    assert out.error is None
    assert texts(out) == [("fake-1", "from "), ("fake-1", "B"), ("fake-1", "")]
    meta = out.chunks[-1].response_metadata
    assert (meta["model_provider"], meta["model_name"]) == ("other", "b-model")
    overload = {"error": "OverloadedError", "error_type": "overloaded_error", "status_code": 529}
    assert meta["attempts"] == [
        record(**overload, next="retry", wait=0.0),
        record(**overload, next="fallback", wait=0.0),
        record(provider="other", model="b-model"),
    ]
    assert len(primary.requests) == 2 and len(fallback.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_an_auth_failure_falls_back_at_once(mode: str) -> None:
    primary = FakeChatModel(scripts=[[Fail(AuthenticationError("bad key", status_code=401))]])
    fallback = FakeChatModel(scripts=["ok"], provider_name="other")
    out = play(mode, streamtap.resilient(primary, fallback, retry=NOW))
    assert out.error is None
    assert [a["next"] for a in out.chunks[-1].response_metadata["attempts"][:-1]] == ["fallback"]
    assert len(primary.requests) == 1


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("mode", MODES)
def test_continue_by_prefill_keeps_one_message_id(mode: str) -> None:
    fake = FakeChatModel(
        scripts=[["Hello ", "wor", Usage(10, 2), disconnect()], ["ld!", Usage(14, 1)]],
        continuation="prefill",
    )
    model = streamtap.resilient(fake, retry=NOW, recovery="continue")
    out = play(mode, model, [("system", "be brief"), ("human", "hi")])
    assert out.error is None
    assert texts(out) == [
        ("fake-1", "Hello "),
        ("fake-1", "wor"),
        ("fake-1", "ld!"),
        ("fake-1", ""),
    ]
    assert out.by_id() == [("fake-1", "Hello world!")]
    last = out.chunks[-1]
    # The final usage covers both requests that produced the message.
    assert last.usage_metadata == {"input_tokens": 24, "output_tokens": 3, "total_tokens": 27}
    assert last.response_metadata["attempts"] == [
        record(
            "ProviderConnectionError",
            usage={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
            after_content=True,
            next="retry",
            wait=0.0,
        ),
        record(mode="continue", style="prefill"),
    ]
    second = fake.requests[1]
    assert second.prefill == "Hello wor"
    assert [m.type for m in second.messages] == ["system", "human", "ai"]


@pytest.mark.parametrize("mode", MODES)
def test_continue_holds_back_trailing_whitespace_a_wire_forbids(mode: str) -> None:
    fake = FakeChatModel(
        scripts=[["Hello ", disconnect()], [" world"]],
        continuation="prefill",
        prefill_trailing_whitespace=False,
    )
    out = play(mode, streamtap.resilient(fake, retry=NOW, recovery="continue"))
    assert out.by_id() == [("fake-1", "Hello world")]
    assert fake.requests[1].prefill == "Hello"  # sent without its trailing space


@pytest.mark.parametrize("mode", MODES)
def test_continue_keeps_the_bound_tools(mode: str) -> None:
    tool = {"name": "lookup", "description": "d", "parameters": {"type": "object"}}
    fake = FakeChatModel(scripts=[["Let me ", disconnect()], ["check."]], continuation="prefill")
    model = streamtap.resilient(fake, retry=NOW, recovery="continue").bind_tools([tool])
    out = play(mode, model)
    assert out.by_id() == [("fake-1", "Let me check.")]
    assert [r.tools for r in fake.requests] == [[tool], [tool]]


@pytest.mark.parametrize("mode", MODES)
def test_restart_emits_stream_reset_and_a_new_id(mode: str) -> None:
    fake = FakeChatModel(scripts=[["Hello ", "wor", overloaded()], [*words("Hi again")]])
    events: list[tuple[str, Any]] = []

    class Resets(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            events.append((name, data))

    model = streamtap.resilient(fake, retry=NOW, recovery="restart")
    out = play(mode, model, config={"callbacks": [Resets()]})
    assert out.error is None
    assert texts(out) == [
        ("fake-1", "Hello "),
        ("fake-1", "wor"),
        ("fake-2", "Hi "),
        ("fake-2", "again"),
        ("fake-2", ""),
    ]
    reset = {
        "event": "stream_reset",
        "discarded_id": "fake-1",
        "new_id": "fake-2",
        "reason": "overloaded_error",
    }
    assert out.first_of("fake-2").response_metadata == {"stream_reset": reset}
    assert events == [("stream_reset", reset)]
    attempts = out.chunks[-1].response_metadata["attempts"]
    assert attempts == [
        record(
            "OverloadedError",
            error_type="overloaded_error",
            status_code=529,
            after_content=True,
            next="retry",
            wait=0.0,
        ),
        record(mode="restart"),
    ]
    assert fake.requests[1].prefill is None  # a restart re-sends the original conversation


@pytest.mark.parametrize("mode", MODES)
def test_continue_restarts_a_model_that_cannot_prefill(mode: str) -> None:
    fake = FakeChatModel(scripts=[["Hello ", disconnect()], ["Hi"]])  # continuation="none"
    out = play(mode, streamtap.resilient(fake, retry=NOW, recovery="continue"))
    assert out.by_id() == [("fake-1", "Hello "), ("fake-2", "Hi")]
    assert out.chunks[-1].response_metadata["attempts"][1]["mode"] == "restart"


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_continuation_restarts_and_is_remembered(mode: str) -> None:
    fake = FakeChatModel(
        scripts=[["Hello ", disconnect()], [prefill_refused()], ["Hi again"]],
        continuation="prefill",
    )
    out = play(mode, streamtap.resilient(fake, retry=NOW, recovery="continue"))
    assert out.error is None
    assert out.by_id() == [("fake-1", "Hello "), ("fake-3", "Hi again")]
    assert out.first_of("fake-3").response_metadata["stream_reset"]["discarded_id"] == "fake-1"
    assert out.chunks[-1].response_metadata["attempts"] == [
        record("ProviderConnectionError", after_content=True, next="retry", wait=0.0),
        record(
            "BadRequestError",
            mode="continue",
            style="prefill",
            error_type="invalid_request_error",
            status_code=400,
            refused="prefill",
            next="restart",
        ),
        record(mode="restart"),
    ]
    assert [r.prefill for r in fake.requests] == [None, "Hello ", None]
    assert fake.continuation_style() == "none"  # learned for the rest of the process


@pytest.mark.parametrize("mode", MODES)
def test_raise_after_content_keeps_the_partial(mode: str) -> None:
    fake = FakeChatModel(scripts=[["Hello ", Usage(5, 1), disconnect()], ["unused"]])
    out = play(mode, streamtap.resilient(fake, retry=NOW))  # recovery="raise"
    assert isinstance(out.error, StreamInterrupted)
    assert isinstance(out.error.__cause__, ProviderConnectionError)
    partial = out.error.partial
    assert partial is not None and partial.content == "Hello " and partial.id == "fake-1"
    assert partial.response_metadata["attempts"] == [
        record(
            "ProviderConnectionError",
            usage={"input_tokens": 5, "output_tokens": 1, "total_tokens": 6},
            after_content=True,
            next="raise",
        )
    ]
    assert len(fake.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_invoke_returns_only_the_clean_restarted_message(mode: str) -> None:
    fake = FakeChatModel(scripts=[["Hello ", overloaded()], ["Hi"]])
    model = streamtap.resilient(fake, retry=NOW, recovery="restart")
    message = model.invoke("hi") if mode == "sync" else asyncio.run(model.ainvoke("hi"))
    assert isinstance(message, AIMessage)
    assert (message.content, message.id) == ("Hi", "fake-2")


# --------------------------------------------------------------------------- timeouts

#: The fake pauses far longer than any timeout: a test that waited for it would be slow.
LONG = 2.0


@pytest.mark.parametrize("mode", MODES)
def test_first_token_timeout_is_retried_then_succeeds(mode: str) -> None:
    fake = FakeChatModel(scripts=[[Pause(LONG), "late"], ["quick"]])
    out = play(mode, streamtap.resilient(fake, retry=NOW, first_token_timeout=0.1))
    assert out.error is None and out.elapsed < 1.0
    assert texts(out) == [("fake-2", "quick"), ("fake-2", "")]
    assert out.chunks[-1].response_metadata["attempts"] == [
        record("StreamTimeout", error_type="first_token_timeout", next="retry", wait=0.0),
        record(),
    ]
    if mode == "sync":  # sync attempts bound the wait for the response to start
        budget = fake.requests[0].header_timeout
        assert budget is not None and 0 < budget <= 0.1


@pytest.mark.parametrize("mode", MODES)
def test_first_token_timeout_raises_without_partial(mode: str) -> None:
    policy = streamtap.RetryPolicy(max_attempts=1)
    fake = FakeChatModel(scripts=[[Pause(LONG), "late"]])
    out = play(mode, streamtap.resilient(fake, retry=policy, first_token_timeout=0.1))
    assert isinstance(out.error, StreamTimeout)
    assert out.error.error_type == "first_token_timeout"
    assert out.error.partial is None and out.chunks == []
    assert out.elapsed < 1.0


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_raises_with_the_partial(mode: str) -> None:
    fake = FakeChatModel(scripts=[["Hello ", Pause(LONG), "world"], ["unused"]])
    out = play(mode, streamtap.resilient(fake, retry=NOW, idle_timeout=0.1))
    assert isinstance(out.error, StreamTimeout)
    assert out.error.error_type == "idle_timeout"
    assert str(out.error).startswith("fake/fake-model: no new content arrived within 0.1s")
    assert texts(out) == [("fake-1", "Hello ")]
    partial = out.error.partial
    assert partial is not None and (partial.content, partial.id) == ("Hello ", "fake-1")
    assert partial.response_metadata["attempts"] == [
        record("StreamTimeout", error_type="idle_timeout", after_content=True, next="raise")
    ]
    assert out.elapsed < 1.0 and len(fake.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_with_continue_resumes(mode: str) -> None:
    fake = FakeChatModel(
        scripts=[["Hello ", Pause(LONG), "never"], ["world"]], continuation="prefill"
    )
    out = play(mode, streamtap.resilient(fake, retry=NOW, idle_timeout=0.1, recovery="continue"))
    assert out.error is None and out.elapsed < 1.0
    assert out.by_id() == [("fake-1", "Hello world")]
    assert [a["error_type"] for a in out.chunks[-1].response_metadata["attempts"]] == [
        "idle_timeout",
        None,
    ]


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_is_never_retried(mode: str) -> None:
    fake = FakeChatModel(scripts=[["a", Pause(0.05), "b", Pause(LONG), "c"], ["unused"]])
    fallback = FakeChatModel(scripts=["unused"])
    start = time.monotonic()
    out = play(mode, streamtap.resilient(fake, fallback, retry=NOW, total_timeout=0.2))
    assert isinstance(out.error, StreamTimeout)
    assert out.error.error_type == "total_timeout"
    assert 0.15 <= time.monotonic() - start < 1.0
    assert texts(out) == [("fake-1", "a"), ("fake-1", "b")]
    assert out.error.partial is not None and out.error.partial.content == "ab"
    assert len(fake.requests) == 1 and fallback.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_time_with_the_consumer_does_not_count_as_idle(mode: str) -> None:
    fake = FakeChatModel(scripts=[["a", "b"]])
    model = streamtap.resilient(fake, retry=NOW, idle_timeout=0.1)
    seen: list[Any] = []
    if mode == "sync":
        for chunk in model.stream("hi"):
            seen.append(chunk.content)
            time.sleep(0.15)
    else:

        async def consume() -> None:
            async for chunk in model.astream("hi"):
                seen.append(chunk.content)
                await asyncio.sleep(0.15)

        asyncio.run(consume())
    assert seen == ["a", "b", ""]


# --------------------------------------------------------------------------- cancellation


@pytest.mark.parametrize("mode", MODES)
def test_a_consumer_that_stops_closes_the_stream(mode: str) -> None:
    fake = FakeChatModel(scripts=[["a", "b", "c"]])
    model = streamtap.resilient(fake, retry=NOW)
    if mode == "sync":
        stream = model.stream("hi")
        assert next(stream).content == "a"
        stream.close()
    else:

        async def consume() -> None:
            stream = model.astream("hi")
            assert (await anext(stream)).content == "a"
            await stream.aclose()  # type: ignore[attr-defined]

        asyncio.run(consume())
    assert len(fake.requests) == 1 and fake.requests[0].closed
