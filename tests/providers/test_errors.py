"""Errors: typed, actionable, never carrying a credential, and nothing received is lost."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import openai
import pytest

import streamtap
from streamtap import errors
from streamtap.errors import StreamInterrupted, parse_retry_after, redact_secrets
from tests import _fixtures as F
from tests.providers.conftest import API_KEY, error_cases, make_model

HTTP_EXPECTED = {
    "http_429": errors.RateLimitError,
    "http_529": errors.OverloadedError,
    "http_500": errors.ServerError,
    "http_503": errors.ServerError,
    "http_401": errors.AuthenticationError,
    "http_400_context_length": errors.ContextLengthError,
}
SDK_CLASSES = {"openai": openai.APIStatusError, "anthropic": anthropic.APIStatusError}


@pytest.mark.parametrize(("wire", "scenario"), error_cases())
def test_http_errors_map_to_typed_errors(router, wire: str, scenario: str) -> None:
    route = F.mock(router, wire, scenario)
    model = make_model(wire)
    with pytest.raises(errors.StreamtapError) as info:
        list(model.stream("hi"))
    exc = info.value
    assert type(exc) is HTTP_EXPECTED[scenario]
    assert route.call_count == 1  # max_retries=0: one attempt, no hidden SDK retry
    assert exc.status_code == F.load(wire, scenario).status
    assert exc.provider == model.provider_name and exc.model == model.model
    assert model.model in str(exc) and exc.hint in str(exc)
    sdk_base = SDK_CLASSES["anthropic" if wire == "anthropic" else "openai"]
    assert isinstance(exc.__cause__, sdk_base)
    assert API_KEY not in str(exc)
    if scenario == "http_429":
        assert exc.retry_after == 7.0


@pytest.mark.parametrize(
    ("wire", "scenario", "cause_type", "inner"),
    [
        ("anthropic", "overloaded_midstream", errors.OverloadedError, None),
        ("openai", "overloaded_midstream", errors.ServerError, None),
        ("openai-responses", "error_nested", errors.ServerError, None),
        ("openai-responses", "error_flat", errors.ServerError, None),
        ("openai-responses", "failed", errors.ServerError, None),
        ("openai", "reset", errors.ProviderConnectionError, openai.APIConnectionError),
        ("anthropic", "reset", errors.ProviderConnectionError, F.ANTHROPIC_RESET_ERROR),
        ("openai-responses", "reset", errors.ProviderConnectionError, openai.APIConnectionError),
        ("openai", "truncated", errors.ProviderConnectionError, None),
        ("anthropic", "truncated", errors.ProviderConnectionError, None),
        ("openai-responses", "truncated", errors.ProviderConnectionError, None),
        ("openai-compatible", "truncated", errors.ProviderConnectionError, None),
    ],
)
def test_stream_failures_raise_interrupted_with_partial_and_cause(
    router, wire: str, scenario: str, cause_type: type, inner: type | None
) -> None:
    F.mock(router, wire, scenario)
    seen = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in make_model(wire).stream("hi"):
            seen.append(chunk)
    exc = info.value
    assert type(exc.__cause__) is cause_type
    if inner is not None:
        assert isinstance(exc.__cause__.__cause__, inner)
    if scenario == "reset":  # the same detail whichever class the installed SDK raised
        assert "connection failed: peer closed connection" in str(exc.__cause__)
    assert exc.partial is not None
    assert exc.partial.content == "".join(c.content for c in seen)  # nothing lost
    assert exc.partial.content  # something had arrived
    assert exc.partial.id == seen[0].id
    assert exc.partial.chunk_position is None  # a partial is not a finished message


def test_anthropic_partial_keeps_usage_seen_so_far(router) -> None:
    F.mock(router, "anthropic", "overloaded_midstream")
    with pytest.raises(StreamInterrupted) as info:
        list(make_model("anthropic").stream("hi"))
    usage = info.value.partial.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0  # from message_start
    assert info.value.__cause__.error_type == "overloaded_error"


@pytest.mark.parametrize("wire", ["openai", "openai-responses", "anthropic"])
def test_early_break_closes_the_response(router, wire: str) -> None:
    replay = F.mock(router, wire, "text").side_effect
    stream = make_model(wire).stream("hi")
    next(stream)
    next(stream)
    stream.close()
    assert [s.closed for s in replay.streams] == [True]


@pytest.mark.parametrize("wire", ["openai", "openai-responses", "anthropic"])
async def test_async_early_break_closes_the_response(router, wire: str) -> None:
    replay = F.mock(router, wire, "text").side_effect
    stream = make_model(wire).astream("hi")
    await anext(stream)
    await stream.aclose()
    # langchain-core's astream leaves its inner generator to the loop's asyncgen
    # finalizer, which runs on the next iterations of the loop.
    for _ in range(5):
        await asyncio.sleep(0)
    assert [s.closed for s in replay.streams] == [True]


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_key_echoed_by_vendor_is_redacted_everywhere(router, wire: str) -> None:
    body = (
        {
            "error": {
                "message": f"Incorrect API key provided: {API_KEY}.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        if wire == "openai"
        else {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key {API_KEY}"},
        }
    )
    router.post(F.URLS[wire]).mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(errors.AuthenticationError) as info:
        list(make_model(wire).stream("hi"))
    exc = info.value
    for text in (str(exc), repr(exc), str(exc.__cause__), repr(exc.__cause__.args)):
        assert API_KEY not in text
        assert "PLANTED" not in text


def test_missing_key_is_a_clear_error_before_any_request(monkeypatch, router) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    route = router.post(F.URLS["anthropic"])
    model = streamtap.chat_model("anthropic:claude-sonnet-4-6")
    with pytest.raises(errors.AuthenticationError, match="ANTHROPIC_API_KEY"):
        model.invoke("hi")
    assert route.call_count == 0


def test_redact_secrets() -> None:
    text = (
        "key sk-proj-abcDEF123456 and Bearer abc.def-ghi and sk-ant-api03-xyz789 api_key=hunter22"
    )
    out = redact_secrets(text, "hunter22")
    for secret in ("abcDEF123456", "abc.def-ghi", "xyz789", "hunter22"):
        assert secret not in out


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "7"}, 7.0),
        ({"x-ratelimit-reset-requests": "6.5s", "x-ratelimit-reset-tokens": "120ms"}, 6.5),
        ({"x-ratelimit-reset-tokens": "1m30s"}, 90.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers) == seconds


def test_errors_form_one_hierarchy() -> None:
    for cls in (
        errors.RateLimitError,
        errors.OverloadedError,
        errors.ServerError,
        errors.AuthenticationError,
        errors.BadRequestError,
        errors.ContextLengthError,
        errors.ProviderConnectionError,
        errors.StreamInterrupted,
        errors.StreamTimeout,
    ):
        assert issubclass(cls, errors.StreamtapError)
    assert issubclass(errors.ContextLengthError, errors.BadRequestError)


@pytest.mark.parametrize(("wire", "scenario"), [("anthropic", "http_529"), ("openai", "http_503")])
def test_overload_keeps_the_servers_retry_after(router, wire: str, scenario: str) -> None:
    fixture = F.load(wire, scenario)
    headers = {**fixture.headers, "retry-after": "3"}
    router.post(F.URLS[wire]).mock(
        return_value=httpx.Response(fixture.status, headers=headers, json=fixture.json_body)
    )
    with pytest.raises(errors.StreamtapError) as info:
        list(make_model(wire).stream("hi"))
    assert info.value.retry_after == 3.0


def test_missing_key_message_is_not_mangled_by_redaction(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(errors.AuthenticationError) as info:
        streamtap.chat_model("openai:gpt-4o").invoke("hi")
    assert "pass api_key= or set OPENAI_API_KEY" in str(info.value)
