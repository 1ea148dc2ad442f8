"""Log records leave the server masked, as every other error text does.

A node's exception can carry a vendor key ("Incorrect API key provided: sk-..."), a
Postgres DSN with its password, or the server's own token; a traceback logged by uvicorn
for a failed request carries the same text. Logs are shipped to places with wider access
than the server, so the one secret detector (``streamtap._secrets``) runs on each record's
message, arguments, traceback and stack before any handler formats it. The filter itself
(``streamtap._log_mask``) is shared with the chat models, which mask the HTTP client's logs.
"""

from __future__ import annotations

from streamtap._log_mask import SecretMask, mask_loggers

__all__ = ["MASKED_LOGGERS", "SecretMask", "mask_logs"]

#: the loggers a served app writes to: streamtap's own and uvicorn's (a failed request's
#: traceback, the access line with its path and query)
MASKED_LOGGERS = ("streamtap.server", "uvicorn.error", "uvicorn.access")


_MASK = SecretMask()


def mask_logs(secrets: tuple[str, ...] = ()) -> SecretMask:
    """Install the mask on :data:`MASKED_LOGGERS` (once per process) and add ``secrets``
    (the server's token) to what it masks. Secrets are only ever added: several apps in one
    process mask each other's tokens too, which hides nothing anyone should see."""
    _MASK.secrets.update(s for s in secrets if s)
    return mask_loggers(_MASK, MASKED_LOGGERS)
