"""``GeminiChatModel`` / ``VertexChatModel``: Gemini through the official ``google-genai`` SDK.

The SDK does the HTTP (its own URL building, auth headers, ADC token refresh,
retries) and the SSE framing; streamtap reads each event's JSON text straight
from the SDK's response reader and folds the decoded dict. The SDK's typed
``generate_content_stream`` would add a pydantic model per event and, worse,
re-encode every ``thoughtSignature`` in URL-safe base64 (``+/`` -> ``-_``) when
dumped: the raw path is both cheaper and byte-exact.

The SDK reader used (``BaseApiClient._build_request`` / ``_request(stream=True)``
/ ``HttpResponse._iter_response_stream``) is private; :func:`_sdk_hooks` checks it
is there and says so plainly when an SDK release moves it (a test pins it).

HTTP always goes through httpx2 clients handed to the SDK (the model's
``http_client`` / ``http_async_client`` or its own): with aiohttp installed the SDK
would otherwise pick aiohttp for async, so sync and async, respx and cassettes,
would not behave alike.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import BaseMessage
from pydantic import Field, PrivateAttr

from streamtap._compat import json_loads
from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._one_answer import refuse_several_answers
from streamtap.providers._profiles import known_profile
from streamtap.providers._wire import Wire
from streamtap.providers.gemini._events import WIRE, GeminiMapper
from streamtap.providers.gemini._request import (
    gemini_tool,
    gemini_tool_config,
    to_gemini_contents,
)

__all__ = ["GeminiChatModel", "VertexChatModel"]

#: Config fields that sit at the top of the request body, not in ``generationConfig``.
_TOP_LEVEL = frozenset(
    {
        "safetySettings",
        "cachedContent",
        "labels",
        "toolConfig",
        "tools",
        "systemInstruction",
        "modelArmorConfig",
        "serviceTier",
    }
)
#: Config fields whose value is a user's JSON schema: its keys are kept as written.
_VERBATIM = frozenset({"responseSchema", "responseJsonSchema", "labels", "responseJsonSchemaRaw"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(str(k)): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _merge_config(body: dict[str, Any], config: dict[str, Any]) -> None:
    """``model_kwargs`` / call kwargs (snake_case or camelCase) into the request body."""
    generation: dict[str, Any] = body.setdefault("generationConfig", {})
    for key, value in config.items():
        name = _camel(key)
        if name == "generationConfig" and isinstance(value, dict):
            for sub, subvalue in value.items():
                subname = _camel(sub)
                generation[subname] = subvalue if subname in _VERBATIM else _camel_keys(subvalue)
            continue
        converted = value if name in _VERBATIM else _camel_keys(value)
        if name in _TOP_LEVEL:
            body[name] = converted
        else:
            generation[name] = converted
    if not generation:
        body.pop("generationConfig")


def _model_path(model: str, *, vertex: bool) -> str:
    """The resource name the SDK itself would build (``t_model``), then the streaming method."""
    if vertex:
        if model.startswith(("projects/", "models/", "publishers/")):
            name = model
        elif "/" in model:
            publisher, model_id = model.split("/", 1)
            name = f"publishers/{publisher}/models/{model_id}"
        else:
            name = f"publishers/google/models/{model}"
    else:
        name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    return f"{name}:streamGenerateContent?alt=sse"


def _sdk_hooks(api_client: Any) -> Any:
    """The SDK's API client, checked for the request and reader hooks streamtap uses."""
    missing = [
        n for n in ("_build_request", "_request", "_async_request") if not hasattr(api_client, n)
    ]
    if missing:
        raise RuntimeError(
            "this google-genai release moved its request hooks "
            f"({', '.join(missing)}); streamtap supports google-genai 1.x-3.x: pin it or "
            "upgrade streamtap"
        )
    return api_client


