"""aiobotocore's client for one model: built inside the running loop, closed with it.

An aiobotocore client owns an aiohttp session, which must be closed on the loop that
made it, before that loop closes; otherwise aiohttp reports "Unclosed client session"
when it is collected. LangChain callers never close a chat model, and a script's
``asyncio.run()`` ends its loop without asking. So each client is leased together with
a parked async generator: ``asyncio.run`` (and every runner that calls the loop's
``shutdown_asyncgens()``, pytest-asyncio and uvicorn's included) closes that generator
while the loop still runs, and its ``finally`` closes the client. ``aclose()`` closes it
sooner; a model used from another loop gets a client of that loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["AsyncClient"]


class _Lease:
    """One client and the context that made it, closed at most once."""

    __slots__ = ("client", "context", "guard", "loop")

    def __init__(self, context: Any, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.context: Any = context
        self.client = client
        self.loop = loop
        self.guard: AsyncIterator[None] | None = None

    @property
    def closed(self) -> bool:
        return self.context is None

    async def close(self) -> None:
        context, self.context = self.context, None
        if context is not None:
            await context.__aexit__(None, None, None)


async def _closed_with_the_loop(lease: _Lease) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await lease.close()


class AsyncClient:
    """The model's aiobotocore client for the running loop (one per loop, built once)."""

    def __init__(self, factory: Callable[[], Any], prepare: Callable[[Any], Any]) -> None:
        self._factory = factory
        self._prepare = prepare
        self._lease: _Lease | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        lease = self._lease
        if lease is not None and lease.loop is loop and not lease.closed:
            return lease.client
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            lease = self._lease
            if lease is None or lease.loop is not loop or lease.closed:
                context = self._factory()
                lease = _Lease(context, self._prepare(await context.__aenter__()), loop)
                lease.guard = _closed_with_the_loop(lease)
                await anext(lease.guard)  # parked until the loop shuts its generators down
                self._lease = lease
        return lease.client

    @property
    def closed(self) -> bool:
        """Whether no open client is held (none built yet, or the last one closed)."""
        return self._lease is None or self._lease.closed

    async def close(self) -> None:
        """Close the current client now (its loop's shutdown then finds nothing to do)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.close()
