"""Streaming cassettes: record LLM HTTP traffic once, replay it with its chunking and timing.

Importing this package changes nothing in the process. Cassettes need ``import
httpx`` to mean ``httpx2`` (respx patches ``httpx``; the openai and anthropic SDKs
use ``httpx2``): ``install_httpx_alias()`` does that, explicitly and idempotently.
The pytest plugin calls it when it loads and a cassette when it starts; call it
yourself first thing when something imports ``httpx`` or respx before your first
cassette. Everything loads on first use: the pytest plugin (installed with
streamtap itself) must load even where respx, which comes with
``streamtap[testing]``, is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamtap.testing._alias import install_httpx_alias
    from streamtap.testing.cassette import (
        RECORD_MODES,
        Cassette,
        CassetteContext,
        Pace,
        RecordMode,
        use_cassette,
    )
    from streamtap.testing.errors import (
        CassetteError,
        CassetteFormatError,
        CassetteMismatchError,
        CassetteNotFoundError,
        CassetteSetupError,
    )
    from streamtap.testing.fake import FakeChatModel, FakeRequest
    from streamtap.testing.fileformat import (
        FORMAT_VERSION,
        dumps_interactions,
        load_interactions,
        save_interactions,
    )
    from streamtap.testing.matching import MatchOn, RequestMatcher
    from streamtap.testing.model import (
        Chunk,
        Interaction,
        RecordedRequest,
        RecordedResponse,
        StreamError,
    )
    from streamtap.testing.redaction import (
        REDACTED,
        RedactHook,
        find_credentials,
        redact_interaction,
    )

_EXPORTS: dict[str, str] = {
    "install_httpx_alias": "streamtap.testing._alias",
    **dict.fromkeys(
        ("RECORD_MODES", "Cassette", "CassetteContext", "Pace", "RecordMode", "use_cassette"),
        "streamtap.testing.cassette",
    ),
    **dict.fromkeys(
        (
            "CassetteError",
            "CassetteFormatError",
            "CassetteMismatchError",
            "CassetteNotFoundError",
            "CassetteSetupError",
        ),
        "streamtap.testing.errors",
    ),
    **dict.fromkeys(
        ("FORMAT_VERSION", "dumps_interactions", "load_interactions", "save_interactions"),
        "streamtap.testing.fileformat",
    ),
    **dict.fromkeys(("FakeChatModel", "FakeRequest"), "streamtap.testing.fake"),
    **dict.fromkeys(("MatchOn", "RequestMatcher"), "streamtap.testing.matching"),
    **dict.fromkeys(
        ("Chunk", "Interaction", "RecordedRequest", "RecordedResponse", "StreamError"),
        "streamtap.testing.model",
    ),
    **dict.fromkeys(
        ("REDACTED", "RedactHook", "find_credentials", "redact_interaction"),
        "streamtap.testing.redaction",
    ),
}

__all__ = [
    "FORMAT_VERSION",
    "RECORD_MODES",
    "REDACTED",
    "Cassette",
    "CassetteContext",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CassetteNotFoundError",
    "CassetteSetupError",
    "Chunk",
    "FakeChatModel",
    "FakeRequest",
    "Interaction",
    "MatchOn",
    "Pace",
    "RecordMode",
    "RecordedRequest",
    "RecordedResponse",
    "RedactHook",
    "RequestMatcher",
    "StreamError",
    "dumps_interactions",
    "find_credentials",
    "install_httpx_alias",
    "load_interactions",
    "redact_interaction",
    "save_interactions",
    "use_cassette",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamtap.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
