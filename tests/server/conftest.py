from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from langgraph_sdk.sse import SSEDecoder, aiter_lines_raw

from streamtap.server import create_app
from tests.server._support import LiveServer

HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """``serve(graphs, **create_app_kwargs)`` -> a started LiveServer, stopped after the test."""
    with ExitStack() as stack:

        def start(graphs: dict[str, Any], **kwargs: Any) -> LiveServer:
            kwargs.setdefault("disconnect_grace", 0.2)
            return stack.enter_context(LiveServer(create_app(graphs, **kwargs)))

        yield start


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str, Any]]:
    """(id, event, data) parsed with the official SDK's own SSE decoder."""
    decoder = SSEDecoder()
    async for line in aiter_lines_raw(response):
        part = decoder.decode(bytes(line).rstrip(b"\n"))
        if part is not None and part.event:
            yield part.id, part.event, part.data
