"""Recorded bodies as httpx2 streams: replayed on the recorded clock, or teed while recording.

Nothing here needs respx; ``_transport`` plugs these streams into respx's routing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import anyio
import httpx2

from streamtap.testing.errors import CassetteMismatchError
from streamtap.testing.model import Chunk, RecordedResponse, StreamError

__all__ = [
    "RECORD_INTO",
    "WIRE_HEADERS",
    "Recorder",
    "ReplayStream",
    "note_chunk",
    "note_error",
    "recorder_for",
    "replay_headers",
    "teed",
]

RECORD_INTO = "streamtap.cassette.record_into"
"""Request extension through which a cassette's router hands a request to the recorder."""

# Headers that describe the wire encoding: the cassette stores decoded bodies,
# and redaction may change body length.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class Recorder(Protocol):
    """What the recording transport needs from a cassette."""

    def begin_recording(
        self, request: httpx2.Request, response: httpx2.Response, start: float
    ) -> RecordedResponse: ...


def replay_headers(response: RecordedResponse) -> list[tuple[str, str]]:
    """Stored headers minus the wire-encoding ones."""
    return [(name, value) for name, value in response.headers if name not in WIRE_HEADERS]


class ReplayStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A recorded body, chunk for chunk, on the recorded clock divided by ``speed``.

    Chunks are due at absolute times from the request start, so a slow consumer
    never makes the replay drift later than the recording, as with a real socket.
    ``speed=None`` means instant.
    """

    def __init__(self, response: RecordedResponse, *, start: float, speed: float | None) -> None:
        self._response = response
        self._start = start
        self._speed = speed
        self._closed = False

    def _wait(self, offset: float) -> float:
        if self._speed is None:
            return 0.0
        return max(0.0, self._start + offset / self._speed - time.perf_counter())

    def headers_wait(self) -> float:
        """Seconds still to wait before the status line is due."""
        return self._wait(self._response.headers_offset)

    def _error(self) -> httpx2.TransportError:
        error = self._response.error
        assert error is not None
        cls = getattr(httpx2, error.type, None)
        if not (isinstance(cls, type) and issubclass(cls, httpx2.TransportError)):
            cls = httpx2.RemoteProtocolError
        return cls(error.message)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._response.chunks:
            if self._closed:
                return
            delay = self._wait(chunk.offset)
            if delay:
                time.sleep(delay)
            yield chunk.data
        if self._response.error is not None and not self._closed:
            time.sleep(self._wait(self._response.error.offset))
            raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._response.chunks:
            if self._closed:
                return
            delay = self._wait(chunk.offset)
            if delay:
                await anyio.sleep(delay)
            yield chunk.data
        if self._response.error is not None and not self._closed:
            await anyio.sleep(self._wait(self._response.error.offset))
            raise self._error()

    def close(self) -> None:
        self._closed = True

    async def aclose(self) -> None:
        self._closed = True


class _TeeStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Passes a live body through while appending each decoded chunk to the recording."""

    def __init__(self, live: httpx2.Response, recording: RecordedResponse, start: float) -> None:
        self._live = live
        self._recording = recording
        self._start = start

    def _note(self, data: bytes) -> None:
        note_chunk(self._recording, self._start, data)

    def _note_error(self, exc: httpx2.TransportError) -> None:
        note_error(self._recording, self._start, exc)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for data in self._live.iter_bytes():
                self._note(data)
                yield data
        except httpx2.TransportError as exc:
            self._note_error(exc)
            raise
        self._recording.complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._live.aiter_bytes():
                self._note(data)
                yield data
        except httpx2.TransportError as exc:
            self._note_error(exc)
            raise
        self._recording.complete = True

    def close(self) -> None:
        self._live.close()

    async def aclose(self) -> None:
        await self._live.aclose()


def note_chunk(recording: RecordedResponse, start: float, data: bytes) -> None:
    """A chunk as it arrived, at its offset from the request's start."""
    recording.chunks.append(Chunk(offset=time.perf_counter() - start, data=data))


def note_error(recording: RecordedResponse, start: float, exc: BaseException) -> None:
    """The transport error that cut the body, replayed as httpx2's class of that name."""
    recording.error = StreamError(
        type=type(exc).__name__, message=str(exc), offset=time.perf_counter() - start
    )


def recorder_for(request: httpx2.Request) -> Recorder:
    recorder = request.extensions.pop(RECORD_INTO, None)
    if recorder is None:  # pragma: no cover - respx only passes through what a cassette marked
        raise CassetteMismatchError(
            f"streamtap: {request.method} {request.url} reached the network without a cassette "
            "claiming it"
        )
    return recorder  # type: ignore[no-any-return]


def teed(
    recorder: Recorder, request: httpx2.Request, live: httpx2.Response, start: float
) -> httpx2.Response:
    recording = recorder.begin_recording(request, live, start)
    headers = [(k, v) for k, v in live.headers.multi_items() if k.lower() not in WIRE_HEADERS]
    return httpx2.Response(
        live.status_code,
        headers=headers,
        stream=_TeeStream(live, recording, start),
        extensions=live.extensions,
        request=request,
    )
