"""``model.profile`` and the continuation style, with LangChain's own models as the oracle.

Every model name that ``ChatAnthropic`` / ``ChatOpenAI`` (Chat Completions and
Responses) know must give the same profile through ``streamtap.chat_model``. The
snapshot is refreshed from the *locked* langchain-anthropic / langchain-openai, so
under the lock the name sets are equal too; under ``make test-latest`` a newer
partner package may know models the snapshot does not yet (then ``make profiles``).
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import httpx
import pytest
import respx
from langchain_anthropic import ChatAnthropic
from langchain_anthropic.data._profiles import _PROFILES as ANTHROPIC_PROFILES
from langchain_openai import ChatOpenAI
from langchain_openai.data._profiles import _PROFILES as OPENAI_PROFILES

import streamtap
from streamtap.errors import AuthenticationError, ProviderConnectionError
from streamtap.providers import _profiles
from tests.providers.conftest import API_KEY

KEY = {"api_key": API_KEY}


def _snapshot_version(source: str) -> str:
    path = _profiles._DATA / "profiles" / f"{source}.json"
    return str(json.loads(path.read_text(encoding="utf-8"))["_source"]).split()[1]


def _names(profiles: dict[str, Any], source: str) -> list[str]:
    return sorted(set(profiles) & set(_profiles._profiles(source)))


def _same_release(source: str, distribution: str) -> None:
    """The oracle's profile data is its release's: other releases (make test-oldest /
    test-latest) add or drop keys, so equality is checked against the snapshot's release."""
    installed = importlib.metadata.version(distribution)
    if installed != _snapshot_version(source):
        pytest.skip(f"{distribution} {installed} is not the snapshot's; `make profiles` refreshes")


@pytest.mark.parametrize("name", _names(ANTHROPIC_PROFILES, "anthropic"))
def test_anthropic_profiles_equal_chat_anthropic(name: str) -> None:
    _same_release("anthropic", "langchain-anthropic")
    oracle = ChatAnthropic(model=name, **KEY).profile  # type: ignore[call-arg]
    assert oracle
    assert streamtap.chat_model(f"anthropic:{name}", **KEY).profile == oracle


@pytest.mark.parametrize("name", _names(OPENAI_PROFILES, "openai"))
def test_openai_profiles_equal_chat_openai(name: str) -> None:
    # Like for like: ChatOpenAI moves Responses-only models (codex, *-pro) to the Responses
    # API on its own, and then claims mid-conversation tools; `openai:` stays on Chat
    # Completions, where there are none, as ChatOpenAI(use_responses_api=False) says.
    _same_release("openai", "langchain-openai")
    oracle = ChatOpenAI(model=name, use_responses_api=False, **KEY).profile  # type: ignore[call-arg]
    assert oracle
    assert streamtap.chat_model(f"openai:{name}", **KEY).profile == oracle
    responses = ChatOpenAI(model=name, use_responses_api=True, **KEY).profile  # type: ignore[call-arg]
    assert streamtap.chat_model(f"openai-responses:{name}", **KEY).profile == responses


@pytest.mark.parametrize(
    ("source", "distribution", "table"),
    [
        ("anthropic", "langchain-anthropic", ANTHROPIC_PROFILES),
        ("openai", "langchain-openai", OPENAI_PROFILES),
    ],
)
def test_the_snapshot_knows_every_model_the_locked_integration_knows(
    source: str, distribution: str, table: dict[str, Any]
) -> None:
    _same_release(source, distribution)
    assert set(_profiles._profiles(source)) == set(table)


def test_profiles_are_copies_a_user_can_change_safely() -> None:
    first = streamtap.chat_model("anthropic:claude-sonnet-4-6", **KEY)
    assert first.profile is not None
    first.profile["max_input_tokens"] = 1
    again = streamtap.chat_model("anthropic:claude-sonnet-4-6", **KEY).profile
    assert again is not None and again["max_input_tokens"] == 1_000_000


def test_an_explicit_profile_wins() -> None:
    model = streamtap.chat_model(
        "anthropic:claude-sonnet-4-6", profile={"max_input_tokens": 200_000}, **KEY
    )
    assert model.profile == {"max_input_tokens": 200_000}


