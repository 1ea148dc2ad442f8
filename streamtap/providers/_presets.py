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
}
