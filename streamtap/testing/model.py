"""What a cassette holds: requests and responses whose bodies keep their chunking.

A response body is the list of byte chunks exactly as the transport delivered
them, each stamped with its offset from the request start, because chunk
boundaries and timing are what streaming code reacts to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Headers = list[tuple[str, str]]
"""Lower-cased header names with their values, in order; a name may repeat."""


@dataclass(slots=True)
class Chunk:
    """One piece of a response body as it arrived."""

    offset: float
    """Seconds from the request start to the moment the chunk arrived."""
    data: bytes


@dataclass(slots=True)
class StreamError:
    """A transport error that cut the body short (replayed as the same httpx2 error)."""

    type: str
    message: str
    offset: float


@dataclass(slots=True)
class RecordedRequest:
    """A request after redaction; this is also the form live requests are matched in."""

    method: str
    url: str
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if present."""
        return _first_header(self.headers, name)


@dataclass(slots=True)
class RecordedResponse:
    """A response with its body as timed chunks."""

    status: int
    headers: Headers = field(default_factory=list)
    headers_offset: float = 0.0
    """Seconds from the request start until the status line and headers arrived."""
    chunks: list[Chunk] = field(default_factory=list)
    complete: bool = True
    """False when the consumer closed the stream before the end of the body."""
    error: StreamError | None = None

    @property
    def body(self) -> bytes:
        """All chunks joined."""
        return b"".join(chunk.data for chunk in self.chunks)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if present."""
        return _first_header(self.headers, name)


@dataclass(slots=True)
class Interaction:
    """One request and the response it got."""

    request: RecordedRequest
    response: RecordedResponse


def _first_header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (stored names are lower case), if present."""
    wanted = name.lower()
    return next((value for key, value in headers if key == wanted), None)
