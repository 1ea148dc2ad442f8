"""Replay the wire-exact fixtures under ``fixtures/`` through respx, sync and async.

Why: adapter tests must exercise the real SDKs' HTTP and SSE decoding, so they feed the
recorded bytes in at the transport level (never mocking the SDK). The stream here can cut the
body into arbitrary pieces (to prove chunk-boundary independence) and can die mid-body with
``httpx.RemoteProtocolError`` (a transport reset after the 200 was already returned).

``import httpx`` is httpx2 here: pytest loads ``tests._httpx2_alias`` before any test module.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

WIRES = ("openai", "openai-responses", "anthropic", "openai-compatible", "azure", "mistral", "xai")

URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "openai-responses": "https://api.openai.com/v1/responses",
    "anthropic": "https://api.anthropic.com/v1/messages",
    "openai-compatible": "http://127.0.0.1:8000/v1/chat/completions",
    "azure": "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions",
    "mistral": "https://api.mistral.ai/v1/chat/completions",
    "xai": "https://api.x.ai/v1/chat/completions",
}
#: base_url to hand the SDK client so its requests hit ``URLS``.
BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openai-responses": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "openai-compatible": "http://127.0.0.1:8000/v1",
    "azure": "https://res.openai.azure.com/openai/deployments/gpt-4o",
    "mistral": "https://api.mistral.ai/v1",
    "xai": "https://api.x.ai/v1",
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


#: What the anthropic SDK raises for a connection reset in the middle of a streamed body.
#: This pins the SDK's own behaviour, which changed: up to anthropic 2.16 the raw
#: ``httpx2.RemoteProtocolError`` escaped; from 2.17 on it is wrapped in
#: ``anthropic.APIConnectionError`` (the transport error as its ``__cause__``).
#: streamtap's contract (``StreamInterrupted`` <- ``ProviderConnectionError``) holds for both.
ANTHROPIC_RESET_ERROR: type[Exception] = (
    anthropic.APIConnectionError
    if _version(anthropic.__version__) >= (2, 17)
    else httpx.RemoteProtocolError
)


@dataclass(frozen=True)
class Fixture:
    """One recorded HTTP response: an SSE body, or an error status with a JSON body."""

    wire: str
    scenario: str
    body: bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: int | None = None
    json_body: Any = None

    @property
    def is_sse(self) -> bool:
        return self.body is not None


def _check_wire(wire: str) -> Path:
    folder = FIXTURES / wire
    if wire not in WIRES and not (re.fullmatch(r"[a-z0-9-]+", wire) and folder.is_dir()):
        raise ValueError(f"unknown wire {wire!r}; known wires: {', '.join(WIRES)}")
    return folder


def scenarios(wire: str) -> list[str]:
    """Every scenario recorded for ``wire`` (SSE bodies and HTTP-error sidecars), sorted."""
    folder = _check_wire(wire)
    return sorted({p.stem for p in folder.iterdir() if p.suffix in (".sse", ".json")})


def load(wire: str, scenario: str) -> Fixture:
    """Read ``fixtures/<wire>/<scenario>.sse`` and its optional ``.json`` sidecar."""
    folder = _check_wire(wire)
    sse_path = folder / f"{scenario}.sse"
    meta_path = folder / f"{scenario}.json"
    if not sse_path.exists() and not meta_path.exists():
        raise FileNotFoundError(
            f"no fixture {wire}/{scenario}; available: {', '.join(scenarios(wire))}"
        )
    meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    body = sse_path.read_bytes() if sse_path.exists() else None
    return Fixture(
        wire=wire,
        scenario=scenario,
        body=body,
        status=int(meta.get("status", 200)),
        headers={str(k): str(v) for k, v in meta.get("headers", {}).items()},
        reset_after=meta.get("reset_after"),
        json_body=meta.get("body"),
    )


def _bounds(length: int, piece_size: int | None, cuts: Sequence[int] | None) -> list[int]:
    """Piece boundaries (start offsets plus ``length``) for a body of ``length`` bytes."""
    if piece_size is not None and cuts is not None:
        raise ValueError("pass piece_size or cuts, not both")
    if piece_size is not None:
        if piece_size < 1:
            raise ValueError(f"piece_size must be >= 1 or None, got {piece_size}")
        return [*range(0, length, piece_size), length]
    inner = sorted({c for c in cuts or () if 0 < c < length})
    return [0, *inner, length]


class ReplayStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``body`` in pieces; raises a transport reset after ``reset_after`` bytes.

    Pieces are ``piece_size`` bytes each, or split at the byte offsets in ``cuts`` (for
    property tests that choose arbitrary boundaries), or the whole body at once.
    ``closed`` records whether the client released the response (tests assert no leaks).
    """

    def __init__(
        self,
        body: bytes,
        *,
        piece_size: int | None = None,
        cuts: Sequence[int] | None = None,
        reset_after: int | None = None,
    ) -> None:
        data = body if reset_after is None else body[:reset_after]
        self._bounds = _bounds(len(data), piece_size, cuts)
        self._data = data
        self._reset = reset_after is not None
        self.bytes_sent = 0
        self.closed = False

    def _pieces(self) -> Iterator[bytes]:
        for start, end in zip(self._bounds, self._bounds[1:], strict=False):
            piece = self._data[start:end]
            self.bytes_sent += len(piece)
            yield piece
        if self._reset:
            raise httpx.RemoteProtocolError("peer closed connection")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def response(
    fixture: Fixture, *, piece_size: int | None = None, cuts: Sequence[int] | None = None
) -> httpx.Response:
    """A fresh ``httpx.Response`` replaying ``fixture`` (usable once, sync or async).

    ``piece_size`` cuts the body into equal pieces; ``cuts`` splits it at those byte offsets
    (out-of-range offsets are ignored); neither means the whole body in one piece.
    """
    headers = dict(fixture.headers)
    if fixture.body is None:
        headers.setdefault("content-type", "application/json")
        return httpx.Response(fixture.status, headers=headers, json=fixture.json_body)
    headers.setdefault("content-type", "text/event-stream; charset=utf-8")
    stream = ReplayStream(
        fixture.body, piece_size=piece_size, cuts=cuts, reset_after=fixture.reset_after
    )
    return httpx.Response(fixture.status, headers=headers, stream=stream)


