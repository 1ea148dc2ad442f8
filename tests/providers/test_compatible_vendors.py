"""Azure OpenAI, Mistral, xAI, Together and Fireworks: OpenAI's wires with each vendor's quirks.

Each vendor's most reported streaming bug is a named regression test here: Azure's
content-filter chunks with empty ``choices`` (and an empty id that must not become the
message id), Mistral's strict schema for replayed tool calls (no ``index``, 9-character
ids, no ``stream_options``) and xAI's empty ``finish_reason``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

import streamtap
from streamtap.errors import AuthenticationError
from streamtap.providers.azure import AzureOpenAIChatModel, AzureOpenAIResponsesModel
from tests import _fixtures as F
from tests.providers._contract import total
from tests.providers.conftest import API_KEY, make_model
from tests.providers.test_models import _Base

AZURE_ENDPOINT = "https://res.openai.azure.com"


def _body(route: Any) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


# --------------------------------------------------------------------------- Azure


def test_azure_filter_chunk_id_never_becomes_the_message_id(router) -> None:
    """Azure's first chunk (prompt filter verdicts, ``"choices": []``) has ``"id": ""``."""
    F.mock(router, "azure", "text")
    chunks = list(make_model("azure").stream("hi"))
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[0].id is not None and chunks[0].id.startswith("chatcmpl-")
    message = total(chunks)
    assert message.content == "Hello! How can I help you today?"
    meta = message.response_metadata
    prompt = meta["prompt_filter_results"][0]
    assert prompt["prompt_index"] == 0
    assert prompt["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    assert meta["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}
    assert meta["finish_reason"] == "stop" and meta["model_name"] == "gpt-4o-2024-11-20"


def test_azure_asynchronous_filter_verdicts_after_the_finish_are_kept(router) -> None:
    """The asynchronous filter sends verdict-only chunks (no ``delta``) after the finish."""
    F.mock(router, "azure", "async_filter")
    chunks = list(make_model("azure").stream("hi"))
    message = total(chunks)
    assert message.content == "Hello! How can I help you today?"
    assert message.response_metadata["content_filter_offsets"] == {
        "check_offset": 0,
        "start_offset": 0,
        "end_offset": len(b"Hello! How can I help you today?"),
    }
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] == 21
    assert chunks[-1].chunk_position == "last"


