"""The chat-model shell shared by every vendor: configuration, clients, the stream loop.

A vendor subclass supplies four things: its mapping (``_new_mapper``), its
request body (``_request``), the SDK call (``_create`` / ``_acreate``) and its
client class. Everything else — reading the SDK's decoded events, error
translation, closing the HTTP response whatever happens — lives here once.
Every model implements the chunk-source seam (``streamtap.providers.ChunkSource``,
``_source.py``): :meth:`StreamtapChatModel.open` is what resilience drives.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import aclosing, closing
from typing import Any, ClassVar, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessageChunk, BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_serializer

from streamtap.errors import from_sdk_error
from streamtap.providers._blocks import ensure_translator
from streamtap.providers._chunks import ChunkMapper, generation_chunk
from streamtap.providers._dispatch import (
    InvokeStreamsToCallbacks,
    async_token_sinks,
    invoke_fires_tokens,
    signed,
)
from streamtap.providers._masking import masked_text, redact_params, remember_credentials
from streamtap.providers._profiles import Continuation, known_profile, listed_unable, refused
from streamtap.providers._protocol_events import EmitsProtocolEvents
from streamtap.providers._source import BindsTools
from streamtap.providers._wire import Wire
from streamtap.providers._wire_stream import (
    SdkChunkStream,
    WireStream,
    aiter_sse,
    has_raw_events,
    iter_sse,
    request_timeout,
)

__all__ = ["StreamtapChatModel"]


class StreamtapChatModel(InvokeStreamsToCallbacks, EmitsProtocolEvents, BindsTools, BaseChatModel):
    """Base class of streamtap's chat models (one subclass per wire format)."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    #: The wire format's facts (``streamtap.providers.WIRES``); set by each subclass.
    descriptor: ClassVar[Wire]
    #: Wire format: "openai", "openai-responses" or "anthropic" (``descriptor.name``).
    wire: ClassVar[str] = ""
    api_key_env: ClassVar[tuple[str, ...]] = ()
    base_url_env: ClassVar[tuple[str, ...]] = ()
    #: Whether the server expects a key at all (local servers do not).
    requires_api_key: ClassVar[bool] = True
    #: Where ``profile`` comes from (a file in ``providers/data/profiles``), if anywhere.
    profile_source: ClassVar[str | None] = None

    model: str = Field(alias="model_name")
    """Model name sent to the vendor."""
    provider_name: str = ""
    """Reported as ``ls_provider`` and ``response_metadata["model_provider"]``."""
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int = 2
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request-body parameters, sent as given."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request. Those whose name says credential (``Authorization``,
    ``api-key``, ``X-Auth-Key``, ``X-Amz-Security-Token``...) and those in ``secret_headers``
    are masked in errors, ``repr``, ``model_dump()``, callbacks' payloads and logs."""
    secret_headers: list[str] | None = None
    """More header names to treat as credentials, beyond those whose name says so."""
    streaming: bool = False
    """Make ``invoke`` stream (and fire token callbacks) even without a streaming handler."""
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx2.Client`` for the SDK (tests, proxies, cassettes)."""
    http_async_client: Any = Field(default=None, exclude=True)
    continuation: Continuation | None = None
    """How a partial answer is continued after a mid-stream failure (``resilient``'s
    ``recovery="continue"``); ``None`` reads streamtap's model data and the wire."""

    _client: Any = PrivateAttr(default=None)
    _async_client: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        # Messages this model made may be read (content_blocks) before it streams,
        # e.g. from a checkpoint: wrap the translator as soon as the model exists.
        ensure_translator(self.provider_name)
        if self.api_key is None:
            for name in self.api_key_env:
                if value := os.environ.get(name):
                    self.api_key = SecretStr(value)
                    break
        if self.base_url is None:
            for name in self.base_url_env:
                if value := os.environ.get(name):
                    self.base_url = value
                    break
        self._remember_credentials()

    def _remember_credentials(self) -> None:
        """Make this model's credentials known to streamtap's one detector, so errors,
        logs, cassettes and callbacks mask them even where they have no vendor shape."""
        remember_credentials(
            self._secret(), self.default_headers, self.secret_headers, self.base_url
        )

    # -- what leaves the model: repr, model_dump, dict(), callbacks' payloads -----
    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_params({name: value}).get(name, value) if name else value

    @model_serializer(mode="wrap")
    def _serialize_masked(self, handler: Any) -> Any:
        data = handler(self)
        return redact_params(data) if isinstance(data, dict) else data

    def to_json(self) -> Any:
        """LangChain's serialized form (``dumpd``; the ``serialized`` payload every callback
        handler receives) with credentials masked: secret headers and URL passwords."""
        data = super().to_json()
        kwargs = data.get("kwargs") if isinstance(data, dict) else None
        if isinstance(kwargs, dict):
            data["kwargs"] = redact_params(kwargs)  # type: ignore[typeddict-unknown-key]
        return data

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        if type(self).dict is not BaseChatModel.dict:  # a deprecated override: honour it
            return redact_params(super()._get_invocation_params(stop=stop, **kwargs))
        # langchain-core's own, minus its deprecation-warning machinery (~15 µs a call)
        return redact_params({**self.asdict(), "stop": stop, **kwargs})

    # -- what the model can do ------------------------------------------------------
    def _profile_source(self) -> str | None:
        return self.profile_source

    def _resolve_model_profile(self) -> ModelProfile | None:
        return known_profile(self._profile_source(), self.model)

    def _wire_continuation(self) -> Continuation:
        return self.descriptor.continuation

    @property
    def prefill_trailing_whitespace(self) -> bool:
        """Whether a continued assistant turn may end in whitespace on this wire."""
        return self.descriptor.prefill_trailing_whitespace

    @property
    def prefill_after_reasoning(self) -> bool:
        """Whether a continued assistant turn may follow reasoning blocks on this wire."""
        return self.descriptor.prefill_after_reasoning

    def continuation_key(self) -> tuple[str, ...]:
        """Who a learned refusal is remembered for: this model on this server."""
        return (self.wire, self.provider_name, self.base_url or "", self.model)

    def continuation_style(self) -> Continuation:
        """How this model continues a partial answer, ``"none"`` when it cannot.

        An explicit ``continuation=`` wins over streamtap's data, which wins over
        the wire's default; a refusal the server gave in this process wins over all.
        """
        if self.continuation is not None:
            style = self.continuation
        elif listed_unable(self._profile_source(), self.model):
            style = "none"
        else:
            style = self._wire_continuation()
        if style != "none" and refused(self.continuation_key()):
            return "none"
        return style

    # -- serialization (dumpd / load) ---------------------------------------------
    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["streamtap", "providers"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": self.api_key_env[0]} if self.api_key_env else {}

    #: Top-level modules of the SDK this model needs beyond the core install.
    sdk_modules: ClassVar[tuple[str, ...]] = ()

    # -- to implement -----------------------------------------------------------
    def _new_mapper(self, stop: list[str] | None = None) -> ChunkMapper:  # pragma: no cover
        raise NotImplementedError

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _create(self, client: Any, request: dict[str, Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def _acreate(self, client: Any, request: dict[str, Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def _aprepare(self) -> None:
        """Blocking set-up the async client needs before it can be built (a credential
        lookup that may go over the network), done off the event loop; none by default."""

    def _client_class(self, *, is_async: bool) -> Callable[..., Any]:
        import openai

        return openai.AsyncOpenAI if is_async else openai.OpenAI

    # -- reading the SDK's stream: SSE-speaking SDKs (openai, anthropic) share these;
    # an SDK that frames its stream otherwise (google-genai, boto3) overrides them.
    def _events(self, sdk_stream: Any) -> Iterator[dict[str, Any] | Any]:
        """The wire events of ``sdk_stream`` as decoded dicts (or ``DONE``), in order."""
        return iter_sse(sdk_stream, named_only=self.descriptor.named_events_only)

    def _aevents(self, sdk_stream: Any) -> AsyncIterator[dict[str, Any] | Any]:
        """Async twin of :meth:`_events`."""
        return aiter_sse(sdk_stream, named_only=self.descriptor.named_events_only)

    def _strict(self, sdk_stream: Any) -> bool:
        """Whether the stream's own terminal event is visible (so its absence is a cut)."""
        return has_raw_events(sdk_stream)

    def _close_stream(self, sdk_stream: Any) -> None:
        """Release the response behind ``sdk_stream`` (every exit path calls this)."""
        sdk_stream.close()

    async def _aclose_stream(self, sdk_stream: Any) -> None:
        await sdk_stream.close()

    def _tool(self, tool: Any) -> dict[str, Any]:  # pragma: no cover
        """One tool (pydantic class, function, BaseTool, dict) in the vendor's format."""
        raise NotImplementedError

    def _tool_choice(self, choice: Any) -> Any:  # pragma: no cover
        """``"auto"`` / ``"any"`` / ``"none"`` / a tool name, in the vendor's format."""
        raise NotImplementedError

    def _finish_request(self, request: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The request fields every vendor spells alike, then model_kwargs and call kwargs."""
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if tools := kwargs.pop("tools", None):
            request["tools"] = [self._tool(t) for t in tools]
        if (tool_choice := kwargs.pop("tool_choice", None)) is not None:
            request["tool_choice"] = self._tool_choice(tool_choice)
        request.update(self.model_kwargs)
        request.update(kwargs)
        return request

    # -- clients -----------------------------------------------------------------
    def _credential_kwargs(self) -> dict[str, Any]:
        """How the SDK client authenticates: the API key (overridden where a vendor has
        other ways, such as Entra ID tokens on Azure)."""
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        if key is None:
            if self.requires_api_key:
                from streamtap.errors import AuthenticationError

                env = " or ".join(self.api_key_env) or "the provider's key variable"
                raise AuthenticationError(
                    f"no API key: pass api_key= or set {env}",
                    provider=self.provider_name,
                    model=self.model,
                )
            key = "not-needed"  # local servers ignore it; the SDK insists on one
        return {"api_key": key}

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {**self._credential_kwargs(), "max_retries": self.max_retries}
        if self.base_url:
            kwargs["base_url"] = self.base_url
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if self.default_headers:
            kwargs["default_headers"] = self.default_headers
        http_client = self.http_async_client if is_async else self.http_client
        if http_client is not None:
            kwargs["http_client"] = http_client
        return kwargs

    def _sync_client(self) -> Any:
        if self._client is None:
            self._client = self._client_class(is_async=False)(**self._client_kwargs(is_async=False))
        return self._client

    def _aclient(self) -> Any:
        if self._async_client is None:
            self._async_client = self._client_class(is_async=True)(
                **self._client_kwargs(is_async=True)
            )
        return self._async_client

    def _body_read_timeout(self) -> float | None:
        """The body read timeout this model's SDK client uses by itself."""
        import httpx2

        try:
            timeout = self._sync_client().timeout
        except Exception:  # no key: the request itself will say so
            return None
        if isinstance(timeout, httpx2.Timeout):
            return timeout.read
        return float(timeout) if isinstance(timeout, (int, float)) else None

    # -- copies and lifecycle -------------------------------------------------------
    def fresh_copy(self, **update: Any) -> Self:
        """A copy with ``update`` applied that builds its own SDK clients (none shared).

        HTTP clients you passed in (``http_client=``) are shared: they are yours.
        """
        copy = self.model_copy(update=update)
        copy._client = None
        copy._async_client = None
        return copy

    def without_retries(self) -> Self:
        """A fresh copy whose SDK never retries on its own (``max_retries=0``).

        ``streamtap.resilient`` takes its models this way, so one policy decides.
        """
        return self.fresh_copy(max_retries=0)

    def close(self) -> None:
        """Close the sync SDK client (and its pooled connections) this model created.

        HTTP clients you passed in (``http_client=``) are yours and stay open. The
        model stays usable: the next request builds a new client.
        """
        client, self._client = self._client, None
        if client is not None and self.http_client is None:
            client.close()

    async def aclose(self) -> None:
        """Close the async SDK client, then the sync one (see :meth:`close`)."""
        client, self._async_client = self._async_client, None
        if client is not None and self.http_async_client is None:
            await client.close()
        self.close()

    def _messages(self, value: LanguageModelInput) -> list[BaseMessage]:
        if isinstance(value, list) and all(isinstance(m, BaseMessage) for m in value):
            return value
        return self._convert_input(value).to_messages()

    def _secret(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def _map_error(self, exc: Exception) -> BaseException:
        mapped = from_sdk_error(
            exc, provider=self.provider_name, model=self.model, api_key=self._secret()
        )
        return exc if mapped is None else mapped

    def _new_run(self, stop: list[str] | None = None) -> WireStream:
        default = type(self).model_fields["provider_name"].default
        label = self.wire if self.provider_name == default else self.provider_name
        return WireStream(
            self._new_mapper(stop),
            model=self.model,
            api_key=self._secret(),
            provider=label,
            terminal=self.descriptor.terminal,
        )

    # -- the chunk-source seam ----------------------------------------------------------
    def open(
        self,
        messages: Sequence[BaseMessage],
        *,
        stop: list[str] | None = None,
        header_timeout: float | None = None,
        **kwargs: Any,
    ) -> SdkChunkStream:
        """A :class:`~streamtap.providers.ChunkStream` for ``messages``; sent when first iterated.

        ``header_timeout`` bounds connecting, sending and the wait for the response
        headers (a per-request SDK timeout); once they are in, the body's read
        timeout is the model's own again. ``abort()`` shuts the response's socket
        down, which wakes a read blocked in another thread.
        """
        msgs = list(messages)
        read_timeout: tuple[float | None] | None = None
        if header_timeout is not None:
            kwargs = {**kwargs, "timeout": request_timeout(header_timeout)}
            read_timeout = (self._body_read_timeout(),)

        def start(run: WireStream) -> Generator[AIMessageChunk, None, None]:
            return self.stream_chunks(msgs, stop=stop, run=run, **kwargs)

        def astart(run: WireStream) -> AsyncGenerator[AIMessageChunk, None]:
            return self.astream_chunks(msgs, stop=stop, run=run, **kwargs)

        return SdkChunkStream(self._new_run(stop), start, astart, read_timeout=read_timeout)

    # -- streaming -----------------------------------------------------------------
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with closing(self.stream_chunks(messages, stop=stop, **kwargs)) as chunks:
            for chunk in chunks:
                yield generation_chunk(chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # langchain-core does not close _astream when its consumer stops; the event
        # loop finalizes it on the next tick, and aclosing() carries that close
        # straight through to the HTTP response.
        async with aclosing(self.astream_chunks(messages, stop=stop, **kwargs)) as chunks:
            async for chunk in chunks:
                yield generation_chunk(chunk)

    def _event_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Generator[AIMessageChunk, None, None]:
        return self.stream_chunks(messages, stop=stop, **kwargs)  # stream_events(version="v3")

    def _aevent_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[AIMessageChunk, None]:
        return self.astream_chunks(messages, stop=stop, **kwargs)

    def stream_chunks(
        self,
        messages: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        run: WireStream | None = None,
        **kwargs: Any,
    ) -> Generator[AIMessageChunk, None, None]:
        """Normalized chunks for ``messages``, without langchain-core's callback layer.

        The SDK response is closed on every exit: completion, error, or the
        consumer closing the generator early. Pass ``run`` to read the
        accumulated message afterwards.
        """
        request = self._request(self._messages(messages), stop, **kwargs)
        try:
            sdk_stream = self._create(self._sync_client(), request)
        except Exception as exc:
            raise self._map_error(exc) from exc
        run = run or self._new_run(stop)
        try:
            run.opened(sdk_stream)
            yield from run.fold(self._events(sdk_stream), strict=self._strict(sdk_stream))
        finally:
            self._close_stream(sdk_stream)

    async def astream_chunks(
        self,
        messages: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        run: WireStream | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[AIMessageChunk, None]:
        """Async twin of :meth:`stream_chunks`."""
        request = self._request(self._messages(messages), stop, **kwargs)
        try:
            await self._aprepare()
            sdk_stream = await self._acreate(self._aclient(), request)
        except Exception as exc:
            raise self._map_error(exc) from exc
        run = run or self._new_run(stop)
        try:
            run.opened(sdk_stream)
            source = self._aevents(sdk_stream)
            async with aclosing(run.afold(source, strict=self._strict(sdk_stream))) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await self._aclose_stream(sdk_stream)

    # -- non-streaming calls stream too: one code path, the same message ------------
    @signed
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._new_run(stop)
        fire = invoke_fires_tokens(self, run_manager, kwargs)
        with closing(self.stream_chunks(messages, stop=stop, run=run, **kwargs)) as chunks:
            for chunk in chunks:
                if fire:
                    run_manager.on_llm_new_token(chunk.content, chunk=generation_chunk(chunk))  # type: ignore[union-attr, arg-type]
        return _result(run)

    @signed
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._new_run(stop)
        sink, slow = async_token_sinks(self, run_manager, kwargs)
        async with aclosing(self.astream_chunks(messages, stop=stop, run=run, **kwargs)) as chunks:
            async for chunk in chunks:
                if sink is not None:
                    sink(chunk)
                elif slow is not None:
                    await slow.on_llm_new_token(chunk.content, chunk=generation_chunk(chunk))  # type: ignore[arg-type]
        return _result(run)

    # -- LangChain surface ------------------------------------------------------------
    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider_name,
            "base_url": masked_text(self.base_url) if self.base_url else self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=self.provider_name,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop := stop or self.stop:
            params["ls_stop"] = stop
        return params

    def with_transforms(self, *transforms: Any) -> BaseChatModel:
        """This model with chunk transforms (``streamtap.middleware.coalesce``, ``redact``...) applied.

        The transforms wrap the model themselves (``Transform.wrap_model``): the
        transform layer sits above the providers, which never import it.
        """
        if not transforms:
            return self  # nothing to apply
        if not all(callable(getattr(t, "wrap_model", None)) for t in transforms):
            raise TypeError(
                "with_transforms() takes streamtap.middleware transforms "
                "(coalesce(), redact(), on_chunk(), or a | b of them)"
            )
        combined = transforms[0]
        for more in transforms[1:]:
            combined = combined | more
        wrapped: BaseChatModel = combined.wrap_model(self)
        return wrapped


def _result(run: WireStream) -> ChatResult:
    chunk = run.acc.message()
    message = message_chunk_to_message(chunk if chunk is not None else AIMessageChunk(content=""))
    return ChatResult(generations=[ChatGeneration(message=message)])
