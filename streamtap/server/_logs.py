"""Log records leave the server masked, as every other error text does.

A node's exception can carry a vendor key ("Incorrect API key provided: sk-..."), a
Postgres DSN with its password, or the server's own token; a traceback logged by uvicorn
for a failed request carries the same text. Logs are shipped to places with wider access
than the server, so the one secret detector (``streamtap._secrets``) runs on each record's
message, arguments, traceback and stack before any handler formats it.
"""

from __future__ import annotations

import logging
from typing import Any

from streamtap._secrets import redact_secrets

__all__ = ["MASKED_LOGGERS", "SecretMask", "mask_logs"]

#: the loggers a served app writes to: streamtap's own and uvicorn's (a failed request's
#: traceback, the access line with its path and query)
MASKED_LOGGERS = ("streamtap.server", "uvicorn.error", "uvicorn.access")


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


_MASK = SecretMask()


def mask_logs(secrets: tuple[str, ...] = ()) -> SecretMask:
    """Install the mask on :data:`MASKED_LOGGERS` (once per process) and add ``secrets``
    (the server's token) to what it masks. Secrets are only ever added: several apps in one
    process mask each other's tokens too, which hides nothing anyone should see."""
    _MASK.secrets.update(s for s in secrets if s)
    for name in MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)
    return _MASK
