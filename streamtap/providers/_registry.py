"""Model specs (``"vendor:model"``) and the raw-stream entry point :func:`normalize`.

A preset is data, not code: a base URL, the environment variable holding the
key, and the wire format. Adding an OpenAI-compatible vendor is one line.

The ``llamacpp`` presets find the server ``streamtap local start`` runs: without
``base_url=`` they read its state file and use its port, and fall back to llama.cpp's
default port 8080 when none is running. ``llamacpp-anthropic`` talks to the same server
over the Anthropic Messages wire.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessageChunk

from streamtap._local_state import running_record
from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._chunks import ChunkMapper
from streamtap.providers._profiles import Continuation
from streamtap.providers._run import StreamRun, aiter_sse, as_dict, iter_sse
from streamtap.providers.anthropic import AnthropicChatModel, MessagesMapper
from streamtap.providers.openai_chat import ChatCompletionsMapper, OpenAIChatModel
from streamtap.providers.openai_responses import OpenAIResponsesModel, ResponsesMapper

if TYPE_CHECKING:
    from langchain_core.language_models.model_profile import ModelProfile

__all__ = ["PRESETS", "AnthropicCompatibleModel", "Preset", "anormalize", "chat_model", "normalize"]


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

_VENDORS: dict[str, type[StreamtapChatModel]] = {
    "openai": OpenAIChatModel,
    "openai-responses": OpenAIResponsesModel,
    "anthropic": AnthropicChatModel,
}

KNOWN_PREFIXES = (*_VENDORS, *PRESETS)


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
        return self.wire_continuation

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


# --------------------------------------------------------------------------- raw streams


def _mapper(provider: str) -> ChunkMapper:
    if provider == "openai-responses":
        return ResponsesMapper()
    if provider == "anthropic":
        return MessagesMapper()
    if provider == "openai":
        return ChatCompletionsMapper()
    if (preset := PRESETS.get(provider)) is not None:
        if preset.wire == "anthropic":
            return MessagesMapper(model_provider=preset.provider or provider)
        return ChatCompletionsMapper(model_provider=preset.provider or provider)
    raise ValueError(
        f"unknown provider {provider!r} for normalize(); use 'openai', 'openai-responses' "
        f"or 'anthropic' (or an OpenAI-compatible preset: {', '.join(PRESETS)})"
    )


def _is_sdk_stream(events: Any) -> bool:
    """A raw ``Stream`` / ``AsyncStream`` from ``create(stream=True)``: read its SSE directly."""
    return hasattr(events, "_iter_events") and hasattr(events, "response")


def normalize(
    provider: str, events: Iterable[Any], *, model: str | None = None
) -> Iterator[AIMessageChunk]:
    """Normalized chunks from a raw SDK stream (or its event objects, or their dicts).

    ``provider`` is ``"openai"``, ``"openai-responses"`` or ``"anthropic"``.
    A stream that fails or ends without its terminal event raises
    :class:`~streamtap.errors.StreamInterrupted` carrying the partial message.
    """
    run = StreamRun(_mapper(provider), model=model)
    raw = _is_sdk_stream(events)
    source: Iterable[Any] = (
        iter_sse(events, named_only=provider == "anthropic") if raw else map(as_dict, events)
    )
    try:
        yield from run.drive(source, strict=raw)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def anormalize(
    provider: str, events: AsyncIterable[Any], *, model: str | None = None
) -> AsyncGenerator[AIMessageChunk, None]:
    """Async twin of :func:`normalize` (``AsyncStream`` or any async iterable of events)."""
    run = StreamRun(_mapper(provider), model=model)
    raw = _is_sdk_stream(events)
    source = aiter_sse(events, named_only=provider == "anthropic") if raw else _adicts(events)
    try:
        async with aclosing(run.adrive(source, strict=raw)) as chunks:
            async for chunk in chunks:
                yield chunk
    finally:
        close = getattr(events, "close", None) or getattr(events, "aclose", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result


async def _adicts(events: AsyncIterable[Any]) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        yield as_dict(event)
