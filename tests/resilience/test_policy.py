"""Retry policy, error classification, fallbacks, deadlines and timeouts beyond the fault matrix."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying

import streamtap
from streamtap.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
    StreamTimeout,
)
from streamtap.resilience import ResilientChatModel, RetryPolicy
from streamtap.resilience._retry import (
    WaitRetryAfter,
    failure_cause,
    is_fallback_worthy,
    is_transient,
)
from tests.resilience import _server as S
from tests.resilience.conftest import FAST, make, run_async, run_sync, watchdogs

# --------------------------------------------------------------------------- construction


def test_public_names() -> None:
    assert streamtap.RetryPolicy is RetryPolicy
    assert streamtap.resilient is streamtap.resilience.resilient


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_wait": -1}, "initial_wait"),
        ({"max_wait": float("inf")}, "max_wait"),
        ({"deadline": 0}, "deadline"),
    ],
)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kwargs)


def test_resilient_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="recovery"):
        streamtap.resilient("openai:gpt-test", recovery="retry")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_timeout"):
        streamtap.resilient("openai:gpt-test", idle_timeout=0)
    with pytest.raises(TypeError, match=r"streamtap.chat_model"):
        streamtap.resilient(FakeListChatModel(responses=["x"]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vendor:model"):
        streamtap.resilient("gpt-4o")


def test_models_are_copies_without_sdk_retries() -> None:
    original = streamtap.chat_model("openai:gpt-test", api_key="sk-x", max_retries=5)
    original._sync_client()  # a client built with the SDK's retries must not be shared
    model = streamtap.resilient(original, "anthropic:claude-test")
    assert isinstance(model, ResilientChatModel)
    primary, fallback = model.models
    assert primary is not original and original.max_retries == 5
    assert primary.max_retries == 0 and fallback.max_retries == 0
    assert primary._client is None
    assert primary._sync_client().max_retries == 0
    assert fallback.provider_name == "anthropic"


# --------------------------------------------------------------------------- classification


def _interrupted(cause: BaseException) -> StreamInterrupted:
    err = StreamInterrupted("x", partial=None)
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("exc", "transient", "fallback"),
    [
        (RateLimitError("x", status_code=429), True, True),
        (RateLimitError("x", status_code=429, error_type="insufficient_quota"), False, True),
        (OverloadedError("x", status_code=529), True, True),
        (ServerError("x", status_code=503), True, True),
        (ServerError("x", status_code=408), True, True),
        (ProviderConnectionError("x"), True, True),
        (StreamTimeout("x", error_type="idle_timeout"), True, True),
        (StreamTimeout("x", error_type="total_timeout"), False, False),
        (AuthenticationError("x", status_code=401), False, True),
        (ContextLengthError("x", status_code=400), False, True),
        (BadRequestError("x", status_code=404), False, True),
        (BadRequestError("x", status_code=400), False, False),
        (BadRequestError("x", status_code=422), False, False),
        (_interrupted(OverloadedError("x")), True, True),
        (_interrupted(BadRequestError("x")), False, False),
        (ValueError("a bug"), False, False),
    ],
)
def test_classification(exc: BaseException, transient: bool, fallback: bool) -> None:
    assert is_transient(exc) is transient
    assert is_fallback_worthy(exc) is fallback


def _state(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    wait = WaitRetryAfter(RetryPolicy(initial_wait=0.1, max_wait=0.5))
    exc = OverloadedError("x")
    for attempt, low in ((1, 0.1), (2, 0.2), (3, 0.4)):
        values = {wait(_state(exc, attempt)) for _ in range(20)}
        assert all(low <= v <= min(low + 0.1, 0.5) for v in values), values
        assert len(values) > 1  # jittered
    assert wait(_state(exc, 8)) == 0.5


def test_retry_after_wins_but_is_capped() -> None:
    wait = WaitRetryAfter(RetryPolicy(initial_wait=0.1, max_wait=2.0))
    assert wait(_state(RateLimitError("x", retry_after=1.5), 1)) == 1.5
    assert wait(_state(RateLimitError("x", retry_after=17.0), 1)) == 2.0


# --------------------------------------------------------------------------- against the server


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_retry_after_header_capped_by_max_wait(server: S.FaultServer, wire: str) -> None:
    script = server.script(S.status(429, headers={"retry-after": "30"}), S.ok())
    policy = RetryPolicy(initial_wait=0.01, max_wait=0.2)
    out = run_sync(streamtap.resilient(make(script, wire), retry=policy))
    assert out.error is None and out.final().content == S.FULL
    assert out.final().response_metadata["attempts"][0]["wait"] == 0.2
    assert 0.18 <= out.elapsed < 2.0


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
async def test_bad_request_is_neither_retried_nor_passed_on(
    server: S.FaultServer, wire: str
) -> None:
    primary, fallback = server.script(S.status(400), S.ok()), server.script(S.ok())
    other = "openai" if wire == "anthropic" else "anthropic"
    model = streamtap.resilient(make(primary, wire), make(fallback, other), retry=FAST)
    out = await run_async(model)
    assert isinstance(out.error, BadRequestError) and out.error.status_code == 400
    assert out.chunks == []
    assert len(primary.requests) == 1 and fallback.requests == []
    assert "1 attempt(s)" in "".join(out.error.__notes__)


def test_auth_failure_falls_back_at_once(server: S.FaultServer) -> None:
    primary, fallback = server.script(S.status(401)), server.script(S.ok())
    model = streamtap.resilient(make(primary, "anthropic"), make(fallback, "openai"), retry=FAST)
    out = run_sync(model)
    assert out.error is None
    attempts = out.final().response_metadata["attempts"]
    assert [(a["provider"], a["error"], a.get("next")) for a in attempts] == [
        ("anthropic", "AuthenticationError", "fallback"),
        ("openai", None, None),
    ]
    assert len(primary.requests) == 1


def test_out_of_quota_falls_back_without_retrying(server: S.FaultServer) -> None:
    primary = server.script(S.status(429, error_type="insufficient_quota"))
    fallback = server.script(S.ok())
    model = streamtap.resilient(make(primary, "openai"), make(fallback, "anthropic"), retry=FAST)
    out = run_sync(model)
    assert out.error is None and len(primary.requests) == 1
    assert out.final().response_metadata["model_provider"] == "anthropic"


class Weather(BaseModel):
    """Get the weather for a city."""

    city: str


@pytest.mark.parametrize("use_async", [False, True])
async def test_fallback_across_vendors_after_retries(
    server: S.FaultServer, use_async: bool
) -> None:
    primary = server.script(S.status(529), S.in_stream_error(0))
    fallback = server.script(S.ok())
    model = streamtap.resilient(
        make(primary, "anthropic"),
        make(fallback, "openai"),
        retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.1),
    ).bind_tools([Weather])
    out = await run_async(model) if use_async else run_sync(model)
    assert out.error is None
    ((_, text),) = out.by_id()
    assert text == S.FULL
    final = out.final()
    attempts = final.response_metadata["attempts"]
    assert [(a["provider"], a["error"], a.get("next")) for a in attempts] == [
        ("anthropic", "OverloadedError", "retry"),
        ("anthropic", "OverloadedError", "fallback"),
        ("openai", None, None),
    ]
    assert final.response_metadata["model_provider"] == "openai"
    assert final.response_metadata["model_name"] == "gpt-test"
    # Same conversation, each vendor's own format, tools included.
    anthropic_body, openai_body = primary.requests[0].body, fallback.requests[0].body
    assert anthropic_body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]
    assert anthropic_body["tools"][0]["name"] == "Weather"
    assert "input_schema" in anthropic_body["tools"][0]
    assert openai_body["messages"] == [{"role": "user", "content": "hi"}]
    assert openai_body["tools"][0]["function"]["name"] == "Weather"


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_x_should_retry_false_is_obeyed(server: S.FaultServer, wire: str) -> None:
    script = server.script(S.status(500, headers={"x-should-retry": "false"}), S.ok())
    out = run_sync(streamtap.resilient(make(script, wire), retry=FAST))
    assert isinstance(out.error, ServerError)
    assert len(script.requests) == 1


def test_max_attempts_exhausted_raises_the_last_error(server: S.FaultServer) -> None:
    script = server.script(S.status(529), S.status(529), S.status(529), S.ok())
    out = run_sync(streamtap.resilient(make(script, "anthropic"), retry=FAST))
    assert isinstance(out.error, OverloadedError)
    assert len(script.requests) == 3
    assert "3 attempt(s)" in "".join(out.error.__notes__)


class RetryRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.calls: list[tuple[int, BaseException | None, float]] = []

    def on_retry(self, retry_state: RetryCallState, *, run_id: UUID, **kwargs: Any) -> None:
        # tenacity reuses one state object: read it now.
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        self.calls.append((retry_state.attempt_number, exc, retry_state.upcoming_sleep))


@pytest.mark.parametrize("use_async", [False, True])
async def test_each_retry_fires_on_retry(server: S.FaultServer, use_async: bool) -> None:
    script = server.script(S.status(529), S.in_stream_error(0), S.ok())
    recorder = RetryRecorder()
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST)
    config = {"callbacks": [recorder]}
    out = await run_async(model, config=config) if use_async else run_sync(model, config=config)
    assert out.error is None
    assert [n for n, _, _ in recorder.calls] == [1, 2]
    assert [type(exc).__name__ for _, exc, _ in recorder.calls] == [
        "OverloadedError",
        "StreamInterrupted",
    ]
    assert all(isinstance(failure_cause(exc), OverloadedError) for _, exc, _ in recorder.calls)  # type: ignore[arg-type]
    waits = [a["wait"] for a in out.final().response_metadata["attempts"][:2]]
    assert waits == [round(w, 3) for _, _, w in recorder.calls]


def test_deadline_stops_retrying_before_it_is_crossed(server: S.FaultServer) -> None:
    script = server.script(*[S.status(429, headers={"retry-after-ms": "300"})] * 5)
    policy = RetryPolicy(max_attempts=10, initial_wait=0.01, max_wait=1.0, deadline=0.5)
    out = run_sync(streamtap.resilient(make(script, "openai"), retry=policy))
    assert isinstance(out.error, RateLimitError)
    assert len(script.requests) == 2  # a second wait would end past the deadline
    assert 0.3 <= out.elapsed < 1.5


@pytest.mark.parametrize("use_async", [False, True])
async def test_total_timeout_ends_the_call(server: S.FaultServer, use_async: bool) -> None:
    script = server.script(S.stall(2, keepalive=0.05), S.ok())
    model = streamtap.resilient(
        make(script, "anthropic"), retry=FAST, total_timeout=0.4, recovery="restart"
    )
    out = await run_async(model) if use_async else run_sync(model)
    assert isinstance(out.error, StreamTimeout)
    assert out.error.error_type == "total_timeout"
    assert out.error.partial is not None and out.error.partial.content == "Hello wor"
    assert 0.35 <= out.elapsed < 2.0
    assert len(script.requests) == 1  # never retried
    assert script.wait_closed(0)
    assert watchdogs() == []


@pytest.mark.parametrize("use_async", [False, True])
async def test_total_timeout_covers_retries(server: S.FaultServer, use_async: bool) -> None:
    script = server.script(*[S.stall(0, keepalive=0.05)] * 4)
    model = streamtap.resilient(
        make(script, "openai"),
        retry=RetryPolicy(max_attempts=4, initial_wait=0.01),
        first_token_timeout=0.2,
        total_timeout=0.5,
    )
    out = await run_async(model) if use_async else run_sync(model)
    assert isinstance(out.error, StreamTimeout)
    assert out.error.error_type == "total_timeout"
    assert out.error.partial is None
    assert 0.45 <= out.elapsed < 2.0
    assert 2 <= len(script.requests) <= 3  # 0.2 s each, then the total cuts the last short
    assert all(r.client_closed.wait(2) for r in script.requests)


@pytest.mark.parametrize("use_async", [False, True])
async def test_idle_timeout_ignores_time_the_consumer_takes(
    server: S.FaultServer, use_async: bool
) -> None:
    script = server.script(S.ok())
    model = streamtap.resilient(
        make(script, "anthropic"), idle_timeout=0.2, first_token_timeout=0.2
    )
    texts = []
    if use_async:
        import asyncio

        async for chunk in model.astream("hi"):
            texts.append(chunk.content)
            await asyncio.sleep(0.3)
    else:
        for chunk in model.stream("hi"):
            texts.append(chunk.content)
            time.sleep(0.3)
    assert "".join(str(t) for t in texts) == S.FULL
    assert len(script.requests) == 1


def test_sync_header_budget_does_not_become_the_body_read_timeout(server: S.FaultServer) -> None:
    """A 0.2 s first-token budget guards the wait for headers, not later gaps in the body."""
    script = server.script(S.ok(pause=(2, 0.5)))
    model = streamtap.resilient(make(script, "openai"), first_token_timeout=0.2)
    out = run_sync(model)
    assert out.error is None, repr(out.error)
    assert out.final().content == S.FULL
    assert len(script.requests) == 1


def test_stream_chunks_without_callbacks(server: S.FaultServer) -> None:
    script = server.script(S.in_stream_error(0), S.ok())
    model = streamtap.resilient(make(script, "anthropic"), retry=FAST)
    chunks = list(model.stream_chunks("hi"))
    assert "".join(str(c.content) for c in chunks) == S.FULL
    assert chunks[-1].chunk_position == "last"
    assert [a["error"] for a in chunks[-1].response_metadata["attempts"]] == [
        "OverloadedError",
        None,
    ]


async def test_close_releases_the_pooled_connections(server: S.FaultServer) -> None:
    script = server.script(S.ok(), S.ok())
    async with streamtap.resilient(make(script, "openai"), retry=FAST) as model:
        model.invoke("hi")
        await model.ainvoke("hi")
        sync_client, async_client = model.models[0]._client, model.models[0]._async_client
        assert not sync_client._client.is_closed and not async_client._client.is_closed
    assert sync_client._client.is_closed and async_client._client.is_closed
    assert model.models[0]._client is None and model.models[0]._async_client is None


def test_close_leaves_a_user_http_client_open(server: S.FaultServer) -> None:
    import httpx2

    script = server.script(S.ok())
    with httpx2.Client() as http:
        with streamtap.resilient(make(script, "anthropic", http_client=http), retry=FAST) as model:
            model.invoke("hi")
        assert model.models[0]._client is None
        assert not http.is_closed  # the caller's client: the caller closes it


def test_rate_limit_reset_headers_are_honoured(server: S.FaultServer) -> None:
    headers = {"x-ratelimit-reset-requests": "150ms", "x-ratelimit-reset-tokens": "20ms"}
    script = server.script(S.status(429, headers=headers), S.ok())
    out = run_sync(streamtap.resilient(make(script, "openai"), retry=FAST))
    assert out.error is None
    assert out.final().response_metadata["attempts"][0]["wait"] == 0.15  # the later reset
    assert out.elapsed >= 0.14
