"""Claude on AWS Bedrock and Google Vertex AI (issue 24): the Anthropic wire on the cloud clients.

The fixtures are the Anthropic scenarios re-framed by each platform (Bedrock: AWS
event-stream frames; Vertex: SSE), replayed at the transport level through the anthropic
SDK's own ``AnthropicBedrock`` / ``AnthropicVertex`` clients: SigV4 signing, the URL built
from the model id, the event-stream decoder. What must hold: the same logical answer sums to
the same message as on the ``anthropic`` wire (cache tokens included, the bug other
libraries have on these platforms), failures are typed, a started stream that fails raises
``StreamInterrupted`` with ``.partial``, and no credential shows anywhere.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import respx
from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

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
)
from streamtap.providers.anthropic import (
    AnthropicBedrockModel,
    AnthropicChatModel,
    AnthropicVertexModel,
)
from tests import _fixtures as F
from tests.providers import _anthropic_clouds_replay as R
from tests.providers import _contract as C
from tests.providers._contract import total
from tests.providers.conftest import make_model as make_anthropic
from tests.providers.test_models import _Base  # the langchain-tests settings every adapter shares

BEDROCK, VERTEX = R.BEDROCK, R.VERTEX
WIRES = R.WIRES
CLASSES = {BEDROCK: AnthropicBedrockModel, VERTEX: AnthropicVertexModel}

#: Streams that complete, shared by both platforms and the anthropic wire.
COMPLETE = [
    "text",
    "unicode",
    "tool_call",
    "parallel_tool_calls",
    "text_then_tool_call",
    "reasoning",
    "redacted_thinking",
    "usage_cache",
    "usage_cache_write",
    "refusal",
    "length",
]

_ENV = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT",
    "CLOUD_ML_REGION",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@pytest.fixture(autouse=True)
def _clean_cloud_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's own AWS / Google setup must not leak into what the models resolve."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def stream(wire: str, scenario: str, *, piece_size: int | None = None, **kw: Any) -> Any:
    with respx.mock() as router:
        route = R.mock(router, wire, scenario, piece_size=piece_size)
        chunks = list(R.make_model(wire, **kw).stream("hi"))
    return chunks, route


async def astream(wire: str, scenario: str, *, piece_size: int | None = None) -> Any:
    with respx.mock() as router:
        route = R.mock(router, wire, scenario, piece_size=piece_size)
        chunks = [c async for c in R.make_model(wire).astream("hi")]
    return chunks, route


# --------------------------------------------------------------------------- the fixture files


def _builder() -> tuple[Any, Any]:
    """``fixtures/build.py`` and this platform builder, loaded as build.py loads them."""
    modules = []
    for name in ("build", "build_anthropic_clouds"):
        spec = importlib.util.spec_from_file_location(f"_t_{name}", F.FIXTURES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules[spec.name]
        modules.append(module)
    return modules[0], modules[1]


def test_committed_platform_fixtures_equal_generator_output() -> None:
    """The generic check covers ``.sse`` / ``.json``; the ``.eventstream`` bodies are checked here."""
    base, clouds = _builder()
    files = clouds.files(base)
    on_disk = {
        str(p.relative_to(F.FIXTURES)): p.read_bytes()
        for wire in WIRES
        for p in (F.FIXTURES / wire).iterdir()
    }
    assert set(on_disk) == set(files), "run: python fixtures/build.py"
    for rel, data in files.items():
        assert on_disk[rel] == data, f"fixtures/{rel} differs from its generator's output"
    assert any(rel.endswith(".eventstream") for rel in files)
    # Their expectations are the shared Anthropic scenarios', fixture for fixture.
    want = clouds.expected(base)
    for wire in WIRES:
        for name, answer in want[wire].items():
            assert answer == R.expected(wire, name), (wire, name)


def _frames(body: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return list(buffer)


@pytest.mark.parametrize("scenario", [*COMPLETE, "overloaded_midstream", "throttling_midstream"])
def test_bedrock_bodies_are_anthropic_events_in_chunk_frames(scenario: str) -> None:
    fixture = R.load(BEDROCK, scenario)
    assert fixture.body is not None
    frames = _frames(fixture.body)  # botocore's decoder checks every CRC
    events: list[dict[str, Any]] = []
    for frame in frames[:-1] if scenario.endswith("_midstream") else frames:
        assert frame.headers[":message-type"] == "event"
        assert frame.headers[":event-type"] == "chunk"
        payload = json.loads(frame.payload)
        assert set(payload) == {"bytes", "p"}
        import base64

        events.append(json.loads(base64.b64decode(payload["bytes"])))
    anthropic = [
        json.loads(line.removeprefix("data: "))
        for line in (F.load("anthropic", scenario.replace("throttling", "overloaded")).body or b"")
        .decode()
        .split("\n")
        if line.startswith("data: ")
    ]
    anthropic = [e for e in anthropic if e["type"] not in ("ping", "error")]
    assert [e["type"] for e in events] == [e["type"] for e in anthropic]
    assert events[0]["message"]["id"].startswith("msg_bdrk_01")
    if scenario.endswith("_midstream"):
        last = frames[-1]
        assert last.headers[":message-type"] == "exception"
        kind = {"overloaded": "serviceUnavailableException", "throttling": "throttlingException"}
        assert last.headers[":exception-type"] == kind[scenario.split("_")[0]]
    else:
        assert events[-1]["type"] == "message_stop"
        assert "amazon-bedrock-invocationMetrics" in events[-1]


# --------------------------------------------------------------------------- what is sent


def test_bedrock_request_is_sigv4_signed_invoke_with_response_stream() -> None:
    _, route = stream(BEDROCK, "text")
    request = route.calls.last.request
    assert str(request.url) == R.URLS[BEDROCK]
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=" + R.AWS_ACCESS_KEY_ID + "/")
    assert f"/{R.AWS_REGION}/bedrock/aws4_request" in auth and "Signature=" in auth
    assert request.headers["x-amz-security-token"] == R.AWS_SESSION_TOKEN
    assert "x-amz-date" in request.headers
    body = json.loads(request.content)
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body and "stream" not in body  # in the URL path instead
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["max_tokens"] == 4096


def test_bedrock_api_key_is_a_bearer_token_instead_of_sigv4() -> None:
    token = "ABSK" + "QmVkcm9ja0FQSUtleS1" + "streamtap0123"
    with respx.mock() as router:
        route = R.mock(router, BEDROCK, "text")
        model = AnthropicBedrockModel(
            model=R.MODELS[BEDROCK], aws_region=R.AWS_REGION, api_key=token, max_retries=0
        )
        assert model.invoke("hi").content == "Hello! How can I help you today?"
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {token}"
    assert "x-amz-date" not in request.headers


def test_vertex_request_is_stream_raw_predict_with_the_bearer_token() -> None:
    _, route = stream(VERTEX, "text")
    request = route.calls.last.request
    assert str(request.url) == R.URLS[VERTEX]
    assert request.headers["authorization"] == f"Bearer {R.VERTEX_ACCESS_TOKEN}"
    body = json.loads(request.content)
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in body and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.mark.parametrize("wire", WIRES)
def test_request_fields_reach_the_body(wire: str) -> None:
    with respx.mock() as router:
        route = R.mock(router, wire, "tool_call")
        model = R.make_model(wire, temperature=0.2, max_tokens=64, stop=["END"])
        model.bind_tools([{"name": "get_weather", "description": "w", "input_schema": {}}]).invoke(
            [("system", "be brief"), ("human", "hi")]
        )
    body = json.loads(route.calls.last.request.content)
    assert body["system"] == "be brief" and body["temperature"] == 0.2
    assert body["max_tokens"] == 64 and body["stop_sequences"] == ["END"]
    assert body["tools"][0]["name"] == "get_weather"


@pytest.mark.parametrize("wire", WIRES)
def test_anthropic_version_can_be_overridden(wire: str) -> None:
    with respx.mock() as router:
        route = R.mock(router, wire, "text")
        R.make_model(wire, anthropic_version="2099-01-01").invoke("hi")
    assert json.loads(route.calls.last.request.content)["anthropic_version"] == "2099-01-01"


# --------------------------------------------------------------------------- what comes back


CASES = [(w, s) for w in WIRES for s in COMPLETE]


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize(("wire", "scenario"), CASES, ids=[f"{w}/{s}" for w, s in CASES])
def test_scenario_sync(wire: str, scenario: str, piece_size: int | None) -> None:
    chunks, route = stream(wire, scenario, piece_size=piece_size)
    message = total(chunks)
    want = R.expected(wire, scenario)
    if scenario == "refusal":
        want["text"], want["refusal"] = want["text"] or want["refusal"], ""
    C.check_chunks(chunks, want, id_prefixes=("msg_",), provider=wire)
    C.check_message(message, want)
    assert [s.closed for s in route.side_effect.streams] == [True]


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize(("wire", "scenario"), CASES, ids=[f"{w}/{s}" for w, s in CASES])
async def test_scenario_async(wire: str, scenario: str, piece_size: int | None) -> None:
    sync_chunks, _ = stream(wire, scenario, piece_size=piece_size)
    chunks, route = await astream(wire, scenario, piece_size=piece_size)
    assert chunks == sync_chunks
    assert [s.closed for s in route.side_effect.streams] == [True]


def _comparable(message: AIMessageChunk) -> dict[str, Any]:
    meta = message.response_metadata
    return {
        "content": message.content,  # reasoning signatures (extras) included
        "tool_calls": message.tool_calls,  # ids included: the same events
        "tool_call_chunks": message.tool_call_chunks,
        "usage": message.usage_metadata,
        "finish_reason": meta["finish_reason"],
        "native_finish_reason": meta["native_finish_reason"],
        "model_name": meta["model_name"],
        "stop_details": meta.get("stop_details"),
    }


@pytest.mark.parametrize(("wire", "scenario"), CASES, ids=[f"{w}/{s}" for w, s in CASES])
def test_same_answer_as_the_anthropic_wire(
    router: respx.MockRouter, wire: str, scenario: str
) -> None:
    F.mock(router, "anthropic", scenario)
    first_party = total(list(make_anthropic("anthropic").stream("hi")))
    platform = total(stream(wire, scenario)[0])
    assert _comparable(platform) == _comparable(first_party)
    assert first_party.response_metadata["model_provider"] == "anthropic"
    assert platform.response_metadata["model_provider"] == wire


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("scenario", ["usage_cache", "usage_cache_write"])
async def test_streamed_cache_tokens_are_kept_on_bedrock_and_vertex(
    wire: str, scenario: str
) -> None:
    """Regression: code keyed on the provider name lost Claude's cache counts on these platforms."""
    want = R.expected(wire, scenario)["usage"]
    for chunks in (stream(wire, scenario)[0], (await astream(wire, scenario))[0]):
        usage = total(chunks).usage_metadata
        assert usage is not None
        assert usage["input_token_details"] == {
            k: v
            for k, v in (
                ("cache_read", want["cache_read"]),
                ("cache_creation", want["cache_creation"]),
            )
            if v
        }
        assert usage["input_tokens"] == want["input_tokens"]  # cached tokens counted in
        assert usage["input_tokens"] == 2060 and want["cache_read"] > 0


