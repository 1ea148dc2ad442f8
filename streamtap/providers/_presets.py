"""OpenAI- and Anthropic-compatible servers by name: data, not code.

A preset is a base URL, the environment variable holding the key, the wire
format it speaks and what streamtap knows of its models. Adding a compatible
vendor is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamtap.providers._profiles import Continuation

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A compatible server: where it is, where its key comes from, which wire it speaks."""

    base_url: str | None
    key_env: str | None
    requires_key: bool
    wire: str = "openai"  # "openai" (Chat Completions) or "anthropic" (Messages)
    provider: str | None = None  # reported provider when not the prefix itself
    local: bool = False  # prefer the running `streamtap local` server over base_url
    profiles: str | None = None  # where `model.profile` comes from (providers/data/profiles)
    continuation: Continuation | None = None  # how it continues a partial answer; None: the wire's
    #: Sends usage unasked and rejects ``stream_options`` (Mistral: 422 "extra_forbidden").
    usage_unasked: bool = False
    #: Tool-call ids must be exactly this many letters and digits (Mistral: 9); ids another
    #: vendor made are rewritten, the same way in the call and in its result, when replayed.
    tool_call_id_length: int | None = None


PRESETS: dict[str, Preset] = {
    "openai-compatible": Preset(None, "OPENAI_COMPATIBLE_API_KEY", requires_key=False),
    "vllm": Preset(
        "http://127.0.0.1:8000/v1",
        "VLLM_API_KEY",
        requires_key=False,
        continuation="continue_final_message",
    ),
    "llamacpp": Preset(
        "http://127.0.0.1:8080/v1",
        "LLAMACPP_API_KEY",
        requires_key=False,
        local=True,
        continuation="prefill",  # llama.cpp continues a trailing assistant message as is
    ),
    "llamacpp-anthropic": Preset(
        "http://127.0.0.1:8080",
        "LLAMACPP_API_KEY",
        requires_key=False,
        wire="anthropic",
        provider="llamacpp",
        local=True,
    ),
    "ollama": Preset("http://127.0.0.1:11434/v1", "OLLAMA_API_KEY", requires_key=False),
    "groq": Preset(
        "https://api.groq.com/openai/v1", "GROQ_API_KEY", requires_key=True, profiles="groq"
    ),
    "deepseek": Preset(
        "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", requires_key=True, profiles="deepseek"
    ),
    "openrouter": Preset(
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        requires_key=True,
        profiles="openrouter",
    ),
    "mistral": Preset(
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        requires_key=True,
        usage_unasked=True,
        tool_call_id_length=9,
        profiles="mistral",
    ),
    # xAI may end a stream without a finish reason (or with ""): the Chat Completions
    # fold finishes a stream that reached [DONE] normally, whatever the server says.
    "xai": Preset("https://api.x.ai/v1", "XAI_API_KEY", requires_key=True, profiles="xai"),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY", requires_key=True),
    "fireworks": Preset(
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        requires_key=True,
        profiles="fireworks",
    ),
}