class Replay:
    """respx side effect that serves a fresh replay per request and keeps every stream it made."""

    def __init__(
        self,
        fixture: Fixture,
        *,
        piece_size: int | None = None,
        cuts: Sequence[int] | None = None,
    ) -> None:
        self.fixture = fixture
        self.piece_size = piece_size
        self.cuts = cuts
        self.streams: list[ReplayStream] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        resp = response(self.fixture, piece_size=self.piece_size, cuts=self.cuts)
        if isinstance(resp.stream, ReplayStream):
            self.streams.append(resp.stream)
        return resp


def mock(
    router: Any,
    wire: str,
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
) -> Any:
    """Route ``POST`` on the wire's endpoint to ``scenario``; returns the respx route.

    ``router`` is the ``respx_mock`` fixture or any ``respx.Router``/``respx.mock`` object.
    ``route.calls.last.request`` is the request the SDK built; ``route.side_effect`` is the
    :class:`Replay`, whose ``streams`` tell whether each response was closed.
    """
    fixture = load(wire, scenario)
    replay = Replay(fixture, piece_size=piece_size, cuts=cuts)
    return router.post(URLS[wire]).mock(side_effect=replay)


def expected(wire: str, scenario: str) -> dict[str, Any]:
    """The logical answer a fixture encodes (from ``fixtures/scenarios.json``)."""
    table: dict[str, Any] = json.loads((FIXTURES / "scenarios.json").read_text("utf-8"))
    try:
        return dict(table[wire][scenario])
    except KeyError:
        raise KeyError(f"no expectation recorded for {wire}/{scenario}") from None
