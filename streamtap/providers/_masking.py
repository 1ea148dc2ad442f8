"""What a chat model shows of itself with its credentials masked.

``repr(model)``, ``model_dump()``, ``dict()``, the ``serialized`` payload and the
``invocation_params`` LangChain hands every callback handler (LangSmith tracing
included) all pass through :func:`redact_params`: secret headers by name (streamtap's
one list, ``streamtap._secrets.is_secret_header``, plus the model's ``secret_headers=``),
values of secret-named keys, URL passwords and ``?key=`` values in ``base_url``.
:func:`remember_credentials` hands the model's credentials to the one detector, so the
errors, logs and cassettes mask them too, shape or not, and installs the log filter on
the HTTP client's loggers.
"""

from __future__ import annotations

import contextlib
import functools
import urllib.parse
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from streamtap._log_mask import mask_client_logs
from streamtap._secrets import (
    MASK,
    is_secret_header,
    is_secret_name,
    redact_headers,
    redact_secrets,
    remember_secret_headers,
    remember_secrets,
)

__all__ = ["AWS_LC_SECRETS", "masked_text", "redact_params", "remember_credentials"]


def remember_credentials(
    api_key: str | None,
    default_headers: Mapping[str, str] | None,
    secret_headers: list[str] | None,
    base_url: str | None,
) -> None:
    """Make a model's credentials known to the detector; mask the HTTP client's logs."""
    remember_secret_headers(*(secret_headers or ()))
    secrets = [api_key]
    secrets += [v for k, v in (default_headers or {}).items() if is_secret_header(k)]
    if base_url and "@" in base_url:
        with contextlib.suppress(ValueError):
            secrets.append(urllib.parse.urlsplit(base_url).password)
    remember_secrets(*secrets)
    mask_client_logs()


_HEADER_FIELDS = frozenset({"default_headers", "extra_headers", "headers", "default_query"})
_NAME_FIELDS = frozenset({"secret_headers"})  # names of credentials, not credentials


@functools.lru_cache(maxsize=256)
def masked_text(text: str) -> str:
    return redact_secrets(text)


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with credentials masked: values of secret-named keys, secret headers
    (and query values) by name, URL passwords and key shapes in ``base_url``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or isinstance(value, (bool, int, float, SecretStr)):
            out[key] = value  # SecretStr shows itself masked
        elif isinstance(value, Mapping) and value.get("type") == "secret" and "lc" in value:
            out[key] = value  # dumpd's reference to an environment variable, for load()
        elif key in _HEADER_FIELDS and isinstance(value, Mapping):
            out[key] = redact_headers(value)
        elif key not in _NAME_FIELDS and isinstance(key, str) and is_secret_name(key):
            out[key] = MASK
        elif isinstance(value, str):
            out[key] = masked_text(value) if key == "base_url" or "://" in value else value
        elif isinstance(value, Mapping):
            out[key] = redact_params(value)
        else:
            out[key] = value
    return out


#: ``lc_secrets`` of the models that sign with AWS credentials (Bedrock Converse, Claude on
#: Bedrock): ``dumpd`` stores each as a reference to the variable boto3 itself reads.
AWS_LC_SECRETS = {
    "api_key": "AWS_BEARER_TOKEN_BEDROCK",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}
