"""botocore's exceptions as streamtap's typed errors.

boto3 and aiobotocore raise ``botocore.exceptions.ClientError`` for an HTTP
error before the stream (the ``x-amzn-ErrorType`` header or the body's
``__type`` names it) and its subclass ``EventStreamError`` for an exception
frame inside the stream (``throttlingException``, ``modelStreamErrorException``...);
both carry ``response["Error"]["Code"]``. Transport failures are botocore's
``HTTPClientError`` / ``ConnectionError`` family. The translator registered
for the ``botocore`` package (``streamtap.errors.register_sdk_errors``) maps
them all; a failure after the stream started becomes ``StreamInterrupted``
(with ``.partial``) in ``WireStream.failure``.

The HTTP clients under the SDKs (urllib3 for boto3, aiohttp for aiobotocore)
raise their own exceptions when a connection dies mid-body; the chat model
wraps those in botocore's ``ResponseStreamingError`` as botocore's own
``StreamingBody`` does, and the ``urllib3`` translator covers streams a user
iterates through ``normalize()``.
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
)

__all__ = ["class_for_code", "translate_botocore", "translate_transport"]

#: Error codes (lower-cased, without the "exception" suffix) -> typed error.
_CODES: dict[str, type[StreamtapError]] = {
    "throttling": RateLimitError,
    "toomanyrequests": RateLimitError,
    "servicequotaexceeded": RateLimitError,
    "serviceunavailable": OverloadedError,
    "modelstreamerror": ServerError,
    "internalserver": ServerError,
    "internalfailure": ServerError,
    "modeltimeout": ServerError,
    "modelnotready": ServerError,
    "modelerror": ServerError,
    "validation": BadRequestError,
    "resourcenotfound": BadRequestError,
    "conflict": BadRequestError,
    "accessdenied": AuthenticationError,
    "unrecognizedclient": AuthenticationError,
    "expiredtoken": AuthenticationError,
    "invalidsignature": AuthenticationError,
    "signaturedoesnotmatch": AuthenticationError,
    "incompletesignature": AuthenticationError,
    "missingauthenticationtoken": AuthenticationError,
    "invalidclienttokenid": AuthenticationError,
}

#: How Bedrock says the prompt does not fit (a validationException's message).
_CONTEXT_MARKERS = (
    "input is too long",
    "too many input tokens",
    "prompt is too long",
    "context window",
    "context length",
    "maximum context",
    "too many tokens",
)


def _key(code: str) -> str:
    key = code.split(":", 1)[0].rsplit("#", 1)[-1].lower()
    return key.removesuffix("exception")


def class_for_code(code: str | None, message: str, status: int | None) -> type[StreamtapError]:
    """The typed error for a Bedrock error code (either case), its message and HTTP status."""
    cls = _CODES.get(_key(code or ""))
    if cls is None:
        if status == 429:
            cls = RateLimitError
        elif status in (401, 403):
            cls = AuthenticationError
        elif status == 503:
            cls = OverloadedError
        elif status is not None and (status >= 500 or status == 408):
            cls = ServerError
        elif status is not None and status >= 400:
            cls = BadRequestError
        else:
            cls = ServerError  # an in-stream exception newer than this code: transient
    if cls is BadRequestError and any(m in message.lower() for m in _CONTEXT_MARKERS):
        cls = ContextLengthError
    return cls


def translate_botocore(
    exc: BaseException, *, provider: str | None, model: str | None, api_key: str | None = None
) -> StreamtapError | None:
    """botocore's (and so aiobotocore's) exceptions -> typed errors; None for anything else."""
    from botocore import exceptions as bx  # type: ignore[import-untyped]

    kw: dict[str, Any] = {"provider": provider, "model": model}
    if isinstance(exc, bx.ClientError):
        response: Mapping[str, Any] = getattr(exc, "response", None) or {}
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = error.get("Code") if isinstance(error.get("Code"), str) else None
        message = redact_secrets(str(error.get("Message") or exc), api_key)
        in_stream = isinstance(exc, bx.EventStreamError)
        status = None if in_stream else meta.get("HTTPStatusCode")
        headers = meta.get("HTTPHeaders") if isinstance(meta.get("HTTPHeaders"), Mapping) else {}
        return class_for_code(code, message, status)(
            message,
            status_code=status,
            error_type=code,
            request_id=meta.get("RequestId") or None,
            retry_after=parse_retry_after(headers),
            **kw,
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AuthenticationError(
            redact_secrets(f"no usable AWS credentials: {exc}", api_key), **kw
        )
    if isinstance(exc, bx.CredentialRetrievalError):
        return AuthenticationError(redact_secrets(str(exc), api_key), **kw)
    if isinstance(exc, (bx.HTTPClientError, bx.ConnectionError)):
        timed_out = isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError))
        detail = "the request timed out" if timed_out else f"connection failed: {exc}"
        return ProviderConnectionError(redact_secrets(detail, api_key), **kw)
    if isinstance(exc, (bx.ParamValidationError, bx.NoRegionError)):
        return BadRequestError(redact_secrets(str(exc), api_key), **kw)
    return None


def translate_transport(
    exc: BaseException, *, provider: str | None, model: str | None, api_key: str | None = None
) -> StreamtapError | None:
    """urllib3's / aiohttp's own errors (a body cut mid-read) -> ProviderConnectionError."""
    name = type(exc).__name__
    if isinstance(exc, (OSError, TimeoutError)) or "Error" in name:
        reason = str(exc) or name
        return ProviderConnectionError(
            redact_secrets(f"connection failed: {reason}", api_key),
            provider=provider,
            model=model,
        )
    return None