@pytest.mark.parametrize(
    "spec",
    [
        "anthropic:claude-not-a-model",
        "openai:gpt-not-a-model",
        "openai-compatible:qwen3",
        "vllm:Qwen/Qwen3-8B",
        "llamacpp:smollm2",
        "ollama:llama3.2",
    ],
)
def test_an_unknown_model_has_no_profile_and_no_error(spec: str) -> None:
    kwargs = {**KEY, "base_url": "http://127.0.0.1:9/v1"} if spec.startswith("openai-c") else KEY
    assert streamtap.chat_model(spec, **kwargs).profile is None


@pytest.mark.parametrize(
    ("spec", "source", "name"),
    [
        ("groq:llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
        ("deepseek:deepseek-v4-flash", "deepseek", "deepseek-v4-flash"),
        ("openrouter:anthropic/claude-sonnet-4.6", "openrouter", "anthropic/claude-sonnet-4.6"),
        ("mistral:devstral-latest", "mistral", "devstral-latest"),
        ("xai:grok-4.3", "xai", "grok-4.3"),
        (
            "fireworks:accounts/fireworks/models/glm-5p3",
            "fireworks",
            "accounts/fireworks/models/glm-5p3",
        ),
    ],
)
def test_hosted_presets_read_their_integrations_profiles(spec: str, source: str, name: str) -> None:
    expected = _profiles._profiles(source)[name]
    profile = streamtap.chat_model(spec, **KEY).profile
    assert profile == expected
    assert profile is not None and profile["max_input_tokens"] > 0


GOOGLE = {"project": "p", "location": "us-central1", "credentials": object()}


@pytest.mark.parametrize(
    ("spec", "kwargs", "source", "name"),
    [
        # ChatGoogleGenerativeAI's spellings: a resource path, a regional prefix, a version
        ("gemini:gemini-2.5-flash", KEY, "google_genai", "gemini-2.5-flash"),
        ("gemini:models/gemini-2.5-flash", KEY, "google_genai", "gemini-2.5-flash"),
        ("gemini:gemini-2.5-flash-001", KEY, "google_genai", "gemini-2.5-flash"),
        ("gemini:eu.gemini-2.5-flash", KEY, "google_genai", "gemini-2.5-flash"),
        # ChatVertexAI's table: models.dev's Vertex AI entries, not AI Studio's
        ("vertex:gemini-2.5-flash", GOOGLE, "google_vertexai", "gemini-2.5-flash"),
        ("vertex:gemini-2.5-flash-001", GOOGLE, "google_vertexai", "gemini-2.5-flash"),
    ],
)
def test_gemini_and_vertex_read_langchain_s_google_tables(
    spec: str, kwargs: dict[str, Any], source: str, name: str
) -> None:
    pytest.importorskip("google.genai")
    profile = streamtap.chat_model(spec, **kwargs).profile
    assert profile == _profiles._profiles(source)[name]
    assert profile is not None and profile["max_input_tokens"] > 0


def test_google_s_two_tables_differ_where_the_platforms_do() -> None:
    """The same Gemini model is described per platform; each spec reads its own."""
    studio = _profiles._profiles("google_genai")["gemini-2.5-flash"]
    vertex = _profiles._profiles("google_vertexai")["gemini-2.5-flash"]
    assert studio != vertex


def test_azure_reads_openai_s_table_by_deployment_name_without_mid_conversation_tools() -> None:
    """AzureChatOpenAI's: a deployment named after its model gets that model's profile,
    minus ``mid_conversation_tools``, which LangChain leaves unverified on Azure."""
    endpoint = {"azure_endpoint": "https://r.openai.azure.com"}
    expected = dict(_profiles._profiles("openai")["gpt-4.1"])
    assert expected.pop("mid_conversation_tools") is True
    for spec in ("azure:gpt-4.1", "azure-responses:gpt-4.1"):
        assert streamtap.chat_model(spec, **KEY, **endpoint).profile == expected
    assert streamtap.chat_model("azure:my-deployment", **KEY, **endpoint).profile is None


# -- continuation style ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "style"),
    [
        ("anthropic:claude-sonnet-4-5", "prefill"),
        ("anthropic:claude-3-7-sonnet-latest", "prefill"),
        ("anthropic:claude-sonnet-4-6", "none"),
        ("anthropic:claude-opus-4-6", "none"),
        ("anthropic:claude-fable-5", "none"),
        ("openai:gpt-4o", "none"),
        ("openai-responses:gpt-5", "none"),
        ("vllm:Qwen/Qwen3-8B", "continue_final_message"),
        ("llamacpp:smollm2", "prefill"),
        ("llamacpp-anthropic:smollm2", "prefill"),
        ("ollama:llama3.2", "none"),
    ],
)
def test_each_model_continues_as_it_can(spec: str, style: str) -> None:
    assert streamtap.chat_model(spec, **KEY).continuation_style() == style


