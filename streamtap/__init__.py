"""streamtap: one normalized LLM token stream, whatever the vendor, ready for graphs."""

from __future__ import annotations

from streamtap.middleware import RetryPolicy, resilient
from streamtap.providers import anormalize, chat_model, normalize

__all__ = ["RetryPolicy", "anormalize", "chat_model", "normalize", "resilient"]
__version__ = "0.1.0"
