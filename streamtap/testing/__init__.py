"""Streaming cassettes: record LLM HTTP traffic once, replay it with its chunking and timing.

Importing this package aliases ``httpx`` to ``httpx2`` when nothing has imported
``httpx`` yet, so respx intercepts the openai and anthropic SDKs; it must come
first, hence the import order below.
"""

from __future__ import annotations

from streamtap.testing._alias import ensure_httpx_alias

ensure_httpx_alias()

from streamtap.testing.cassette import (  # noqa: E402
    RECORD_MODES,
    Cassette,
    CassetteContext,
    Pace,
    RecordMode,
    use_cassette,
)
from streamtap.testing.errors import (  # noqa: E402
    CassetteError,
    CassetteFormatError,
    CassetteMismatchError,
    CassetteNotFoundError,
    CassetteSetupError,
)
from streamtap.testing.fileformat import (  # noqa: E402
    FORMAT_VERSION,
    dumps_interactions,
    load_interactions,
    save_interactions,
)
from streamtap.testing.matching import MatchOn, RequestMatcher  # noqa: E402
from streamtap.testing.model import (  # noqa: E402
    Chunk,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamError,
)
from streamtap.testing.redaction import (  # noqa: E402
    REDACTED,
    RedactHook,
    find_credentials,
    redact_interaction,
)

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
    "load_interactions",
    "redact_interaction",
    "save_interactions",
    "use_cassette",
]