async def test_azure_async_stream_equals_sync(router) -> None:
    F.mock(router, "azure", "parallel_tool_calls")
    sync = total(list(make_model("azure").stream("hi")))
    chunks = [c async for c in make_model("azure").astream("hi")]
    message = total(chunks)
    assert message.tool_calls == sync.tool_calls and len(message.tool_calls) == 2
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_azure_request_goes_to_the_deployment_with_the_api_version_and_api_key(router) -> None:
    route = F.mock(router, "azure", "text")
    list(make_model("azure", max_tokens=50).stream("hi"))
    request = route.calls.last.request
    assert request.url.path == "/openai/deployments/gpt-4o/chat/completions"
    assert request.url.params["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == API_KEY
    assert "authorization" not in request.headers
    body = _body(route)
    assert body["max_completion_tokens"] == 50 and body["stream_options"] == {"include_usage": True}


def test_azure_entra_id_token_provider_replaces_the_key(router) -> None:
    route = F.mock(router, "azure", "text")
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return "entra-token-123"

    model = streamtap.chat_model(
        "azure:gpt-4o", azure_endpoint=AZURE_ENDPOINT, azure_ad_token_provider=token, max_retries=0
    )
    assert total(list(model.stream("hi"))).content == "Hello! How can I help you today?"
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer entra-token-123"
    assert "api-key" not in request.headers
    assert calls
    assert "azure_ad_token_provider" not in model.model_dump()


def test_azure_settings_come_from_the_environment(router, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-env-key-0123456789")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", AZURE_ENDPOINT)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    route = F.mock(router, "azure", "text")
    model = streamtap.chat_model("azure:gpt-4o", max_retries=0)
    list(model.stream("hi"))
    request = route.calls.last.request
    assert request.headers["api-key"] == "azure-env-key-0123456789"
    assert request.url.params["api-version"] == "2025-01-01-preview"


def test_azure_without_an_endpoint_says_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    with pytest.raises(ValueError, match="AZURE_OPENAI_ENDPOINT"):
        streamtap.chat_model("azure:gpt-4o", api_key="k")


def test_azure_without_a_key_or_token_raises_authentication_error(monkeypatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    model = streamtap.chat_model("azure:gpt-4o", azure_endpoint=AZURE_ENDPOINT)
    with pytest.raises(AuthenticationError, match="AZURE_OPENAI_API_KEY"):
        list(model.stream("hi"))


def test_azure_base_url_takes_a_full_base_url(router) -> None:
    # the SDK adds /deployments/{deployment} to a base URL that names none
    route = router.post("http://127.0.0.1:9999/gw/deployments/gpt-4o/chat/completions").mock(
        side_effect=F.Replay(F.load("azure", "text"))
    )
    model = streamtap.chat_model(
        "azure:gpt-4o", api_key="k", base_url="http://127.0.0.1:9999/gw", max_retries=0
    )
    assert total(list(model.stream("hi"))).content == "Hello! How can I help you today?"
    assert route.calls.last.request.url.params["api-version"] == "2024-10-21"


def test_azure_401_is_typed_and_the_key_never_shows(router) -> None:
    router.post(F.URLS["azure"]).mock(
        return_value=respx.MockResponse(
            401,
            json={
                "error": {
                    "code": "401",
                    "message": f"Access denied due to invalid subscription key {API_KEY}.",
                }
            },
        )
    )
    model = make_model("azure")
    with pytest.raises(AuthenticationError) as info:
        list(model.stream("hi"))
    assert info.value.status_code == 401
    assert API_KEY not in str(info.value) and API_KEY not in repr(model)


@pytest.mark.parametrize("scenario", ["text", "reasoning", "tool_call"])
def test_azure_responses_streams_the_responses_wire(router, scenario: str) -> None:
    url = f"{AZURE_ENDPOINT}/openai/responses"
    route = router.post(url).mock(side_effect=F.Replay(F.load("openai-responses", scenario)))
    model = streamtap.chat_model(
        "azure-responses:gpt-5", api_key=API_KEY, azure_endpoint=AZURE_ENDPOINT, max_retries=0
    )
    assert isinstance(model, AzureOpenAIResponsesModel)
    message = total(list(model.stream("hi")))
    want = F.expected("openai-responses", scenario)
    assert message.text == want["text"]
    assert [c["args"] for c in message.tool_calls] == [t["args"] for t in want["tool_calls"]]
    assert message.response_metadata["finish_reason"] == want["finish_reason"]
    request = route.calls.last.request
    assert request.url.params["api-version"] == "2025-04-01-preview"
    assert _body(route)["model"] == "gpt-5"


def test_azure_content_filter_finish_is_normalized(router) -> None:
    """A completion the output filter stopped: ``finish_reason: content_filter``, verdicts kept."""
    head = json.loads(F.load("azure", "text").body.split(b"\n\n")[1].removeprefix(b"data: "))
    filtered = {"filtered": True, "severity": "high"}
    body = (
        b"".join(
            b"data: " + json.dumps(obj).encode() + b"\n\n"
            for obj in (
                {**head, "choices": [{**head["choices"][0], "delta": {"content": "Once"}}]},
                {
                    **head,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {},
                            "finish_reason": "content_filter",
                            "content_filter_results": {"violence": filtered},
                        }
                    ],
                },
            )
        )
        + b"data: [DONE]\n\n"
    )
    router.post(F.URLS["azure"]).mock(
        return_value=respx.MockResponse(
            200, content=body, headers={"content-type": "text/event-stream"}
        )
    )
    message = total(list(make_model("azure").stream("hi")))
    assert message.content == "Once"
    meta = message.response_metadata
    assert (
        meta["finish_reason"] == "content_filter"
        and meta["native_finish_reason"] == "content_filter"
    )
    assert meta["content_filter_results"] == {"violence": filtered}


# --------------------------------------------------------------------------- Mistral


def _replayed_history() -> list[Any]:
    """A conversation whose tool call another vendor made (an OpenAI-style id)."""
    call = {"name": "get_weather", "args": {"location": "Paris"}, "id": "call_Abc123XYZ_456"}
    return [
        HumanMessage("weather in Paris?"),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage("18C", tool_call_id="call_Abc123XYZ_456"),
    ]


