"""Where the SDKs' requests go: an in-process ``httpx2.MockTransport`` or the loopback server.

Every scenario gets its SDK clients from an :class:`Endpoint`, so the raw SDK,
streamtap, LangChain and LangGraph all read the very same bytes through the
very same transport. The requested ``model`` picks the body: ``bench-<N>``
streams ``N`` tokens.

In process, each piece of the body is handed over separately, and the async
stream yields to the event loop before every piece, as a socket read would:
without that an async consumer would never run until the stream ended.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx2

from bench.streams import Body

__all__ = ["BASE", "Endpoint", "InProcess", "Loopback", "model_name", "tokens_of"]

_MODEL = re.compile(r"bench-(\d+)")
#: Base URL the in-process transport answers (never resolved: the mock handles it).
BASE: Final = "http://bench.invalid"
API_KEY: Final = "sk-bench-not-a-real-key"


def model_name(tokens: int) -> str:
    return f"bench-{tokens}"


def tokens_of(request_body: bytes) -> int:
    """The stream length a request asks for (its ``model`` field)."""
    model = str(json.loads(request_body or b"{}").get("model", ""))
    match = _MODEL.fullmatch(model)
    if match is None:
        raise ValueError(
            f"benchmark requests name their stream as model='bench-<N>', got {model!r}"
        )
    return int(match.group(1))


def vendor_of(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    raise ValueError(f"no benchmark route for {path!r}")


class _Bodies:
    """Bodies built on first request and reused: building one is not part of a run."""

    def __init__(self, per_piece: int) -> None:
        self.per_piece = per_piece
        self._cache: dict[tuple[str, int], Body] = {}

    def get(self, vendor: str, tokens: int) -> Body:
        key = (vendor, tokens)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = Body(vendor, tokens, per_piece=self.per_piece)
        return found


class _Pieces(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, pieces: tuple[bytes, ...]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            await asyncio.sleep(0)
            yield piece


_HEADERS: Final = {"content-type": "text/event-stream; charset=utf-8"}


class Endpoint:
    """SDK clients and base URLs for one transport."""

    name: str = ""

    def base_url(self, vendor: str) -> str:  # pragma: no cover
        raise NotImplementedError

    def http_client(self) -> httpx2.Client:  # pragma: no cover
        raise NotImplementedError

    def http_async_client(self) -> httpx2.AsyncClient:  # pragma: no cover
        raise NotImplementedError

    # -- SDK clients ---------------------------------------------------------
    def sdk_client(self, vendor: str) -> Any:
        if vendor == "openai":
            import openai

            return openai.OpenAI(
                api_key=API_KEY,
                base_url=self.base_url(vendor),
                http_client=self.http_client(),
                max_retries=0,
            )
        import anthropic

        return anthropic.Anthropic(
            api_key=API_KEY,
            base_url=self.base_url(vendor),
            http_client=self.http_client(),
            max_retries=0,
        )

    def sdk_async_client(self, vendor: str) -> Any:
        if vendor == "openai":
            import openai

            return openai.AsyncOpenAI(
                api_key=API_KEY,
                base_url=self.base_url(vendor),
                http_client=self.http_async_client(),
                max_retries=0,
            )
        import anthropic

        return anthropic.AsyncAnthropic(
            api_key=API_KEY,
            base_url=self.base_url(vendor),
            http_client=self.http_async_client(),
            max_retries=0,
        )


class InProcess(Endpoint):
    """``httpx2.MockTransport``: no sockets, so only library code is measured."""

    name = "inprocess"

    def __init__(self, *, per_piece: int = 1) -> None:
        self._bodies = _Bodies(per_piece)
        self._transport = httpx2.MockTransport(self._handle)

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = self._bodies.get(vendor_of(request.url.path), tokens_of(request.content))
        return httpx2.Response(200, headers=_HEADERS, stream=_Pieces(body.pieces))

    def base_url(self, vendor: str) -> str:
        return f"{BASE}/v1" if vendor == "openai" else BASE

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=self._transport)

    def http_async_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=self._transport)


#: ``max_keepalive_connections`` of both SDKs' default ``httpx2.Limits``.
SDK_KEEPALIVE = 100


class Loopback(Endpoint):
    """The loopback SSE server (:mod:`bench.server`) on ``127.0.0.1:port``."""

    name = "loopback"

    def __init__(self, port: int, *, max_connections: int = 2048) -> None:
        self.port = port
        # keep-alive as the SDKs set it (openai / anthropic: 100 idle connections):
        # httpcore2's pool probes every idle connection on each request and release,
        # so keeping 1,000 idle would make the SDK itself quadratic at 1,000 streams
        self._limits = httpx2.Limits(
            max_connections=max_connections, max_keepalive_connections=SDK_KEEPALIVE
        )
        self._timeout = httpx2.Timeout(120.0, connect=30.0, pool=120.0)

    def base_url(self, vendor: str) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if vendor == "openai" else root

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(limits=self._limits, timeout=self._timeout, trust_env=False)

    def http_async_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(limits=self._limits, timeout=self._timeout, trust_env=False)
