"""google-genai's (and google-auth's) exceptions as streamtap's typed errors.

Registered with :func:`streamtap.errors.register_sdk_errors` for the ``google``
top-level package when the Gemini provider is imported. Google's error body is
``{"error": {"code", "message", "status", "details"}}``; the retry delay a 429
asks for travels in a ``google.rpc.RetryInfo`` detail, not only in headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamtap.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
    StreamtapError,
    parse_retry_after,
    redact_secrets,
    register_sdk_errors,
)

__all__ = ["translate"]

_CONTEXT_MARKERS = (
    "exceeds the maximum number of tokens",
    "input token count",
    "context window",
    "too many tokens",
    "prompt is too long",
)


def _reasons(details: Any) -> set[str]:
    """``google.rpc.ErrorInfo`` reasons in an error body (``API_KEY_INVALID``...)."""
    error = details.get("error") if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    return {
        str(item.get("reason"))
        for item in items or ()
        if isinstance(item, Mapping) and item.get("reason")
    }


_KEY_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"}


def _status_class(code: int, status: str, message: str) -> type[StreamtapError]:
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return RateLimitError
    if code in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthenticationError
    if code == 503 or status == "UNAVAILABLE":
        return OverloadedError
    if code >= 500 or code in (408, 409) or status in ("INTERNAL", "DEADLINE_EXCEEDED"):
        return ServerError
    if code == 413 or any(m in message.lower() for m in _CONTEXT_MARKERS):
        return ContextLengthError
    return BadRequestError


def _retry_delay(details: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "7s"``)."""
    error = details.get("error") if isinstance(details, Mapping) else None
    for item in (error or {}).get("details") or () if isinstance(error, Mapping) else ():
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("RetryInfo"):
            delay = str(item.get("retryDelay") or "")
            try:
                return float(delay.rstrip("s")) if delay.endswith("s") else None
            except ValueError:
                return None
    return None


def translate(
    exc: BaseException, *, provider: str | None, model: str | None, api_key: str | None = None
) -> StreamtapError | None:
    """The typed error for a google-genai / google-auth exception, or None."""
    from google.genai import errors as genai_errors

    kw: dict[str, Any] = {"provider": provider, "model": model}
    if isinstance(exc, genai_errors.APIError):
        code = exc.code if isinstance(exc.code, int) else 0
        status = exc.status if isinstance(exc.status, str) else ""
        message = redact_secrets(str(exc.message or exc), api_key)
        if isinstance(exc.details, (Mapping, list, str)):
            from streamtap.errors import _redact_value

            exc.details = _redact_value(exc.details, api_key)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        retry_after = _retry_delay(exc.details)
        if retry_after is None and headers is not None:
            retry_after = parse_retry_after(dict(headers))
        if code == 0 and not status:  # not an HTTP status: the body said something odd
            return ServerError(message, error_type=None, **kw)
        cls = _status_class(code, status, message)
        if cls is BadRequestError and (
            _reasons(exc.details) & _KEY_REASONS or "api key not valid" in message.lower()
        ):
            cls = AuthenticationError  # Gemini answers a bad key with 400 INVALID_ARGUMENT
        return cls(
            message,
            status_code=code or None,
            error_type=status or None,
            retry_after=retry_after,
            **kw,
        )
    from google.auth import exceptions as auth_errors

    if isinstance(exc, auth_errors.TransportError):
        detail = redact_secrets(f"connection failed: {exc}", api_key)
        return ProviderConnectionError(detail, **kw)
    if isinstance(exc, auth_errors.GoogleAuthError):
        detail = redact_secrets(f"Google credentials: {exc}", api_key)
        return AuthenticationError(detail, **kw)
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("google.genai"):
        return BadRequestError(redact_secrets(str(exc), api_key), **kw)
    return None


register_sdk_errors("google", translate)