class GeminiStream:
    """One streamed response: the SDK's reader and the httpx2 response behind it.

    ``response`` is what streamtap's seam reads (``abort()`` shuts its socket down,
    a header timeout restores its read timeout) and what every exit closes.
    """

    __slots__ = ("http", "response")

    def __init__(self, http: Any) -> None:
        self.http = http
        self.response = http.response_stream

    def close(self) -> None:
        close = getattr(self.response, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        aclose = getattr(self.response, "aclose", None)
        if aclose is not None:
            await aclose()


def _decoded(texts: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Each event's JSON text decoded; an undecodable one is fatal unless it ends the body.

    A body cut inside an event leaves the SDK's reader holding half a JSON text,
    which it hands over at the end: that is a cut, not bad JSON, and the mapper,
    having seen no ``finishReason``, reports the stream as interrupted.
    """
    held: ValueError | None = None
    for text in texts:
        if held is not None:
            raise held
        try:
            event = json_loads(text)
        except ValueError as exc:
            held = exc
            continue
        if isinstance(event, dict):
            yield event


async def _adecoded(texts: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    held: ValueError | None = None
    async for text in texts:
        if held is not None:
            raise held
        try:
            event = json_loads(text)
        except ValueError as exc:
            held = exc
            continue
        if isinstance(event, dict):
            yield event


class GeminiChatModel(StreamtapChatModel):
    """Gemini (Google AI Studio, ``generativelanguage.googleapis.com``) via ``google-genai``."""

    descriptor: ClassVar[Wire] = WIRE
    wire: ClassVar[str] = WIRE.name
    provider_name: str = "google_genai"
    api_key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env: ClassVar[tuple[str, ...]] = ("GOOGLE_GEMINI_BASE_URL",)
    sdk_modules: ClassVar[tuple[str, ...]] = ("google.genai",)
    profile_source: ClassVar[str | None] = "google_genai"
    #: Whether the SDK client speaks to Vertex AI.
    vertexai: ClassVar[bool] = False

    _own_http: list[Any] = PrivateAttr(default_factory=list)
    _own_ahttp: list[Any] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "streamtap-gemini"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        # Its own package: ``load()`` imports it there, the SDK being an optional extra.
        return ["streamtap", "providers", "gemini"]

    def _new_mapper(self, stop: list[str] | None = None) -> GeminiMapper:
        return GeminiMapper(model_provider=self.provider_name)

    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatGoogleGenerativeAI's lookup: no resource path ("models/"), no regional
        # prefix ("eu.gemini-..."), no "-001" version.
        name = self.model.lower().rsplit("/", 1)[-1]
        name = re.sub(r"^[a-z]{2,}\.(?=(?:gemini|gemma)-)", "", name)
        return known_profile(self._profile_source(), re.sub(r"-\d{3}$", "", name))

    # -- the request ------------------------------------------------------------------
    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        system, contents = to_gemini_contents(messages)
        body: dict[str, Any] = {"contents": contents}
        if system is not None:
            body["systemInstruction"] = system
        generation: dict[str, Any] = {}
        if self.temperature is not None:
            generation["temperature"] = self.temperature
        if self.max_tokens is not None:
            generation["maxOutputTokens"] = self.max_tokens
        if stop := (stop or self.stop):
            generation["stopSequences"] = list(stop)
        if generation:
            body["generationConfig"] = generation
        tools = kwargs.pop("tools", None)
        if tools:
            declared = [gemini_tool(t) for t in tools]
            functions = [d for d in declared if "name" in d and len(d) <= 3]
            others = [d for d in declared if not ("name" in d and len(d) <= 3)]
            body["tools"] = ([{"functionDeclarations": functions}] if functions else []) + others
        if (choice := kwargs.pop("tool_choice", None)) is not None:
            body["toolConfig"] = gemini_tool_config(choice)
        kwargs.pop("response_format", None)  # structured output goes through tools here
        kwargs.pop("ls_structured_output_format", None)
        timeout = kwargs.pop("timeout", None)
        _merge_config(body, {**self.model_kwargs, **kwargs})
        refuse_several_answers(
            "candidateCount", body.get("generationConfig", {}).get("candidateCount")
        )
        http_options: dict[str, Any] | None = None
        if timeout is not None:
            http_options = {"timeout": _timeout_ms(timeout)}
        return {"model": self.model, "body": body, "http_options": http_options}

    def _tool(self, tool: Any) -> dict[str, Any]:
        return gemini_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return gemini_tool_config(choice)

    # -- the SDK client ---------------------------------------------------------------
    def _http_options(self) -> Any:
        from google.genai import types

        options: dict[str, Any] = {}
        if self.base_url:
            options["base_url"] = self.base_url
        if self.timeout is not None:
            options["timeout"] = _timeout_ms(self.timeout)
        if self.default_headers:
            options["headers"] = dict(self.default_headers)
        if self.max_retries > 0:
            options["retry_options"] = types.HttpRetryOptions(attempts=self.max_retries + 1)
        options["httpx_client"] = self.http_client or self._new_http(is_async=False)
        options["httpx_async_client"] = self.http_async_client or self._new_http(is_async=True)
        return types.HttpOptions(**options)

    def _new_http(self, *, is_async: bool) -> Any:
        import httpx2

        if is_async:
            client: Any = httpx2.AsyncClient(timeout=None)
            self._own_ahttp.append(client)
        else:
            client = httpx2.Client(timeout=None)
            self._own_http.append(client)
        return client

    def _genai_kwargs(self) -> dict[str, Any]:
        key = self._secret()
        if key is None:
            from streamtap.errors import AuthenticationError

            raise AuthenticationError(
                f"no API key: pass api_key= or set {' or '.join(self.api_key_env)}",
                provider=self.provider_name,
                model=self.model,
            )
        return {"api_key": key}

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        kwargs = self._genai_kwargs()
        kwargs["http_options"] = self._http_options()
        return kwargs

    def _client_class(self, *, is_async: bool) -> Any:
        from google import genai

        return genai.Client

    def _sync_client(self) -> Any:
        # One SDK client serves both (its ``.aio`` side uses the async httpx2 client).
        if self._client is None:
            self._client = self._client_class(is_async=False)(**self._client_kwargs(is_async=False))
        return self._client

    def _aclient(self) -> Any:
        return self._sync_client()

    def _body_read_timeout(self) -> float | None:
        return self.timeout

    def fresh_copy(self, **update: Any) -> Any:
        """A copy building its own SDK and httpx2 clients (none shared, none closed by the other)."""
        copy = super().fresh_copy(**update)
        copy._own_http = []
        copy._own_ahttp = []
        return copy

    def close(self) -> None:
        """Drop the SDK client and close the httpx2 clients this model created
        (``http_client=`` ones are yours and stay open)."""
        self._client = None
        self._async_client = None
        owned, self._own_http = self._own_http, []
        for client in owned:
            client.close()

    async def aclose(self) -> None:
        owned, self._own_ahttp = self._own_ahttp, []
        for client in owned:
            await client.aclose()
        self.close()

    # -- streaming -------------------------------------------------------------------
    def _prepare(self, client: Any, request: dict[str, Any]) -> tuple[Any, Any, Any]:
        api = _sdk_hooks(client._api_client)
        path = _model_path(request["model"], vertex=bool(api.vertexai))
        options = request.get("http_options")
        return api, api._build_request("post", path, dict(request["body"]), options), options

    def _create(self, client: Any, request: dict[str, Any]) -> GeminiStream:
        api, http_request, options = self._prepare(client, request)
        return GeminiStream(api._request(http_request, options, stream=True))

    async def _acreate(self, client: Any, request: dict[str, Any]) -> GeminiStream:
        api, http_request, options = self._prepare(client, request)
        http = await api._async_request(
            http_request=http_request, http_options=options, stream=True
        )
        return GeminiStream(http)

    def _events(self, sdk_stream: Any) -> Iterator[dict[str, Any]]:
        return _decoded(sdk_stream.http._iter_response_stream())

    def _aevents(self, sdk_stream: Any) -> AsyncIterator[dict[str, Any]]:
        return _adecoded(sdk_stream.http._aiter_response_stream())

    def _strict(self, sdk_stream: Any) -> bool:
        return True

    def _close_stream(self, sdk_stream: Any) -> None:
        sdk_stream.close()

    async def _aclose_stream(self, sdk_stream: Any) -> None:
        await sdk_stream.aclose()


def _timeout_ms(timeout: Any) -> int:
    """Seconds (or an httpx Timeout) -> the SDK's ``HttpOptions.timeout``, in milliseconds."""
    for field in ("read", "connect", "pool", "write"):
        value = getattr(timeout, field, None)
        if isinstance(value, (int, float)):
            timeout = value
            break
    return max(int(float(timeout) * 1000), 1)


class VertexChatModel(GeminiChatModel):
    """Gemini on Vertex AI via ``google-genai`` (``vertexai=True``).

    Authenticates with Application Default Credentials (or ``credentials=``);
    ``project`` / ``location`` default to ``GOOGLE_CLOUD_PROJECT`` /
    ``GOOGLE_CLOUD_LOCATION``. An ``api_key`` selects Vertex express mode instead.
    """

    provider_name: str = "google_vertexai"
    api_key_env: ClassVar[tuple[str, ...]] = ()
    base_url_env: ClassVar[tuple[str, ...]] = ()
    requires_api_key: ClassVar[bool] = False
    profile_source: ClassVar[str | None] = "google_vertexai"
    vertexai: ClassVar[bool] = True

    project: str | None = None
    """Google Cloud project (``GOOGLE_CLOUD_PROJECT``)."""
    location: str | None = None
    """Vertex AI region, e.g. ``us-central1`` or ``global`` (``GOOGLE_CLOUD_LOCATION``)."""
    credentials: Any = Field(default=None, exclude=True, repr=False)
    """``google.auth`` credentials; None uses Application Default Credentials."""

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if self.project is None:
            self.project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        if self.location is None:
            self.location = os.environ.get("GOOGLE_CLOUD_LOCATION") or None

    @property
    def _llm_type(self) -> str:
        return "streamtap-vertex"

    @property
    def lc_secrets(self) -> dict[str, str]:
        # Vertex express mode's key; ADC credentials are never serialized (excluded).
        return {"api_key": "GOOGLE_API_KEY"}

    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatVertexAI's lookup: no "models/" path, no "-001" version.
        name = re.sub(r"-\d{3}$", "", self.model.replace("models/", ""))
        return known_profile(self._profile_source(), name)

    def _genai_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"vertexai": True}
        key = self._secret()
        if key is not None:  # express mode: a key instead of a project
            kwargs["api_key"] = key
            return kwargs
        if self.project is not None:
            kwargs["project"] = self.project
        if self.location is not None:
            kwargs["location"] = self.location
        if self.credentials is not None:
            kwargs["credentials"] = self.credentials
        return kwargs

    async def _aprepare(self) -> None:
        # Without a project, genai.Client's constructor looks it up in Application Default
        # Credentials, which can reach the metadata server: built off the event loop.
        if self._client is None and self._secret() is None and self.project is None:
            await asyncio.to_thread(self._sync_client)

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        try:
            return super()._client_kwargs(is_async=is_async)
        except Exception as exc:
            raise self._map_error(exc) from exc

    def _sync_client(self) -> Any:
        if self._client is None:
            from google import genai

            kwargs = self._client_kwargs(is_async=False)
            try:
                self._client = genai.Client(**kwargs)
            except Exception as exc:  # no ADC, no project: say so as streamtap errors do
                raise self._map_error(exc) from exc
        return self._client