@pytest.mark.parametrize("wire", WIRES)
def test_reasoning_signature_is_kept_and_sent_back_next_turn(wire: str) -> None:
    with respx.mock() as router:
        R.mock(router, wire, "reasoning")
        answer = R.make_model(wire).invoke("hi")
    blocks = answer.content_blocks
    reasoning = [b for b in blocks if b["type"] == "reasoning"]
    assert reasoning[0]["reasoning"] == R.expected(wire, "reasoning")["reasoning"]
    base, _ = _builder()
    assert reasoning[0]["extras"]["signature"] == base.SIGNATURE
    with respx.mock() as router:
        route = R.mock(router, wire, "text")
        R.make_model(wire).invoke([HumanMessage("hi"), answer, HumanMessage("and?")])
    turns = json.loads(route.calls.last.request.content)["messages"]
    assert turns[1]["role"] == "assistant"
    assert turns[1]["content"][0] == {
        "type": "thinking",
        "thinking": R.expected(wire, "reasoning")["reasoning"],
        "signature": base.SIGNATURE,
    }


@pytest.mark.parametrize("wire", WIRES)
def test_tool_calls_round_trip_as_tool_use(wire: str) -> None:
    with respx.mock() as router:
        R.mock(router, wire, "parallel_tool_calls")
        answer = R.make_model(wire).invoke("hi")
    assert [c["name"] for c in answer.tool_calls] == ["get_weather", "get_time"]
    assert answer.response_metadata["finish_reason"] == "tool_calls"
    assert answer.response_metadata["native_finish_reason"] == "tool_use"
    assert [b["type"] for b in answer.content_blocks] == ["tool_call", "tool_call"]


