"""The httpx2 layer: a respx mocker that routes every client through a cassette.

Clients keep their own transport. respx patches ``Client._transport_for_url`` so
each request first goes to the cassette's respx router: a match is answered from
the cassette with the recorded chunk boundaries and pacing; a pass-through (only
in recording modes) goes to the client's real transport, wrapped so that every
chunk is handed to the consumer the moment it arrives and copied, with its
timestamp, into the cassette.

This is the only module that imports respx, and a cassette imports it only when
it starts, after ``install_httpx_alias()``: respx patches whatever module is called
``httpx``, so it must see httpx2 under that name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import anyio
import httpx2
import respx
from respx.mocks import Mocker
from respx.models import PassThrough

from streamtap._compat import httpx2_transport_hook
from streamtap.testing._streams import ReplayStream, recorder_for, teed
from streamtap.testing.errors import CassetteSetupError

__all__ = ["CassetteMocker", "open_router"]


def _active_router() -> Any:
    """The innermost cassette's respx router (typed ``Any``: respx is annotated for httpx)."""
    return CassetteMocker.routers[-1]


class _CassetteTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """The transport respx hands to clients while a cassette is active."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        try:
            response: httpx2.Response = _active_router().handler(request)
        except PassThrough:
            recorder = recorder_for(request)
            start = time.perf_counter()
            return teed(recorder, request, self._real.handle_request(request), start)
        if isinstance(response.stream, ReplayStream):
            time.sleep(response.stream.headers_wait())
        return response

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        try:
            response: httpx2.Response = await _active_router().async_handler(request)
        except PassThrough:
            recorder = recorder_for(request)
            start = time.perf_counter()
            live = await self._real.handle_async_request(request)
            return teed(recorder, request, live, start)
        if isinstance(response.stream, ReplayStream):
            await anyio.sleep(response.stream.headers_wait())
        return response


class CassetteMocker(Mocker):
    """respx mocker: the innermost active cassette router sees every httpx2 request."""

    name: ClassVar[str] = "streamtap-cassette"
    targets: ClassVar[list[str]] = httpx2_transport_hook()[0]
    target_methods: ClassVar[list[str]] = [httpx2_transport_hook()[1]]

    @classmethod
    def mock(cls, spec: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[override]
        def _transport_for_url(self: Any, *args: Any, **kwargs: Any) -> _CassetteTransport:
            return _CassetteTransport(spec(self, *args, **kwargs))

        return _transport_for_url


def open_router(on_request: Callable[[httpx2.Request], Any]) -> Any:
    """Start routing every httpx2 client's requests to ``on_request``; returns the router.

    ``on_request`` answers with a response (replay), returns the request (pass it
    through to the real transport, recording it) or raises. Stop with
    ``router.__exit__(None, None, None)``.
    """
    router = respx.MockRouter(
        assert_all_called=False, assert_all_mocked=True, using=CassetteMocker.name
    )
    route: Any = router.route()  # respx is annotated for httpx; the alias makes it httpx2
    route.mock(side_effect=on_request)
    router.__enter__()
    if not CassetteMocker._patches:  # pragma: no cover - respx changed its internals
        router.__exit__(None, None, None)
        raise CassetteSetupError("streamtap could not patch httpx2 clients through respx")
    return router
