"""A logging filter that masks credentials in log records, for every layer that logs.

The server masks its own and uvicorn's records with it (``streamtap.server._logs``);
streamtap's chat models install it on the HTTP client loggers (httpx2, httpcore, the
openai, anthropic, google-genai SDKs and botocore), which write request URLs (``?key=``, ``user:pass@``) and
headers at INFO and DEBUG. What counts as a credential is ``streamtap._secrets``'s one
detector, plus the exact values chat models remember as their credentials.

A bottom layer: it imports only ``streamtap._secrets``.
"""

from __future__ import annotations

import logging
from typing import Any

from streamtap._secrets import redact_secrets

__all__ = ["CLIENT_LOGGERS", "SecretMask", "mask_client_logs", "mask_loggers"]

#: Where the HTTP stack under the SDKs logs. A filter on a logger does not apply to its
#: children's records, so each logger that writes is named.
CLIENT_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "openai",
    "openai._base_client",
    "anthropic",
    "anthropic._base_client",
    # google-genai (Gemini, Vertex): request URLs (``?key=``) and errors
    "google_genai._api_client",
    "google_genai.models",
    # botocore / aiobotocore (Bedrock, Claude on Bedrock): at DEBUG botocore.auth logs the
    # canonical request and string to sign, endpoint and parsers log headers and bodies
    "botocore",
    "botocore.auth",
    "botocore.awsrequest",
    "botocore.credentials",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.retryhandler",
    "botocore.utils",
    "aiobotocore.credentials",
    "aiobotocore.utils",
    "urllib3.connectionpool",
)


class SecretMask(logging.Filter):
    """Masks credential-like text and the configured secrets in a record, in place.

    Arguments are masked one by one rather than merged into the message, because some
    formatters read them (uvicorn's access formatter takes ``record.args`` apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def _mask(self, value: Any) -> Any:
        return redact_secrets(value, *self.secrets) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_text(a, self) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _text(v, self) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self._mask(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True


def _text(value: Any, mask: SecretMask) -> Any:
    """An argument as the message will show it: exceptions and other objects are
    rendered (and masked) now, numbers are left as they are for ``%d``."""
    if value is None or isinstance(value, (int, float)):
        return value
    return mask._mask(value if isinstance(value, str) else str(value))


def mask_loggers(mask: SecretMask, names: tuple[str, ...]) -> SecretMask:
    """Add ``mask`` to each logger in ``names`` that does not have it yet."""
    for name in names:
        logger = logging.getLogger(name)
        if mask not in logger.filters:
            logger.addFilter(mask)
    return mask


_CLIENT_MASK = SecretMask()
_installed = False


def mask_client_logs() -> SecretMask:
    """Install the mask on :data:`CLIENT_LOGGERS` (once per process; cheap after that)."""
    global _installed
    if not _installed:
        mask_loggers(_CLIENT_MASK, CLIENT_LOGGERS)
        _installed = True
    return _CLIENT_MASK
