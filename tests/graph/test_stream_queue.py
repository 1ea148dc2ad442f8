"""The async stream queue (``streamtap.graph._stream_queue``): FIFO, thread-safe puts,
and a consumer cancelled while waiting loses nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streamtap.graph._stream_queue import AsyncStreamQueue, StreamClosed


async def test_fifo_across_waits_and_threads() -> None:
    sq = AsyncStreamQueue()
    sq.put(((), "messages", 1))
    sq.put(((), "messages", 2))
    assert await sq.get() == ((), "messages", 1)
    assert await sq.get() == ((), "messages", 2)
    waiting = asyncio.ensure_future(sq.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    thread = threading.Thread(target=lambda: [sq.put(((), "custom", i)) for i in range(3)])
    thread.start()
    thread.join()
    assert await waiting == ((), "custom", 0)
    assert [await sq.get() for _ in range(2)] == [((), "custom", 1), ((), "custom", 2)]


async def test_a_cancelled_get_takes_nothing() -> None:
    sq = AsyncStreamQueue()
    waiting = asyncio.ensure_future(sq.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    sq.put(((), "values", "a"))
    assert await asyncio.wait_for(sq.get(), 1) == ((), "values", "a")
    assert sq.q.waiter is None


async def test_timed_out_get_then_put_is_still_delivered() -> None:
    sq = AsyncStreamQueue()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sq.get(), 0.01)
    sq.put(((), "values", "late"))
    assert await sq.get() == ((), "values", "late")


async def test_puts_after_close_are_refused() -> None:
    sq = AsyncStreamQueue()
    sq.closed = True
    with pytest.raises(StreamClosed):
        sq.put(((), "values", None))
