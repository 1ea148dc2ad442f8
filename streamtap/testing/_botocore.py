"""The botocore layer: boto3's and aiobotocore's requests through the active cassette.

Bedrock Converse speaks through botocore (urllib3) and aiobotocore (aiohttp), which
the httpx2 layer never sees. While a cassette is active, the endpoints' ``_send`` (the
one call that puts a signed request on the wire) goes through the innermost cassette
first: a recorded answer comes back as botocore's own response type over a raw body
that replays the recorded chunks on the recorded clock; a request to record goes to
the real ``_send``, and its raw body is teed into the recording chunk by chunk. The
request is matched and stored in the same redacted form as an httpx2 one (the SigV4
``Authorization`` and ``X-Amz-Security-Token`` never reach the file).

Patched only while a cassette is active, only for the SDKs that are installed; the
originals come back when the last cassette stops.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import anyio
import httpx2

from streamtap.testing._streams import (
    WIRE_HEADERS,
    ReplayStream,
    note_chunk,
    note_error,
)
from streamtap.testing.model import RecordedResponse

__all__ = ["attach", "detach"]


class _Router(Protocol):
    def _on_request(self, request: httpx2.Request) -> httpx2.Response | httpx2.Request: ...

    def begin_recording(
        self, request: httpx2.Request, response: httpx2.Response, start: float
    ) -> RecordedResponse: ...


_lock = threading.Lock()
_active: list[_Router] = []
_originals: list[tuple[type, Any]] = []

#: (module, class) whose ``_send`` puts a request on the wire, sync then async.
_ENDPOINTS = (("botocore.endpoint", "Endpoint"), ("aiobotocore.endpoint", "AioEndpoint"))


def attach(cassette: _Router) -> None:
    """Route botocore's requests to ``cassette`` (the innermost one wins) until detached."""
    with _lock:
        if not _active:
            _patch()
        _active.append(cassette)


def detach(cassette: _Router) -> None:
    with _lock:
        if cassette in _active:
            _active.remove(cassette)
        if not _active:
            for cls, original in _originals:
                cls._send = original  # type: ignore[attr-defined]
            _originals.clear()


def _patch() -> None:
    for module_name, class_name in _ENDPOINTS:
        if importlib.util.find_spec(module_name.partition(".")[0]) is None:
            continue
        cls = getattr(importlib.import_module(module_name), class_name)
        original = cls.__dict__["_send"]
        _originals.append((cls, original))
        cls._send = _async_send(original) if class_name.startswith("Aio") else _send(original)


def _cassette() -> _Router:
    with _lock:
        return _active[-1]


def _as_httpx(request: Any) -> httpx2.Request:
    """botocore's signed ``AWSPreparedRequest`` as the httpx2 request a cassette matches."""
    body = request.body
    if hasattr(body, "read"):  # a file-like body: botocore rewinds it before sending
        position = body.tell()
        content = body.read()
        body.seek(position)
    else:
        content = body.encode() if isinstance(body, str) else (body or b"")
    headers = [
        (str(k), v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()
    ]
    return httpx2.Request(request.method, request.url, headers=headers, content=content)


def _headers_of(response: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in response.headers.items() if k.lower() not in WIRE_HEADERS]


def _send(original: Any) -> Any:
    def _send(self: Any, request: Any) -> Any:
        from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

        cassette, live, start = _cassette(), _as_httpx(request), time.perf_counter()
        answer = cassette._on_request(live)
        if isinstance(answer, httpx2.Response):
            stream = answer.stream
            assert isinstance(stream, ReplayStream)
            time.sleep(stream.headers_wait())
            headers = _http_headers(list(answer.headers.multi_items()))
            return AWSResponse(request.url, answer.status_code, headers, _Replay(stream))
        response = original(self, request)
        recording = cassette.begin_recording(
            live, httpx2.Response(response.status_code, headers=_headers_of(response)), start
        )
        response.raw = _Tee(response.raw, recording, start)
        return response

    return _send


def _async_send(original: Any) -> Any:
    async def _send(self: Any, request: Any) -> Any:
        from aiobotocore.awsrequest import AioAWSResponse  # type: ignore[import-untyped]

        cassette, live, start = _cassette(), _as_httpx(request), time.perf_counter()
        answer = cassette._on_request(live)
        if isinstance(answer, httpx2.Response):
            stream = answer.stream
            assert isinstance(stream, ReplayStream)
            await anyio.sleep(stream.headers_wait())
            headers = _http_headers(list(answer.headers.multi_items()))
            return AioAWSResponse(request.url, answer.status_code, headers, _AsyncReplay(stream))
        response = await original(self, request)
        recording = cassette.begin_recording(
            live, httpx2.Response(response.status_code, headers=_headers_of(response)), start
        )
        response.raw = _AsyncTee(response.raw, recording, start)
        return response

    return _send


def _http_headers(pairs: list[tuple[str, str]]) -> Any:
    from botocore.awsrequest import HeadersDict  # type: ignore[import-untyped]

    return HeadersDict(pairs)


# -- replayed bodies, in the shapes botocore reads ----------------------------------------
class _Replay:
    """urllib3's ``HTTPResponse`` as botocore reads it: ``stream()``, ``read()``, ``close()``."""

    def __init__(self, stream: ReplayStream) -> None:
        self._stream = stream

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        return iter(self._stream)

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return b"".join(self._stream)

    def close(self) -> None:
        self._stream.close()

    def release_conn(self) -> None:
        self._stream.close()


class _AsyncContent:
    def __init__(self, stream: ReplayStream) -> None:
        self._stream = stream

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        async for data in self._stream:
            yield data, True


class _AsyncReplay:
    """aiohttp's ``ClientResponse`` as aiobotocore reads it: ``content``, ``read()``, ``close()``."""

    def __init__(self, stream: ReplayStream) -> None:
        self._stream = stream
        self.content = _AsyncContent(stream)

    async def read(self) -> bytes:
        return b"".join([data async for data in self._stream])

    def close(self) -> None:
        self._stream.close()

    def release(self) -> None:
        self._stream.close()


# -- recorded bodies: the live one, copied chunk by chunk ---------------------------------
class _Tee:
    """The live urllib3 body, each chunk noted as it passes (everything else delegated)."""

    def __init__(self, raw: Any, recording: RecordedResponse, start: float) -> None:
        self._raw, self._recording, self._start = raw, recording, start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        try:
            for data in self._raw.stream(*args, **kwargs):
                note_chunk(self._recording, self._start, data)
                yield data
        except Exception as exc:
            note_error(self._recording, self._start, exc)
            raise
        self._recording.complete = True

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        data: bytes = self._raw.read(*args, **kwargs)
        if data:
            note_chunk(self._recording, self._start, data)
        self._recording.complete = True
        return data


class _AsyncTeeContent:
    def __init__(self, tee: _AsyncTee) -> None:
        self._tee = tee

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tee._raw.content, name)

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        tee = self._tee
        try:
            async for data, end in tee._raw.content.iter_chunks():
                note_chunk(tee._recording, tee._start, data)
                yield data, end
        except Exception as exc:
            note_error(tee._recording, tee._start, exc)
            raise
        tee._recording.complete = True


class _AsyncTee:
    """The live aiohttp body, each chunk noted as it passes (everything else delegated)."""

    def __init__(self, raw: Any, recording: RecordedResponse, start: float) -> None:
        self._raw, self._recording, self._start = raw, recording, start
        self.content = _AsyncTeeContent(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    async def read(self) -> bytes:
        data: bytes = await self._raw.read()
        if data:
            note_chunk(self._recording, self._start, data)
        self._recording.complete = True
        return data