def test_mistral_replayed_tool_calls_have_no_index_and_nine_character_ids(router) -> None:
    """Mistral rejects ``index`` in replayed tool calls and ids that are not 9 letters/digits
    (422 "Extra inputs are not permitted"), so a swap from another vendor must rewrite them."""
    route = F.mock(router, "mistral", "text")
    list(make_model("mistral").stream(_replayed_history()))
    messages = _body(route)["messages"]
    call = messages[1]["tool_calls"][0]
    assert set(call) == {"type", "id", "function"}  # no "index"
    assert len(call["id"]) == 9 and call["id"].isalnum()
    assert messages[2]["tool_call_id"] == call["id"]
    # the same history gives the same id every time (a digest, not a counter)
    list(make_model("mistral").stream(_replayed_history()))
    assert _body(route)["messages"][1]["tool_calls"][0]["id"] == call["id"]


def test_mistral_own_tool_call_ids_survive_the_round_trip(router) -> None:
    F.mock(router, "mistral", "tool_call")
    message = total(list(make_model("mistral").stream("hi")))
    (call,) = message.tool_calls
    assert len(call["id"]) == 9
    route = F.mock(router, "mistral", "text")
    history = [HumanMessage("hi"), message, ToolMessage("18C", tool_call_id=call["id"])]
    list(make_model("mistral").stream(history))
    sent = _body(route)["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"] == sent[2]["tool_call_id"]


def test_mistral_requests_send_no_stream_options(router) -> None:
    """Mistral sends usage unasked and answers ``stream_options`` with a 422."""
    route = F.mock(router, "mistral", "text")
    message = total(list(make_model("mistral", max_tokens=20).stream("hi")))
    body = _body(route)
    assert "stream_options" not in body and body["max_tokens"] == 20
    assert "max_completion_tokens" not in body
    assert message.usage_metadata == {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}


# --------------------------------------------------------------------------- xAI


@pytest.mark.parametrize("scenario", ["tool_call", "parallel_tool_calls"])
def test_xai_empty_finish_reason_after_tool_calls_is_tool_calls(router, scenario: str) -> None:
    """xAI ends a tool-call answer with ``finish_reason: ""``: normalized to ``tool_calls``,
    the raw ``""`` kept; usage arrives on the ``choices: []`` tail."""
    F.mock(router, "xai", scenario)
    message = total(list(make_model("xai").stream("hi")))
    meta = message.response_metadata
    assert (meta["finish_reason"], meta["native_finish_reason"]) == ("tool_calls", "")
    assert [c["name"] for c in message.tool_calls] == [
        t["name"] for t in F.expected("xai", scenario)["tool_calls"]
    ]
    assert message.usage_metadata is not None


def test_a_completed_stream_without_any_finish_reason_finishes_normally(router) -> None:
    """A server that reaches ``[DONE]`` without ever naming a reason: ``stop``, raw None."""
    body = F.load("xai", "text").body.replace(b'"finish_reason":"stop"', b'"finish_reason":null')
    router.post(F.URLS["xai"]).mock(
        return_value=respx.MockResponse(
            200, content=body, headers={"content-type": "text/event-stream"}
        )
    )
    message = total(list(make_model("xai").stream("hi")))
    meta = message.response_metadata
    assert (meta["finish_reason"], meta["native_finish_reason"]) == ("stop", None)


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize(
    ("spec", "base_url", "env"),
    [
        ("mistral:mistral-small-latest", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        ("xai:grok-4", "https://api.x.ai/v1", "XAI_API_KEY"),
        ("together:meta-llama/Llama-3.3-70B", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
        (
            "fireworks:accounts/fireworks/models/qwen3",
            "https://api.fireworks.ai/inference/v1",
            "FIREWORKS_API_KEY",
        ),
    ],
)
def test_presets_know_their_server_and_key(monkeypatch, spec: str, base_url: str, env: str) -> None:
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(AuthenticationError, match=env):
        streamtap.chat_model(spec)
    monkeypatch.setenv(env, "preset-key-0123456789")
    model = streamtap.chat_model(spec)
    assert model.base_url == base_url
    assert model.provider_name == spec.partition(":")[0]
    assert model.model == spec.partition(":")[2]


# --------------------------------------------------------------------------- langchain-tests


class TestAzureChatStandard(_Base):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureOpenAIChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"model": "gpt-4o", "api_key": "test", "azure_endpoint": AZURE_ENDPOINT}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return (
            {"AZURE_OPENAI_API_KEY": "env-key", "AZURE_OPENAI_ENDPOINT": AZURE_ENDPOINT},
            {"model": "gpt-4o"},
            {"api_key": "env-key", "azure_endpoint": AZURE_ENDPOINT},
        )


class TestAzureResponsesStandard(TestAzureChatStandard):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureOpenAIResponsesModel
