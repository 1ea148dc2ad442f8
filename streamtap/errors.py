"""One small exception hierarchy for every vendor.

The official SDKs raise different classes for the same failure (an Anthropic
in-stream overload is a bare ``APIStatusError`` with status 200, an Anthropic
connection reset is a raw ``httpx2.RemoteProtocolError``, an OpenAI in-stream
error is a plain ``APIError``). Callers should not need to know that, so every
failure is mapped once, here, to a ``StreamtapError`` that names the provider
and model, says what to do, never contains a credential, and keeps the SDK
exception as ``__cause__``. What counts as a credential is decided in one place,
``streamtap._secrets`` (``redact_secrets`` is re-exported here).
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from streamtap._secrets import redact_headers, redact_secrets

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ContextLengthError",
    "OverloadedError",
    "ProtocolViolation",
    "ProviderConnectionError",
    "RateLimitError",
    "ServerError",
    "StreamInterrupted",
    "StreamTimeout",
    "StreamtapError",
    "from_sdk_error",
    "from_stream_error",
    "raw_causes",
    "redact_secrets",
    "register_sdk_errors",
]


class StreamtapError(Exception):
    """Base class: every error streamtap raises on purpose derives from it."""

    #: What the user can do about it; appended to the message.
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        #: Seconds the server asked the client to wait (``Retry-After`` and kin), if it said.
        self.retry_after = retry_after
        self.model = model
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id
        self.detail = redact_secrets(message)
        super().__init__(self._render())

    def _render(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        parts = [f"{where}: {self.detail}" if where else self.detail]
        if self.status_code:
            parts.append(f"(HTTP {self.status_code})")
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        if self.hint:
            parts.append(f"— {self.hint}")
        return " ".join(parts)


class RateLimitError(StreamtapError):
    """HTTP 429: too many requests or tokens for the account's limits."""

    hint = "slow down or retry after `retry_after` seconds (streamtap.resilient retries for you)"


class OverloadedError(StreamtapError):
    """The vendor is overloaded (HTTP 529, or an in-stream ``overloaded_error``)."""

    hint = "transient: retry with backoff or fall back to another model"


class ServerError(StreamtapError):
    """HTTP 5xx or an in-stream server error."""

    hint = "transient: retry with backoff or fall back to another model"


class AuthenticationError(StreamtapError):
    """HTTP 401/403: the key is missing, wrong or lacks permission."""

    hint = "check the API key (api_key= or the provider's environment variable)"


class BadRequestError(StreamtapError):
    """HTTP 4xx other than auth and rate limits: the request itself is wrong."""

    hint = "fix the request (model name, parameters, message format); retrying will not help"


class ContextLengthError(BadRequestError):
    """The prompt does not fit in the model's context window."""

    hint = "shorten the conversation or pick a model with a larger context window"


class ProviderConnectionError(StreamtapError):
    """The connection failed or closed before the stream completed."""

    hint = "check the network or base_url; transient failures can be retried"


class StreamInterrupted(StreamtapError):
    """A stream that had started ended abnormally.

    ``partial`` is everything received so far (text, tool calls, usage), so
    nothing the user already saw is lost; ``__cause__`` is the underlying error.
    """

    hint = "`.partial` holds what was received; retry, or continue from it"

    def __init__(self, message: str, *, partial: AIMessageChunk | None, **kw: Any) -> None:
        self.partial = partial
        super().__init__(message, **kw)


class ProtocolViolation(StreamInterrupted):
    """The stream broke its wire format's rules, so it was ended rather than guessed at.

    A delta for a content block that never started, a delta whose type does not
    fit its block (Anthropic ``text_delta`` to a ``tool_use`` block), a body whose
    events lack the ``event:`` names the wire needs. ``event`` names the offending
    event (``"content_block_delta"``); ``.partial`` holds what came before it.
    """

    hint = "a proxy or compatible server is mangling the stream; `.partial` holds what came before"

    def __init__(
        self, message: str, *, event: str | None, partial: AIMessageChunk | None, **kw: Any
    ) -> None:
        #: The wire event that broke the rules (its ``type``), if there was one.
        self.event = event
        super().__init__(message, partial=partial, **kw)


class StreamTimeout(StreamtapError):
    """A first-token, idle or total timeout ended the call."""

    hint = "raise the timeout or retry; `.partial` holds what arrived before it fired"

    def __init__(self, message: str, *, partial: AIMessageChunk | None = None, **kw: Any) -> None:
        self.partial = partial
        super().__init__(message, **kw)


# --------------------------------------------------------------------------- mapping

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "prompt is too long",
    "maximum context length",
    "context window",
    "too many tokens",
    "input is too long",  # Bedrock
    "exceeds the maximum number of tokens",  # Gemini
)


def _is_context_error(code: str | None, message: str) -> bool:
    text = f"{code or ''} {message}".lower()
    return any(marker in text for marker in _CONTEXT_MARKERS)


def _parse_duration(value: str) -> float | None:
    """Parse OpenAI reset durations such as ``6.57s``, ``120ms``, ``1m30s``."""
    total = 0.0
    matched = False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value):
        matched = True
        total += float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    return total if matched else None


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` or rate-limit reset headers."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if (ms := lower.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    if (ra := lower.get("retry-after")) is not None:
        try:
            return max(float(ra), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(ra) if ra else None
            if parsed is not None:
                return max(parsed.timestamp() - time.time(), 0.0)
    resets = [
        d
        for k, v in lower.items()
        if k.startswith("x-ratelimit-reset") and (d := _parse_duration(v)) is not None
    ]
    return max(resets) if resets else None


def _status_class(status: int, code: str | None, message: str) -> type[StreamtapError]:
    if status == 429:
        return RateLimitError
    if status == 529:
        return OverloadedError
    if status in (401, 403):
        return AuthenticationError
    if status >= 500:
        return ServerError
    if status == 408 or status == 409:
        return ServerError  # transient per both SDKs' retry rules
    if _is_context_error(code, message) or status == 413:
        return ContextLengthError
    return BadRequestError


_TYPE_CLASSES: dict[str, type[StreamtapError]] = {
    "overloaded_error": OverloadedError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "tokens": RateLimitError,
    "requests": RateLimitError,
    "api_error": ServerError,
    "server_error": ServerError,
    "timeout_error": ServerError,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "invalid_request_error": BadRequestError,
    "request_too_large": ContextLengthError,
    # Bedrock's in-stream exceptions (ConverseStream, InvokeModelWithResponseStream)
    "throttlingException": RateLimitError,
    "serviceUnavailableException": OverloadedError,
    "modelStreamErrorException": ServerError,
    "internalServerException": ServerError,
    "modelTimeoutException": ServerError,
    "validationException": BadRequestError,
    "accessDeniedException": AuthenticationError,
}

#: Translators of other SDKs' exceptions, by the exception class's top-level module
#: ("google", "botocore"): each provider package registers its own on import, so this
#: module names no SDK beyond the two every install has.
_SDK_TRANSLATORS: dict[str, Callable[..., StreamtapError | None]] = {}


def register_sdk_errors(module: str, translate: Callable[..., StreamtapError | None]) -> None:
    """Make :func:`from_sdk_error` hand exceptions from ``module``'s package to ``translate``.

    ``translate(exc, provider=, model=, api_key=)`` returns the typed error, or
    ``None`` for an exception that is not a transport or API error.
    """
    _SDK_TRANSLATORS[module] = translate


def from_stream_error(
    error: Mapping[str, Any], *, provider: str | None, model: str | None, api_key: str | None = None
) -> StreamtapError:
    """Map an in-stream error payload (``{"type", "code", "message"}``) to a typed error."""
    message = str(error.get("message") or "the provider reported an error mid-stream")
    etype = error.get("type") if isinstance(error.get("type"), str) else None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    cls: type[StreamtapError] = ServerError
    for key in (etype, code):
        if key and key in _TYPE_CLASSES:
            cls = _TYPE_CLASSES[key]
            break
    if cls is BadRequestError and _is_context_error(code, message):
        cls = ContextLengthError
    return cls(
        redact_secrets(message, api_key),
        provider=provider,
        model=model,
        error_type=etype or code,
    )


_KEEP_RAW_CAUSES: ContextVar[bool] = ContextVar("streamtap_keep_raw_causes", default=False)


@contextlib.contextmanager
def raw_causes() -> Iterator[None]:
    """Keep the SDK exception behind a streamtap error as the SDK raised it, credentials
    included (for debugging a gateway, never in production).

    By default the exception kept as ``__cause__`` is redacted in place: its message,
    ``body``, ``response`` (a copy: secret headers masked, body text redacted) and
    ``request`` (secret headers masked, URL passwords and ``?key=`` values masked).
    Inside ``with raw_causes():`` errors raised in this context keep the original.
    """
    token = _KEEP_RAW_CAUSES.set(True)
    try:
        yield
    finally:
        _KEEP_RAW_CAUSES.reset(token)


def _redact_value(value: Any, api_key: str | None) -> Any:
    """A copy of a decoded body (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact_secrets(value, api_key)
    if isinstance(value, Mapping):
        return {k: _redact_value(v, api_key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_redact_value(v, api_key) for v in value]
        if hasattr(value, "_fields"):  # a named tuple (aiohttp's ConnectionKey in args)
            return type(value)._make(items)  # type: ignore[union-attr]
        return type(value)(items)
    return value


def _redact_bytes(data: bytes, api_key: str | None) -> bytes:
    # latin-1 maps every byte to one code point, so any body survives the round trip
    return redact_secrets(data.decode("latin-1"), api_key).encode("latin-1")


def _redacted_request(request: Any, api_key: str | None) -> Any:
    import httpx2

    try:
        content = _redact_bytes(request.content, api_key)
    except httpx2.RequestNotRead:
        content = b""
    headers = redact_headers(request.headers)
    headers.pop("content-length", None)
    url = redact_secrets(str(request.url), api_key)
    return httpx2.Request(request.method, url, headers=headers, content=content)


def _redacted_response(response: Any, request: Any, api_key: str | None) -> Any:
    import httpx2

    try:
        content = _redact_bytes(response.content, api_key)
    except httpx2.ResponseNotRead:  # a stream that failed mid-way: its body was not kept
        content = b""
    headers = redact_headers(response.headers)
    for name in ("content-length", "content-encoding", "transfer-encoding"):
        headers.pop(name, None)
    return httpx2.Response(response.status_code, headers=headers, content=content, request=request)


def _scrub(exc: BaseException, api_key: str | None) -> None:
    """Redact the SDK exception itself: it stays reachable as ``__cause__`` and in tracebacks.

    Its message and arguments, its decoded ``body`` (every string in it, ``param`` fields
    and text or HTML bodies included), and its ``request`` / ``response`` replaced by
    redacted copies; exceptions chained below it get their messages redacted too.
    Skipped inside :func:`raw_causes`.
    """
    if _KEEP_RAW_CAUSES.get():
        return
    import httpx2

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(_redact_value(a, api_key) for a in current.args)
        message = getattr(current, "message", None)
        if isinstance(message, str):
            with contextlib.suppress(AttributeError):  # read-only on some exception types
                current.message = redact_secrets(message, api_key)  # type: ignore[attr-defined]
        with contextlib.suppress(AttributeError):
            if getattr(current, "body", None) is not None:
                current.body = _redact_value(current.body, api_key)  # type: ignore[attr-defined]
        request = current.__dict__.get("request") or current.__dict__.get("_request")
        response = current.__dict__.get("response")
        if isinstance(response, httpx2.Response) and request is None:
            with contextlib.suppress(RuntimeError):  # a response built without a request
                request = response.request
        redacted_request = (
            _redacted_request(request, api_key) if isinstance(request, httpx2.Request) else None
        )
        with contextlib.suppress(AttributeError):
            if "request" in current.__dict__ and redacted_request is not None:
                current.request = redacted_request  # type: ignore[attr-defined]
            if "_request" in current.__dict__ and redacted_request is not None:
                current._request = redacted_request  # type: ignore[attr-defined]
            if isinstance(response, httpx2.Response):
                current.response = _redacted_response(  # type: ignore[attr-defined]
                    response, redacted_request, api_key
                )
        current = current.__cause__ or current.__context__


def from_sdk_error(
    exc: BaseException, *, provider: str | None, model: str | None, api_key: str | None = None
) -> StreamtapError | None:
    """Map an exception raised by the openai / anthropic SDK (or httpx2) to a typed error.

    Returns ``None`` for exceptions that are not transport or API errors (bugs,
    cancellations), which callers must let through unchanged.
    """
    import anthropic
    import httpx2
    import openai

    if isinstance(exc, StreamtapError):
        return exc
    _scrub(exc, api_key)
    translate = _SDK_TRANSLATORS.get(type(exc).__module__.partition(".")[0])
    if translate is not None:
        return translate(exc, provider=provider, model=model, api_key=api_key)
    kw: dict[str, Any] = {"provider": provider, "model": model}
    if isinstance(exc, (openai.APIStatusError, anthropic.APIStatusError)):
        status = exc.status_code
        body = exc.body
        inner: Mapping[str, Any] = {}
        if isinstance(body, Mapping):
            nested = body.get("error")
            inner = nested if isinstance(nested, Mapping) else body
        message = str(inner.get("message") or getattr(exc, "message", "") or exc)
        etype = inner.get("type") if isinstance(inner.get("type"), str) else None
        code = inner.get("code") if isinstance(inner.get("code"), str) else None
        request_id = getattr(exc, "request_id", None)
        message = redact_secrets(message, api_key)
        if status == 200 or (status < 400 and etype):
            # Anthropic raises in-stream errors as APIStatusError with the stream's 200.
            err = from_stream_error(inner, provider=provider, model=model, api_key=api_key)
            err.request_id = request_id
            return err
        cls = _status_class(status, code, message)
        if etype == "overloaded_error":
            cls = OverloadedError
        return cls(
            message,
            status_code=status,
            error_type=etype or code,
            request_id=request_id,
            retry_after=parse_retry_after(dict(exc.response.headers)),
            **kw,
        )
    if isinstance(
        exc, (openai.APITimeoutError, anthropic.APITimeoutError, httpx2.TimeoutException)
    ):
        return ProviderConnectionError("the request timed out", **kw)
    if isinstance(exc, (openai.APIConnectionError, anthropic.APIConnectionError)):
        cause = exc.__cause__
        reason = (str(cause) or type(cause).__name__) if cause is not None else ""
        detail = f"connection failed: {reason}" if reason else "connection failed"
        return ProviderConnectionError(redact_secrets(detail, api_key), **kw)
    if isinstance(exc, httpx2.TransportError):
        reason = str(exc) or type(exc).__name__
        return ProviderConnectionError(
            redact_secrets(f"connection failed: {reason}", api_key), **kw
        )
    if isinstance(exc, (openai.APIError, anthropic.APIError)):
        body = getattr(exc, "body", None)
        payload: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        if "error" in payload and isinstance(payload["error"], Mapping):
            payload = payload["error"]
        if not payload.get("message"):
            payload = {**payload, "message": getattr(exc, "message", str(exc))}
        return from_stream_error(payload, provider=provider, model=model, api_key=api_key)
    return None