@pytest.mark.parametrize("wire", WIRES)
def test_normalize_reads_a_raw_platform_sdk_stream(wire: str) -> None:
    """A user calling ``AnthropicBedrock`` / ``AnthropicVertex`` directly normalizes the raw
    stream as the Anthropic wire: the SDK stream decodes event-stream frames into the same
    SSE events (``Stream._iter_events``)."""
    model = R.make_model(wire)
    with respx.mock() as router:
        route = R.mock(router, wire, "usage_cache_write", piece_size=5)
        client = model._sync_client()
        raw = client.messages.create(
            model=R.MODELS[wire],
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        message = total(list(streamtap.normalize("anthropic", raw)))
    want = total(stream(wire, "usage_cache_write")[0])
    assert message.content == want.content and message.usage_metadata == want.usage_metadata
    assert [s.closed for s in route.side_effect.streams] == [True]


def test_bedrock_invocation_metrics_are_kept_in_response_metadata() -> None:
    message = total(stream(BEDROCK, "usage_cache_write")[0])
    metrics = message.response_metadata["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == 12 and metrics["outputTokenCount"] == 3
    assert metrics["cacheReadInputTokenCount"] == metrics["cacheWriteInputTokenCount"] == 1024
    assert {"invocationLatency", "firstByteLatency"} <= set(metrics)
    vertex = total(stream(VERTEX, "usage_cache_write")[0])
    assert "amazon-bedrock-invocationMetrics" not in vertex.response_metadata


@pytest.mark.parametrize("wire", WIRES)
def test_length_finish_is_normalized(wire: str) -> None:
    message = total(stream(wire, "length")[0])
    assert message.response_metadata["finish_reason"] == "length"
    assert message.response_metadata["native_finish_reason"] == "max_tokens"


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize("wire", WIRES)
async def test_reset_mid_body_is_interrupted_with_partial(
    wire: str, piece_size: int | None
) -> None:
    for is_async in (False, True):
        with respx.mock() as router:
            route = R.mock(router, wire, "reset", piece_size=piece_size)
            model = R.make_model(wire)
            with pytest.raises(StreamInterrupted) as info:
                if is_async:
                    _ = [c async for c in model.astream("hi")]
                else:
                    list(model.stream("hi"))
        err = info.value
        assert isinstance(err.__cause__, ProviderConnectionError)
        assert "peer closed connection" in str(err.__cause__)
        assert err.partial is not None and err.partial.content == "Hello! How"
        assert err.partial.usage_metadata is not None  # message_start's input side
        assert err.provider == wire
        assert [s.closed for s in route.side_effect.streams] == [True]


@pytest.mark.parametrize("wire", WIRES)
def test_truncated_body_is_interrupted_with_partial(wire: str) -> None:
    with respx.mock() as router:
        R.mock(router, wire, "truncated")
        with pytest.raises(StreamInterrupted) as info:
            list(R.make_model(wire).stream("hi"))
    assert info.value.partial is not None
    assert info.value.partial.content == "Hello! How can I help"
    assert "message_stop" in str(info.value)


MIDSTREAM = [
    (BEDROCK, "overloaded_midstream", OverloadedError, "serviceUnavailableException"),
    (BEDROCK, "throttling_midstream", RateLimitError, "throttlingException"),
    (VERTEX, "overloaded_midstream", OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize("piece_size", [None, 1], ids=["whole", "1-byte"])
@pytest.mark.parametrize(("wire", "scenario", "cls", "etype"), MIDSTREAM)
async def test_in_stream_error_is_typed_inside_stream_interrupted(
    wire: str, scenario: str, cls: type, etype: str, piece_size: int | None
) -> None:
    """Bedrock's modeled exception frames arrive (through the SDK's decoder) as Anthropic
    ``error`` events; the exception type names the typed error."""
    for is_async in (False, True):
        with respx.mock() as router:
            route = R.mock(router, wire, scenario, piece_size=piece_size)
            model = R.make_model(wire)
            with pytest.raises(StreamInterrupted) as info:
                if is_async:
                    _ = [c async for c in model.astream("hi")]
                else:
                    list(model.stream("hi"))
        err = info.value
        assert type(err.__cause__) is cls
        cause: Any = err.__cause__
        assert cause.error_type == etype
        assert err.partial is not None and err.partial.content == "Hello wor"
        assert err.provider == wire and str(err).startswith(f"{wire}/claude-sonnet-4-6: ")
        assert [s.closed for s in route.side_effect.streams] == [True]


@pytest.mark.parametrize(("wire", "scenario", "cls", "etype"), MIDSTREAM)
def test_in_stream_error_is_typed_through_the_sdks_typed_events_too(
    monkeypatch: pytest.MonkeyPatch, wire: str, scenario: str, cls: type, etype: str
) -> None:
    """Without the SDK's raw-event hook streamtap reads its typed events, and the SDK
    raises the platform's error itself (an ``APIStatusError`` with the stream's 200):
    the same typed error comes out."""
    from streamtap.providers import _wire_stream

    monkeypatch.setattr(_wire_stream, "sdk_sse_events", lambda stream: None)
    with respx.mock() as router:
        route = R.mock(router, wire, scenario, piece_size=11)
        with pytest.raises(StreamInterrupted) as info:
            list(R.make_model(wire).stream("hi"))
    assert type(info.value.__cause__) is cls
    cause: Any = info.value.__cause__
    assert cause.error_type == etype
    assert info.value.partial is not None and info.value.partial.content == "Hello wor"
    assert [s.closed for s in route.side_effect.streams] == [True]


HTTP = [
    (BEDROCK, "http_429", RateLimitError, "ThrottlingException"),
    (BEDROCK, "http_403", AuthenticationError, "AccessDeniedException"),
    (BEDROCK, "http_400", BadRequestError, "ValidationException"),
    (BEDROCK, "http_400_context_length", ContextLengthError, "ValidationException"),
    (BEDROCK, "http_500", ServerError, "InternalServerException"),
    (VERTEX, "http_429", RateLimitError, None),
    (VERTEX, "http_403", AuthenticationError, None),
    (VERTEX, "http_400", BadRequestError, None),
    (VERTEX, "http_400_context_length", ContextLengthError, "invalid_request_error"),
    (VERTEX, "http_529", OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("wire", "scenario", "cls", "etype"), HTTP)
async def test_http_errors_are_typed(
    wire: str, scenario: str, cls: type, etype: str | None
) -> None:
    fixture = R.load(wire, scenario)
    for is_async in (False, True):
        with respx.mock() as router:
            R.mock(router, wire, scenario)
            model = R.make_model(wire)
            with pytest.raises(cls) as info:
                if is_async:
                    await model.ainvoke("hi")
                else:
                    model.invoke("hi")
        assert type(info.value) is cls and not isinstance(info.value, StreamInterrupted)
        err: Any = info.value
        assert err.status_code == fixture.status and err.provider == wire
        assert err.error_type == etype
        if wire == BEDROCK:
            assert err.request_id == fixture.headers["x-amzn-RequestId"]
            assert err.request_id in str(err)
        if cls is AuthenticationError:
            assert "API key" not in str(err)  # the platform's own identity, named as such


@pytest.mark.parametrize("wire", WIRES)
def test_early_close_releases_the_response(wire: str) -> None:
    with respx.mock() as router:
        route = R.mock(router, wire, "text", piece_size=7)
        chunks = R.make_model(wire).stream("hi")
        next(chunks)
        next(chunks)
        chunks.close()
    assert [s.closed for s in route.side_effect.streams] == [True]
    assert route.side_effect.streams[0].bytes_sent < len(route.side_effect.fixture.body)


@pytest.mark.parametrize("wire", WIRES)
async def test_async_early_close_releases_the_response(wire: str) -> None:
    with respx.mock() as router:
        route = R.mock(router, wire, "text", piece_size=7)
        chunks = R.make_model(wire).astream("hi")
        await anext(chunks)
        await chunks.aclose()
        for _ in range(5):  # langchain-core leaves its inner generator to the loop's finalizer
            await asyncio.sleep(0)
    assert [s.closed for s in route.side_effect.streams] == [True]


CUT_CASES = [(BEDROCK, "tool_call"), (BEDROCK, "reasoning"), (VERTEX, "text_then_tool_call")]


@pytest.mark.parametrize(("wire", "scenario"), CUT_CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_cuts_give_the_same_chunks(wire: str, scenario: str, data: st.DataObject) -> None:
    fixture = R.load(wire, scenario)
    assert fixture.body is not None
    cuts = data.draw(st.lists(st.integers(1, len(fixture.body) - 1), max_size=40))
    whole = _cached_whole(wire, scenario)
    with respx.mock() as router:
        R.mock(router, wire, scenario, cuts=cuts)
        assert list(R.make_model(wire).stream("hi")) == whole


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_cuts_keep_a_bedrock_reset_interrupted(data: st.DataObject) -> None:
    fixture = R.load(BEDROCK, "reset")
    assert fixture.body is not None and fixture.reset_after is not None
    cuts = data.draw(st.lists(st.integers(1, fixture.reset_after - 1), max_size=40))
    with respx.mock() as router:
        R.mock(router, BEDROCK, "reset", cuts=cuts)
        with pytest.raises(StreamInterrupted) as info:
            list(R.make_model(BEDROCK).stream("hi"))
    assert info.value.partial is not None and info.value.partial.content == "Hello! How"


@functools.cache
def _cached_whole(wire: str, scenario: str) -> list[AIMessageChunk]:
    chunks, _ = stream(wire, scenario)
    return chunks  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- credentials


def _leak_surfaces(model: Any, err: BaseException) -> str:
    return "\n".join(
        [
            str(err),
            repr(err),
            "".join(traceback.format_exception(err)),
            repr(model),
            str(model.model_dump()),
            json.dumps(dumpd(model), default=str),
            str(model._get_invocation_params()),
            repr(getattr(err.__cause__, "__cause__", None)),
        ]
    )


@pytest.mark.parametrize("scenario", ["http_403", "http_429", "throttling_midstream", "reset"])
def test_aws_secrets_never_show(scenario: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with respx.mock() as router:
        route = R.mock(router, BEDROCK, scenario)
        model = R.make_model(BEDROCK)
        with pytest.raises(Exception) as info:
            list(model.stream("hi"))
    text = _leak_surfaces(model, info.value) + caplog.text
    assert "CanonicalRequest" in caplog.text  # botocore's signing log was captured, masked
    signature = route.calls.last.request.headers["authorization"].rpartition("Signature=")[2]
    assert len(signature) == 64 and signature not in text
    assert R.AWS_SECRET_ACCESS_KEY not in text
    assert R.AWS_SESSION_TOKEN not in text
    assert R.AWS_ACCESS_KEY_ID not in text
    cause = info.value.__cause__
    sdk = cause.__cause__ if isinstance(cause, Exception) else None
    request = getattr(sdk, "request", None)
    if request is not None:  # the SDK exception kept as the cause: its headers masked
        assert R.AWS_SESSION_TOKEN not in str(request.headers)
        assert "AWS4-HMAC-SHA256" not in str(request.headers.get("authorization", ""))


@pytest.mark.parametrize("scenario", ["http_403", "overloaded_midstream"])
def test_vertex_token_never_shows(scenario: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with respx.mock() as router:
        R.mock(router, VERTEX, scenario)
        model = R.make_model(VERTEX)
        with pytest.raises(Exception) as info:
            list(model.stream("hi"))
    assert R.VERTEX_ACCESS_TOKEN not in _leak_surfaces(model, info.value) + caplog.text


def test_vertex_credentials_object_is_kept_out_of_repr_and_dump() -> None:
    class Creds:
        token = "ya29." + "objectTOKEN" + "0123456789abcdef"

        def __repr__(self) -> str:
            return f"Creds({self.token})"

    model = AnthropicVertexModel(
        model="claude-sonnet-4-6", project_id="p", region="us-east5", credentials=Creds()
    )
    assert Creds.token not in repr(model) and "credentials" not in model.model_dump()
    kwargs = model._client_kwargs(is_async=False)
    assert isinstance(kwargs["credentials"], Creds) and kwargs["project_id"] == "p"


def test_bedrock_unusable_credentials_are_an_authentication_error() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = R.mock(router, BEDROCK, "text")
        model = AnthropicBedrockModel(
            model=R.MODELS[BEDROCK], aws_region=R.AWS_REGION, aws_profile="nope", max_retries=0
        )
        with pytest.raises(AuthenticationError, match="could not be found") as info:
            model.invoke("hi")
    assert type(info.value.__cause__).__name__ == "ProfileNotFound"
    assert "AWS credentials" in str(info.value) and route.call_count == 0


def test_vertex_without_credentials_is_an_authentication_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    model = AnthropicVertexModel(model="claude-sonnet-4-6", region="us-east5", max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        model.invoke("hi")
    assert type(info.value.__cause__).__module__.startswith("google.auth")
    assert "gcloud auth application-default login" in str(info.value)


class _AdcCreds:
    """google-auth credentials as ADC would find them: a valid token."""

    token = "ya29." + "adcTOKEN" + "0123456789abcdef"
    expired = False
    valid = True


async def test_vertex_adc_lookup_runs_off_the_event_loop_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """google-auth's ``default()`` can reach the metadata server: on the async path it runs
    on a worker thread, and once per model, whatever the number of requests."""
    import threading

    from streamtap.providers.anthropic import _clouds

    threads: list[threading.Thread] = []

    def default_credentials() -> tuple[Any, str | None]:
        threads.append(threading.current_thread())
        return _AdcCreds(), R.PROJECT  # the project comes from ADC too

    monkeypatch.setattr(_clouds, "_default_credentials", default_credentials)
    model = AnthropicVertexModel(model=R.MODELS[VERTEX], region=R.VERTEX_REGION, max_retries=0)
    with respx.mock() as router:
        route = R.mock(router, VERTEX, "text")
        assert (await model.ainvoke("hi")).content
        assert (await model.ainvoke("hi")).content
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {_AdcCreds.token}"
    # the sync client built afterwards reuses the lookup
    assert model._client_kwargs(is_async=False)["project_id"] == R.PROJECT
    assert len(threads) == 1


@pytest.mark.parametrize("is_async", [False, True])
async def test_vertex_without_credentials_is_an_authentication_error_either_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, is_async: bool
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    model = AnthropicVertexModel(model="claude-sonnet-4-6", region="us-east5", max_retries=0)
    with pytest.raises(AuthenticationError, match="gcloud auth application-default login"):
        if is_async:
            await model.ainvoke("hi")
        else:
            model.invoke("hi")


def test_vertex_header_timeout_reads_the_body_timeout_without_adc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``open(header_timeout=)`` needs the body's read timeout, which must not cost an ADC
    lookup (on the caller's thread, maybe an event loop's)."""
    from streamtap.providers.anthropic import _clouds

    def default_credentials() -> tuple[Any, str | None]:
        raise AssertionError("looked up ADC")

    monkeypatch.setattr(_clouds, "_default_credentials", default_credentials)
    model = AnthropicVertexModel(model="claude-sonnet-4-6", region="us-east5")
    assert model._body_read_timeout() == 600.0  # the anthropic SDK's default
    assert (
        AnthropicVertexModel(
            model="claude-sonnet-4-6", region="us-east5", timeout=12.5
        )._body_read_timeout()
        == 12.5
    )


def test_vertex_refuses_an_api_key() -> None:
    with pytest.raises(ValueError, match="takes no api_key"):
        AnthropicVertexModel(model="claude-sonnet-4-6", api_key="sk-" + "x" * 20)


def test_vertex_without_region_says_how_to_set_it() -> None:
    model = AnthropicVertexModel(model="claude-sonnet-4-6", project_id="p", access_token="t" * 20)
    with pytest.raises(ValueError, match="CLOUD_ML_REGION"):
        model.invoke("hi")


# --------------------------------------------------------------------------- configuration


def test_bedrock_settings_from_aliases_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    model = AnthropicBedrockModel(
        model="m", region_name="eu-west-1", credentials_profile_name="work"
    )
    assert model.aws_region == "eu-west-1" and model.aws_profile == "work"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert AnthropicBedrockModel(model="m").aws_region == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", "https://vpce.example/bedrock")
    model = AnthropicBedrockModel(model="m")
    assert model.aws_region == "us-west-2" and model.base_url == "https://vpce.example/bedrock"
    assert model.api_key is None and model.provider_name == "anthropic-bedrock"
    kwargs = model._client_kwargs(is_async=False)
    assert kwargs["aws_region"] == "us-west-2" and "api_key" not in kwargs
    assert model.wire == "anthropic" and AnthropicBedrockModel.sdk_modules == ("boto3", "botocore")


def test_vertex_settings_from_aliases_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    model = AnthropicVertexModel(model="m", project_id="p", location="europe-west1")
    assert model.region == "europe-west1"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-google")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "global")
    model = AnthropicVertexModel(model="m")
    assert (model.project_id, model.region) == ("from-google", "global")
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "from-anthropic")
    monkeypatch.setenv("CLOUD_ML_REGION", "us-east5")
    model = AnthropicVertexModel(model="m", access_token="t" * 20)
    assert (model.project_id, model.region) == ("from-anthropic", "us-east5")
    kwargs = model._client_kwargs(is_async=True)
    assert kwargs["access_token"] == "t" * 20 and "api_key" not in kwargs
    assert AnthropicVertexModel.sdk_modules == ("google.auth",)


@pytest.mark.parametrize(
    ("cls", "model", "claude", "key"),
    [
        (AnthropicBedrockModel, "anthropic.claude-sonnet-4-6", "claude-sonnet-4-6", "="),
        (AnthropicBedrockModel, "us.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6", "="),
        (AnthropicBedrockModel, "global.anthropic.claude-opus-4-6-v1", "claude-opus-4-6", "="),
        (
            AnthropicBedrockModel,
            "apac.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5-20251001",
            "anthropic.claude-haiku-4-5-20251001-v1:0",  # the prefix dropped, as langchain-aws does
        ),
        (
            AnthropicBedrockModel,
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5-20250929",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",  # the id the ARN ends in
        ),
        (
            AnthropicVertexModel,
            "claude-sonnet-4-6",
            "claude-sonnet-4-6",
            "claude-sonnet-4-6@default",
        ),
        (AnthropicVertexModel, "claude-sonnet-4-5@20250929", "claude-sonnet-4-5", "="),
    ],
)
def test_profile_and_continuation_follow_the_claude_model(
    cls: type, model: str, claude: str, key: str
) -> None:
    """The profile is LangChain's for the same platform class (ChatAnthropicBedrock: the
    langchain-aws table by Bedrock id; ChatAnthropicVertex: Vertex's table, a bare name
    finding its one version); how a partial answer continues is Claude's own."""
    from streamtap.providers import _profiles

    platform = cls(model=model)
    source = "bedrock" if cls is AnthropicBedrockModel else "google_vertexai"
    assert platform.profile == _profiles._profiles(source)[model if key == "=" else key]
    assert platform._claude_name() == claude
    first_party = AnthropicChatModel(model=claude, api_key="k")
    assert platform.continuation_style() == first_party.continuation_style()


def test_standard_content_blocks_and_ls_params() -> None:
    for wire in WIRES:
        with respx.mock() as router:
            R.mock(router, wire, "text_then_tool_call")
            message = R.make_model(wire).invoke("hi")
        assert isinstance(message, AIMessage)
        assert [b["type"] for b in message.content_blocks] == ["text", "tool_call"]
        params = R.make_model(wire)._get_ls_params()
        assert params["ls_provider"] == wire and params["ls_model_name"] == R.MODELS[wire]


@pytest.mark.parametrize("wire", WIRES)
def test_chat_model_spec_builds_the_platform_model(wire: str) -> None:
    model = streamtap.chat_model(R.SPECS[wire], **R.kwargs_for(wire))
    assert type(model) is CLASSES[wire] and model.model == R.MODELS[wire]


@pytest.mark.parametrize("wire", WIRES)
def test_serving_replays_for_a_spec(wire: str) -> None:
    with R.serving(wire, "usage_cache") as kwargs:
        message = streamtap.chat_model(R.SPECS[wire], **kwargs).invoke("hi")
    assert message.content == "Cached answer."
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"]["cache_read"] == 2048


@pytest.mark.parametrize("wire", WIRES)
def test_serving_yields_kwargs_for_the_model_class(wire: str) -> None:
    with R.serving(wire, "text", piece_size=3) as kwargs:
        message = CLASSES[wire](model=R.MODELS[wire], **kwargs).invoke("hi")
    assert message.content == "Hello! How can I help you today?"


# --------------------------------------------------------------------------- langchain-tests


class TestAnthropicBedrockStandard(_Base):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AnthropicBedrockModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "anthropic.claude-sonnet-4-6-v1:0", "aws_region": "us-east-1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"AWS_REGION": "eu-central-1", "ANTHROPIC_BEDROCK_BASE_URL": "https://b.example"},
            {"model": "anthropic.claude-sonnet-4-6-v1:0"},
            {"aws_region": "eu-central-1", "base_url": "https://b.example"},
        )


class TestAnthropicVertexStandard(_Base):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AnthropicVertexModel

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        params = dict(super().standard_chat_model_params)
        params.pop("api_key")  # Vertex authenticates with Google credentials only
        return params

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "claude-sonnet-4-6", "project_id": "p", "region": "us-east5"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"ANTHROPIC_VERTEX_PROJECT_ID": "env-project", "CLOUD_ML_REGION": "europe-west1"},
            {"model": "claude-sonnet-4-6"},
            {"project_id": "env-project", "region": "europe-west1"},
        )


def test_dumpd_keeps_platform_secrets_out() -> None:
    model = R.make_model(BEDROCK)
    data = json.dumps(dumpd(model))
    assert R.AWS_SECRET_ACCESS_KEY not in data and R.AWS_SESSION_TOKEN not in data
    assert "AWS_SECRET_ACCESS_KEY" in data  # serialized as an env-var reference
    vertex = json.dumps(dumpd(R.make_model(VERTEX)))
    assert R.VERTEX_ACCESS_TOKEN not in vertex
