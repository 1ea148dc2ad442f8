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
    """The model's aiobotocore clients: one per event loop, each built once in its loop.

    Loops in several threads may share a model: each gets its own client, held here
    until that loop shuts down (or ``close()`` runs in it), so no loop's client is
    dropped, or closed, while another loop uses the model.
    """

    def __init__(self, factory: Callable[[], Any], prepare: Callable[[Any], Any]) -> None:
        self._factory = factory
        self._prepare = prepare
        self._leases: dict[asyncio.AbstractEventLoop, _Lease] = {}
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        lease = self._leases.get(loop)
        if lease is not None and not lease.closed:
            return lease.client
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            lease = self._leases.get(loop)
            if lease is None or lease.closed:
                self._forget_ended()
                context = self._factory()
                lease = _Lease(context, self._prepare(await context.__aenter__()), loop)
                lease.guard = _closed_with_the_loop(lease)
                await anext(lease.guard)  # parked until the loop shuts its generators down
                self._leases[loop] = lease
        return lease.client

    def _forget_ended(self) -> None:
        """Drop the leases whose client is closed or whose loop has ended."""
        # list(): one step under the GIL, while another thread's loop may add its lease
        for loop, lease in list(self._leases.items()):
            if lease.closed or loop.is_closed():
                self._leases.pop(loop, None)
                self._locks.pop(loop, None)

    @property
    def closed(self) -> bool:
        """Whether no open client is held (none built yet, or every one closed)."""
        return all(lease.closed for lease in self._leases.values())

    async def close(self) -> None:
        """Close the running loop's client now (its shutdown then finds nothing to do);
        the clients of other loops close with their own loops."""
        lease = self._leases.pop(asyncio.get_running_loop(), None)
        if lease is not None:
            await lease.close()
        self._forget_ended()
