"""Model specs (``"vendor:model"``): :func:`chat_model` and the compatible-server models.

Presets (``_presets``) are data; this module turns a spec into a chat model.

The ``llamacpp`` presets find the server ``streamtap local start`` runs: without
``base_url=`` they read its state file and use its port, and fall back to llama.cpp's
default port 8080 when none is running. ``llamacpp-anthropic`` talks to the same server
over the Anthropic Messages wire.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamtap._local_state import running_record
from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._presets import PRESETS, Preset
from streamtap.providers._profiles import Continuation
from streamtap.providers.anthropic import AnthropicChatModel
from streamtap.providers.azure import AzureOpenAIChatModel, AzureOpenAIResponsesModel
from streamtap.providers.openai_chat import OpenAIChatModel
from streamtap.providers.openai_chat._request import fit_tool_call_ids
from streamtap.providers.openai_responses import OpenAIResponsesModel

if TYPE_CHECKING:
    from langchain_core.language_models.model_profile import ModelProfile
    from langchain_core.messages import BaseMessage

__all__ = ["KNOWN_PREFIXES", "AnthropicCompatibleModel", "OpenAICompatibleModel", "chat_model"]


_VENDORS: dict[str, type[StreamtapChatModel]] = {
    "openai": OpenAIChatModel,
    "openai-responses": OpenAIResponsesModel,
    "anthropic": AnthropicChatModel,
    "azure": AzureOpenAIChatModel,
    "azure-responses": AzureOpenAIResponsesModel,
}

#: Vendors whose SDK is an optional extra: (module, class, extra), imported on first use.
_EXTRA_VENDORS: dict[str, tuple[str, str, str]] = {
    "gemini": ("streamtap.providers.gemini", "GeminiChatModel", "gemini"),
    "vertex": ("streamtap.providers.gemini", "VertexChatModel", "gemini"),
    "bedrock": ("streamtap.providers.bedrock", "BedrockChatModel", "bedrock"),
    "anthropic-bedrock": (
        "streamtap.providers.anthropic",
        "AnthropicBedrockModel",
        "anthropic-bedrock",
    ),
    "anthropic-vertex": (
        "streamtap.providers.anthropic",
        "AnthropicVertexModel",
        "anthropic-vertex",
    ),
}

KNOWN_PREFIXES = (*_VENDORS, *_EXTRA_VENDORS, *PRESETS)


def _extra_vendor(vendor: str) -> type[StreamtapChatModel]:
    """The model class of a vendor whose SDK is an extra; a missing SDK says what to install."""
    import importlib

    module, name, extra = _EXTRA_VENDORS[vendor]
    cls: type[StreamtapChatModel] = getattr(importlib.import_module(module), name)
    missing = [m for m in cls.sdk_modules if _absent(m)]
    if missing:
        raise ImportError(
            f"{vendor}: specs need {', '.join(missing)}: pip install 'streamtap[{extra}]'"
        )
    return cls


def _absent(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return True


def _preset(name: str, wire: str) -> Preset | None:
    preset = PRESETS.get(name)
    return preset if preset is not None and preset.wire == wire else None


class OpenAICompatibleModel(OpenAIChatModel):
    """Chat Completions against a server that is not OpenAI (a preset or ``base_url``)."""

    requires_api_key = False
    api_key_env = ()
    base_url_env = ()
    profile_source = None

    def _profile_source(self) -> str | None:
        preset = _preset(self.provider_name, "openai")
        return preset.profiles if preset is not None else None

    def _wire_continuation(self) -> Continuation:
        preset = _preset(self.provider_name, "openai")
        if preset is not None and preset.continuation is not None:
            return preset.continuation
        return self.descriptor.continuation

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        request = super()._request(messages, stop, **kwargs)
        preset = _preset(self.provider_name, "openai")
        if preset is not None and preset.usage_unasked:
            request.pop("stream_options", None)
        if preset is not None and preset.tool_call_id_length:
            fit_tool_call_ids(request["messages"], preset.tool_call_id_length)
        return request

    def fetch_profile(self) -> ModelProfile | None:
        """Fill ``profile["max_input_tokens"]`` from the server, where it reports it.

        vLLM lists ``max_model_len`` in ``/v1/models``; llama.cpp reports its
        context size in ``/props``. Asked explicitly (it is a request to the
        server): ``model.fetch_profile()`` once, before LangChain middleware reads
        ``model.profile``. Returns the profile, or ``None`` when nothing is known;
        a server that cannot be reached raises streamtap's typed errors
        (``ProviderConnectionError``, ``AuthenticationError``, ...) as a call would.
        """
        from streamtap.providers._server_profile import read_context_size

        try:
            context = read_context_size(self._sync_client(), self.model)
        except Exception as exc:
            raise self._map_error(exc) from exc
        return self._with_context(context)

    async def afetch_profile(self) -> ModelProfile | None:
        """Async twin of :meth:`fetch_profile`."""
        from streamtap.providers._server_profile import aread_context_size

        try:
            context = await aread_context_size(self._aclient(), self.model)
        except Exception as exc:
            raise self._map_error(exc) from exc
        return self._with_context(context)

    def _with_context(self, context: int | None) -> ModelProfile | None:
        if context is not None:
            profile: ModelProfile = dict(self.profile or {})  # type: ignore[assignment]
            profile["max_input_tokens"] = context
            self.profile = profile
        return self.profile

    @property
    def _llm_type(self) -> str:
        return f"streamtap-{self.provider_name}"

    @property
    def lc_secrets(self) -> dict[str, str]:
        preset = PRESETS.get(self.provider_name, PRESETS["openai-compatible"])
        return {"api_key": preset.key_env or "OPENAI_COMPATIBLE_API_KEY"}


class AnthropicCompatibleModel(AnthropicChatModel):
    """Anthropic Messages against a server that is not Anthropic (llama.cpp)."""

    requires_api_key = False
    api_key_env = ()
    base_url_env = ()
    profile_source = None

    @property
    def _llm_type(self) -> str:
        return f"streamtap-{self.provider_name}-anthropic"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "LLAMACPP_API_KEY"}

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        # llama.cpp closes the connection after a streamed /v1/messages answer although it
        # advertises keep-alive; a request sent on the pooled socket before the close
        # arrives fails with "Server disconnected". So: a new connection per request.
        kwargs = super()._client_kwargs(is_async=is_async)
        if "http_client" not in kwargs:
            import anthropic
            import httpx2

            limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=0)
            client_class = (
                anthropic.DefaultAsyncHttpxClient if is_async else anthropic.DefaultHttpxClient
            )
            kwargs["http_client"] = client_class(limits=limits)
        return kwargs


def _local_base_url(preset: Preset) -> str | None:
    """The running ``streamtap local start`` server's URL for this preset's wire, if any."""
    record = running_record()
    if record is None:
        return None
    origin = f"http://{record['host']}:{record['port']}"
    return origin if preset.wire == "anthropic" else f"{origin}/v1"


def chat_model(spec: str, **kwargs: Any) -> StreamtapChatModel:
    """A chat model from a ``"vendor:model"`` spec; swapping vendors is a one-string change.

    >>> chat_model("anthropic:claude-sonnet-4-6", temperature=0)  # doctest: +SKIP
    """
    vendor, sep, model = spec.partition(":")
    if not sep or not model:
        raise ValueError(
            f"model spec {spec!r} must look like 'vendor:model', e.g. 'openai:gpt-4o-mini'; "
            f"known vendors: {', '.join(KNOWN_PREFIXES)}"
        )
    if vendor in _VENDORS:
        return _VENDORS[vendor](model=model, **kwargs)
    if vendor in _EXTRA_VENDORS:
        return _extra_vendor(vendor)(model=model, **kwargs)
    preset = PRESETS.get(vendor)
    if preset is None:
        raise ValueError(
            f"unknown vendor prefix {vendor!r} in {spec!r}; known vendors: {', '.join(KNOWN_PREFIXES)}"
        )
    base_url = kwargs.pop("base_url", None)
    if base_url is None and preset.local:
        base_url = _local_base_url(preset)
    base_url = base_url or preset.base_url
    if base_url is None:
        raise ValueError(f"{vendor!r} needs base_url=, e.g. base_url='http://127.0.0.1:8000/v1'")
    if kwargs.get("api_key") is None and preset.key_env and (key := os.environ.get(preset.key_env)):
        kwargs["api_key"] = key
    if preset.requires_key and kwargs.get("api_key") is None:
        from streamtap.errors import AuthenticationError

        raise AuthenticationError(
            f"no API key: pass api_key= or set {preset.key_env}", provider=vendor, model=model
        )
    provider = preset.provider or vendor
    cls = AnthropicCompatibleModel if preset.wire == "anthropic" else OpenAICompatibleModel
    return cls(model=model, provider_name=provider, base_url=base_url, **kwargs)
