"""streamtap: one normalized LLM token stream, whatever the vendor, ready for graphs.

The top-level names are imported lazily (PEP 562): the pytest plugin imports
``streamtap.testing`` at every pytest start-up in projects that install
streamtap, and must not pay for langchain-core and the vendor SDKs there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamtap.providers import anormalize, chat_model, normalize
    from streamtap.resilience import RetryPolicy, resilient

_LAZY = {
    "RetryPolicy": "streamtap.resilience",
    "resilient": "streamtap.resilience",
    "anormalize": "streamtap.providers",
    "chat_model": "streamtap.providers",
    "normalize": "streamtap.providers",
}

__all__ = ["RetryPolicy", "anormalize", "chat_model", "normalize", "resilient"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name in (
            "errors",
            "providers",
            "middleware",
            "resilience",
            "graph",
            "testing",
            "accumulate",
        ):
            return importlib.import_module(f"streamtap.{name}")
        raise AttributeError(f"module 'streamtap' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
