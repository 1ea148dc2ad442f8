"""``BedrockChatModel``: Bedrock's Converse stream through boto3 (sync) and aiobotocore (async).

boto3 does the HTTP, the SigV4 signing, the event-stream framing and the
decoding; this class only builds the request and hands the decoded event
dicts to :class:`~streamtap.providers.bedrock._events.ConverseMapper`.
aiobotocore's client is created inside the event loop (an async context
manager), so the async side keeps one per model and closes it in ``aclose()``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import BaseMessage
from pydantic import Field, SecretStr

from streamtap._log_mask import mask_client_logs, mask_loggers
from streamtap.errors import ProviderConnectionError
from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._masking import AWS_LC_SECRETS, remember_credentials
from streamtap.providers._profiles import Continuation, aws_profile, listed_unable, without
from streamtap.providers._wire import Wire
from streamtap.providers.bedrock._aclient import AsyncClient
from streamtap.providers.bedrock._deadline import HeadersLate, call_within
from streamtap.providers.bedrock._events import REQUEST_ID_KEY, WIRE, ConverseMapper
from streamtap.providers.bedrock._request import (
    NO_TOOLS,
    converse_tool,
    converse_tool_choice,
    has_tool_blocks,
    split_extra,
    to_converse_messages,
)

__all__ = ["BedrockChatModel", "BedrockStream"]

DEFAULT_MAX_TOKENS = 4096
_REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
#: The SDK stack's logging roots: botocore logs each request with its headers (the
#: session token in ``X-Amz-Security-Token``) and each response body at DEBUG.
_LOG_ROOTS = ("botocore", "aiobotocore", "boto3", "urllib3", "aiohttp")


def _mask_sdk_logs() -> None:
    """Put streamtap's secret mask on every logger of the SDK stack that exists now.

    A filter on a logger does not apply to its children's records, so each one is
    named; called again once the client exists, when the SDK's modules are imported.
    """
    import logging

    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.partition(".")[0] in _LOG_ROOTS
    ]
    mask_loggers(mask_client_logs(), (*_LOG_ROOTS, *names))


#: ``us.anthropic.claude-sonnet-4-6-v1:0``, ``anthropic.claude-3-5-sonnet-20241022-v2:0``,
#: an inference-profile ARN ending in one: the Claude model behind a Bedrock model id.
_CLAUDE = re.compile(r"(?:^|[./])anthropic\.(claude-[\w.-]+?)(?:-v\d+(?::\d+)?)?$")


_ACLIENT_LOCK = threading.Lock()

#: The request key carrying ``open(header_timeout=)`` to ``_create`` (never sent).
_HEADER_BUDGET = "streamtap_header_timeout"


def _seconds(timeout: Any) -> float | None:
    """A per-request timeout (``open()``'s ``httpx2.Timeout``, or seconds) as seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, (int, float)) else None


def claude_name(model_id: str) -> str | None:
    """The Anthropic model name behind a Bedrock model id (``claude-sonnet-4-6``), if any."""
    match = _CLAUDE.search(model_id)
    return match.group(1) if match else None


class BedrockStream:
    """One ConverseStream response: the SDK's ``EventStream`` and what came with it.

    ``response`` mimics the one attribute path streamtap's abort helper
    (``_wire_stream.abort_read``) follows to the socket, so a watchdog on another
    thread (``streamtap.resilient``'s timeouts) can wake a boto3 read blocked on a
    silent connection. aiobotocore's reads are awaited: cancelling the task stops them.
    """

    __slots__ = ("closed", "events", "request_id", "response")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.events: Any = raw["stream"]
        self.request_id: str | None = (raw.get("ResponseMetadata") or {}).get("RequestId")
        self.response: Any = _SocketHandle.of(self.events)
        self.closed = False


class _SocketHandle:
    """``response.extensions["network_stream"].get_extra_info("socket")``, over urllib3."""

    __slots__ = ("_sock", "extensions")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.extensions = {"network_stream": self}

    @classmethod
    def of(cls, events: Any) -> _SocketHandle | None:
        connection = getattr(getattr(events, "_raw_stream", None), "_connection", None)
        sock = getattr(connection, "sock", None)
        return cls(sock) if isinstance(sock, socket.socket) else None

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None


class BedrockChatModel(StreamtapChatModel):
    """Amazon Bedrock's Converse stream (``converse_stream``) through boto3 / aiobotocore.

    Credentials follow AWS's standard chain (environment, ``~/.aws``, SSO, instance
    roles) unless given here; ``endpoint_url`` (or ``base_url``) points the client at
    another endpoint (a VPC endpoint, a test server).
    """

    descriptor: ClassVar[Wire] = WIRE
    wire: ClassVar[str] = WIRE.name
    provider_name: str = "bedrock"
    requires_api_key: ClassVar[bool] = False
    #: A Bedrock API key (``api_key=``) is a bearer token; botocore reads this variable itself.
    api_key_env: ClassVar[tuple[str, ...]] = ("AWS_BEARER_TOKEN_BEDROCK",)
    profile_source: ClassVar[str | None] = "bedrock"
    sdk_modules: ClassVar[tuple[str, ...]] = ("boto3", "aiobotocore")

    region_name: str | None = None
    """AWS region; defaults to ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, then boto3's config."""
    endpoint_url: str | None = None
    """The bedrock-runtime endpoint; ``base_url=`` is accepted as its alias."""
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    profile_name: str | None = None
    """A profile of ``~/.aws/config`` (boto3's ``Session(profile_name=...)``)."""
    additional_model_request_fields: dict[str, Any] | None = Field(default=None)
    """Model-specific request fields (Anthropic's ``thinking``...), merged with ``model_kwargs``'."""

    def model_post_init(self, context: Any, /) -> None:
        if self.endpoint_url is None and self.base_url:
            self.endpoint_url = self.base_url
        elif self.endpoint_url and self.base_url is None:
            self.base_url = self.endpoint_url
        if self.region_name is None:
            self.region_name = next(
                (v for name in _REGION_ENV if (v := os.environ.get(name))), None
            )
        super().model_post_init(context)

    def _remember_credentials(self) -> None:
        """The secret key and session token (given, or boto3's from the environment) are
        masked everywhere: errors, logs, repr, callbacks' payloads."""
        super()._remember_credentials()
        given = (self.aws_secret_access_key, self.aws_session_token)
        secrets = [s.get_secret_value() for s in given if s is not None]
        secrets += [v for name in _SECRET_ENV if (v := os.environ.get(name))]
        for secret in secrets:
            remember_credentials(secret, None, None, None)
        _mask_sdk_logs()

    @property
    def _llm_type(self) -> str:
        return "streamtap-bedrock"

    # -- what the model can do -------------------------------------------------------
    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatBedrockConverse's: the table describes the vendors' own APIs; Converse hoists
        # every system message and takes tools only up front.
        return without(
            aws_profile(self.model), "mid_conversation_system_messages", "mid_conversation_tools"
        )

    def _wire_continuation(self) -> Continuation:
        """Converse continues a trailing assistant turn for Anthropic models (it passes the
        turn through as Anthropic's prefill); for other model families nothing says so."""
        return self.descriptor.continuation if claude_name(self.model) else "none"

    def continuation_style(self) -> Continuation:
        """As on Anthropic's own API: Claude 4.6 and later refuse a prefill (streamtap's data)."""
        name = claude_name(self.model)
        if self.continuation is None and name and listed_unable("anthropic", name):
            return "none"
        return super().continuation_style()

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``load()`` imports the class from here: ``streamtap.providers`` does not import
        the optional SDK extras' packages."""
        return ["streamtap", "providers", "bedrock"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return dict(AWS_LC_SECRETS)

    def _secret(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.aws_secret_access_key is not None:
            return self.aws_secret_access_key.get_secret_value()
        return os.environ.get("AWS_SECRET_ACCESS_KEY") or None

    # -- request ------------------------------------------------------------------
    def _new_mapper(self, stop: list[str] | None = None) -> ConverseMapper:
        return ConverseMapper(model_provider=self.provider_name, model=self.model)

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        system, turns = to_converse_messages(messages)
        kwargs.pop("response_format", None)  # structured output goes through tools here
        header_budget = _seconds(kwargs.pop("timeout", None))  # open(header_timeout=)
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        inference: dict[str, Any] = {"maxTokens": self.max_tokens or DEFAULT_MAX_TOKENS}
        if self.temperature is not None:
            inference["temperature"] = self.temperature
        if stop := (stop or self.stop):
            inference["stopSequences"] = stop
        request: dict[str, Any] = {"modelId": self.model, "messages": turns}
        if system:
            request["system"] = system
        model_fields: dict[str, Any] = dict(self.additional_model_request_fields or {})
        for extra in (self.model_kwargs, kwargs):
            top, more_inference, more_fields = split_extra(extra)
            inference.update(top.pop("inferenceConfig", None) or {})
            model_fields.update(top.pop("additionalModelRequestFields", None) or {})
            inference.update(more_inference)
            model_fields.update(more_fields)
            request.update(top)
        request["inferenceConfig"] = inference
        if model_fields:
            request["additionalModelRequestFields"] = model_fields
        if tools and tool_choice not in ("none", False):  # no "none" in Converse: withhold
            tool_config: dict[str, Any] = {"tools": [self._tool(t) for t in tools]}
            if (choice := self._tool_choice(tool_choice)) is not None:
                tool_config["toolChoice"] = choice
            request["toolConfig"] = tool_config
        if "toolConfig" not in request and has_tool_blocks(turns):
            request["toolConfig"] = {"tools": [NO_TOOLS]}
        if header_budget is not None:
            request[_HEADER_BUDGET] = header_budget
        return request

    def _tool(self, tool: Any) -> dict[str, Any]:
        return converse_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return converse_tool_choice(choice)

    # -- clients ------------------------------------------------------------------
    def _config(self) -> Any:
        from botocore.config import Config  # type: ignore[import-untyped]

        options: dict[str, Any] = {
            # max_retries counts retries; botocore counts attempts (the first included)
            "retries": {"total_max_attempts": self.max_retries + 1, "mode": "standard"},
        }
        if self.timeout is not None:
            options["read_timeout"] = self.timeout
            options["connect_timeout"] = self.timeout
        if self.api_key is not None:
            from botocore import UNSIGNED  # type: ignore[import-untyped]

            options["signature_version"] = UNSIGNED  # the bearer header replaces SigV4
        return Config(**options)

    def _add_bearer(self, client: Any) -> Any:
        """A Bedrock API key goes as ``Authorization: Bearer`` (what botocore does with
        ``AWS_BEARER_TOKEN_BEDROCK``, which it reads only from the environment)."""
        if self.api_key is not None:
            token = self.api_key.get_secret_value()

            def bearer(request: Any, **_: Any) -> None:
                request.headers["Authorization"] = f"Bearer {token}"

            client.meta.events.register_first("before-send.bedrock-runtime", bearer)
        return client

    def _session_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.aws_access_key_id:
            kwargs["aws_access_key_id"] = self.aws_access_key_id
        if self.aws_secret_access_key is not None:
            kwargs["aws_secret_access_key"] = self.aws_secret_access_key.get_secret_value()
        if self.aws_session_token is not None:
            kwargs["aws_session_token"] = self.aws_session_token.get_secret_value()
        return kwargs

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"config": self._config()}
        if self.region_name:
            kwargs["region_name"] = self.region_name
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return kwargs

    def _sync_client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]

            session = boto3.session.Session(
                profile_name=self.profile_name, **self._session_kwargs()
            )
            try:
                self._client = self._add_bearer(
                    session.client("bedrock-runtime", **self._client_kwargs(is_async=False))
                )
            except Exception as exc:
                raise self._map_error(exc) from exc
            _mask_sdk_logs()
        return self._client

    def _aclient(self) -> Any:
        if self._async_client is None:
            # Loops in several threads may ask at once: one AsyncClient must hold them all.
            with _ACLIENT_LOCK:
                if self._async_client is None:
                    from aiobotocore.session import AioSession  # type: ignore[import-untyped]

                    session = AioSession(profile=self.profile_name)
                    kwargs = {**self._client_kwargs(is_async=True), **self._session_kwargs()}
                    self._async_client = AsyncClient(
                        lambda: session.create_client("bedrock-runtime", **kwargs),
                        self._prepared_async,
                    )
        return self._async_client

    def _prepared_async(self, client: Any) -> Any:
        _mask_sdk_logs()  # aiobotocore's modules are imported now
        return self._add_bearer(client)

    def _body_read_timeout(self) -> float | None:
        return self.timeout if self.timeout is not None else 60.0  # botocore's default

    def close(self) -> None:
        """Close the boto3 client (its connection pool); the next call builds a new one."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close this loop's aiobotocore client (and its aiohttp session), then the sync one.

        Other loops' clients stay held, to close with their loops: dropping them here
        would let the garbage collector close them while those loops still stream."""
        if self._async_client is not None:
            await self._async_client.close()
        self.close()

    # -- the SDK call and its stream -------------------------------------------------
    def _create(self, client: Any, request: dict[str, Any]) -> BedrockStream:
        budget = request.pop(_HEADER_BUDGET, None)
        if budget is None:
            return BedrockStream(client.converse_stream(**request))
        try:
            return BedrockStream(call_within(budget, lambda: client.converse_stream(**request)))
        except HeadersLate as exc:
            raise self._timed_out(exc) from exc

    async def _acreate(self, client: Any, request: dict[str, Any]) -> BedrockStream:
        budget = request.pop(_HEADER_BUDGET, None)
        sdk = await client.get()
        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                return BedrockStream(await sdk.converse_stream(**request))
        except TimeoutError as exc:
            if not deadline.expired():  # aiohttp's own timeouts are TimeoutErrors too
                raise
            raise self._timed_out(HeadersLate(f"no response within {budget:.3g} s")) from exc

    def _timed_out(self, exc: HeadersLate) -> ProviderConnectionError:
        return ProviderConnectionError(
            f"the request timed out: {exc}", provider=self.provider_name, model=self.model
        )

    def _events(self, sdk_stream: Any) -> Iterator[dict[str, Any]]:
        return _iter_events(sdk_stream.events, sdk_stream.request_id)

    def _aevents(self, sdk_stream: Any) -> AsyncIterator[dict[str, Any]]:
        return _aiter_events(sdk_stream.events, sdk_stream.request_id)

    def _strict(self, sdk_stream: Any) -> bool:
        return True  # every frame is visible: a missing messageStop is a cut

    def _close_stream(self, sdk_stream: Any) -> None:
        if not sdk_stream.closed:
            sdk_stream.closed = True
            sdk_stream.events.close()

    async def _aclose_stream(self, sdk_stream: Any) -> None:
        # aiobotocore's EventStream.close() is botocore's: it closes the aiohttp
        # response (a sync call that releases the connection without awaiting).
        self._close_stream(sdk_stream)


def _streaming_error(exc: BaseException) -> BaseException:
    """An HTTP client's own mid-body error, wrapped as botocore wraps it in StreamingBody."""
    from botocore.exceptions import ResponseStreamingError  # type: ignore[import-untyped]

    wrapped: BaseException = ResponseStreamingError(error=exc)
    wrapped.__cause__ = exc
    return wrapped


def _is_transport(exc: BaseException) -> bool:
    top = type(exc).__module__.partition(".")[0]
    return top in ("urllib3", "aiohttp", "http") or isinstance(exc, (ConnectionError, TimeoutError))


def _tagged(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """``messageStart`` (a copy) carrying the response's request id, for the message id."""
    start = event.get("messageStart")
    if request_id and isinstance(start, dict):
        return {"messageStart": {**start, REQUEST_ID_KEY: request_id}}
    return event


def _iter_events(events: Any, request_id: str | None) -> Iterator[dict[str, Any]]:
    """The SDK's event dicts; an HTTP client's own mid-body error as botocore's."""
    try:
        for event in events:
            yield _tagged(event, request_id) if "messageStart" in event else event
    except Exception as exc:
        if _is_transport(exc):
            raise _streaming_error(exc) from exc
        raise


async def _aiter_events(events: Any, request_id: str | None) -> AsyncIterator[dict[str, Any]]:
    try:
        async for event in events:
            yield _tagged(event, request_id) if "messageStart" in event else event
    except Exception as exc:
        if _is_transport(exc):
            raise _streaming_error(exc) from exc
        raise