def test_continuation_can_be_set_and_a_refusal_overrides_it() -> None:
    model = streamtap.chat_model("openai-compatible:mine", base_url="http://127.0.0.1:9/v1")
    assert model.continuation_style() == "none"
    chosen = streamtap.chat_model(
        "openai-compatible:mine", base_url="http://127.0.0.1:9/v1", continuation="prefill"
    )
    assert chosen.continuation_style() == "prefill"
    try:
        _profiles.remember_refusal(chosen.continuation_key())
        assert chosen.continuation_style() == "none"
        other = streamtap.chat_model(
            "openai-compatible:mine", base_url="http://127.0.0.1:8/v1", continuation="prefill"
        )
        assert other.continuation_style() == "prefill"  # another server is another model
    finally:
        _profiles.forget_refusals()
    assert chosen.continuation_style() == "prefill"


def test_an_unknown_continuation_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="continuation"):
        streamtap.chat_model("anthropic:claude-sonnet-4-5", continuation="assistant", **KEY)


# -- profile from the server --------------------------------------------------------------
VLLM = "http://vllm.test/v1"
LLAMA = "http://llama.test/v1"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_vllm_reports_max_model_len(use_async: bool) -> None:
    model = streamtap.chat_model("vllm:Qwen/Qwen3-8B", base_url=VLLM)
    listing = {
        "object": "list",
        "data": [
            {"id": "other", "object": "model", "max_model_len": 4096},
            {"id": "Qwen/Qwen3-8B", "object": "model", "max_model_len": 32768},
        ],
    }
    with respx.mock(assert_all_called=True) as router:
        router.get(f"{VLLM}/models").respond(json=listing)
        profile = await model.afetch_profile() if use_async else model.fetch_profile()
    assert profile == {"max_input_tokens": 32768}
    assert model.profile == profile


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_llamacpp_reports_its_context_in_props(use_async: bool) -> None:
    model = streamtap.chat_model("llamacpp:smollm2", base_url=LLAMA)
    # llama.cpp lists only its alias and the *training* context in /v1/models.
    listing = {"object": "list", "data": [{"id": "smollm2", "meta": {"n_ctx_train": 8192}}]}
    props = {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 1}
    with respx.mock(assert_all_called=True) as router:
        router.get(f"{LLAMA}/models").respond(json=listing)
        router.get("http://llama.test/props").respond(json=props)
        profile = await model.afetch_profile() if use_async else model.fetch_profile()
    assert profile == {"max_input_tokens": 2048}


def test_a_server_that_reports_nothing_keeps_the_profile() -> None:
    model = streamtap.chat_model("openrouter:anthropic/claude-sonnet-4.6", **KEY)
    before = dict(model.profile or {})
    assert before
    with respx.mock(assert_all_called=True) as router:
        router.get("https://openrouter.ai/api/v1/models").respond(json={"data": []})
        router.get("https://openrouter.ai/api/props").respond(404, json={"error": "not found"})
        assert model.fetch_profile() == before


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_server_that_fails_raises_a_typed_error(use_async: bool) -> None:
    model = streamtap.chat_model("vllm:Qwen/Qwen3-8B", base_url=VLLM, max_retries=0)
    with respx.mock() as router:
        router.get(f"{VLLM}/models").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(ProviderConnectionError) as caught:
            await model.afetch_profile() if use_async else model.fetch_profile()
    assert caught.value.provider == "vllm"
    assert model.profile is None


def test_a_key_the_server_refuses_is_an_authentication_error_without_the_key() -> None:
    model = streamtap.chat_model("vllm:Qwen/Qwen3-8B", base_url=VLLM, max_retries=0, **KEY)
    with respx.mock() as router:
        router.get(f"{VLLM}/models").respond(401, json={"error": {"message": "bad key"}})
        with pytest.raises(AuthenticationError) as caught:
            model.fetch_profile()
    assert API_KEY not in repr(caught.value) and caught.value.status_code == 401
