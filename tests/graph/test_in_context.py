"""``_stepped``: a step's only task run in the runner's own task, as a task of its own
would run it (its result, its failure, its context, cancellation, bare yields), yielding
whenever parts wait to be handed on, and finished as a cancelled task when closed early."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from streamtap.graph._runner import _stepped
from streamtap.graph._stream_queue import Parts

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outer")


async def _run(
    coro: Coroutine[Any, Any, Any], ctx: contextvars.Context | None = None
) -> list[list[Any]]:
    """Drive ``coro``; the parts waiting at each yield, in order."""
    parts = Parts(asyncio.get_running_loop())
    seen: list[list[Any]] = []
    _PARTS.set(parts)
    async for _ in _stepped(coro, ctx or contextvars.copy_context(), parts):
        seen.append(list(parts.items))
        parts.items.clear()
    return seen


_PARTS: contextvars.ContextVar[Parts] = contextvars.ContextVar("_PARTS")


async def _node(log: list[str]) -> None:
    VAR.set("inner")
    log.append(VAR.get())
    await asyncio.sleep(0)  # a bare yield
    await asyncio.sleep(0.001)  # a future
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    loop.call_soon(fut.set_result, "from a future")
    log.append(await fut)
    log.append(VAR.get())


async def test_runs_in_its_own_context_as_a_task() -> None:
    log: list[str] = []
    ctx = contextvars.copy_context()
    assert await _run(_node(log), ctx) == []
    assert log == ["inner", "from a future", "inner"]
    assert VAR.get() == "outer" and ctx[VAR] == "inner"  # the change stayed in its context


async def test_parts_are_handed_on_before_each_wait() -> None:
    async def node() -> None:
        parts = _PARTS.get()
        parts.put_nowait("a")
        parts.put_nowait("b")
        await asyncio.sleep(0)
        parts.put_nowait("c")
        await asyncio.sleep(0.001)
        parts.put_nowait("d")  # after the last wait: the runner drains it itself

    assert await _run(node()) == [["a", "b"], ["c"]]


async def test_a_part_put_from_a_thread_wakes_the_wait() -> None:
    release = threading.Event()

    def worker(parts: Parts, loop: asyncio.AbstractEventLoop) -> str:
        loop.call_soon_threadsafe(parts.put_nowait, "token")
        release.wait(5)
        return "done"

    async def node() -> None:
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, worker, _PARTS.get(), loop) == "done"

    parts = Parts(asyncio.get_running_loop())
    _PARTS.set(parts)
    got: list[list[Any]] = []
    async for _ in _stepped(node(), contextvars.copy_context(), parts):
        got.append(list(parts.items))  # seen while the worker still runs
        parts.items.clear()
        release.set()
    assert got == [["token"]]


async def test_a_failed_future_raises_in_the_coroutine() -> None:
    caught: list[str] = []

    async def node() -> None:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_exception, ValueError("boom"))
        try:
            await fut
        except ValueError as exc:
            caught.append(str(exc))

    await _run(node())
    assert caught == ["boom"]


async def test_cancel_reaches_the_coroutine_waiting_on_a_future() -> None:
    seen: list[str] = []

    async def node() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    task = asyncio.ensure_future(_run(node()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside"]


async def test_cancel_between_turns_is_thrown_in_and_can_be_handled() -> None:
    result: list[str] = []

    async def node() -> None:
        try:
            for _ in range(1000):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            result.append("handled")

    task = asyncio.ensure_future(_run(node()))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    await task
    assert result == ["handled"]


async def test_a_timeout_inside_works_on_the_runners_task() -> None:
    result: list[str] = []

    async def node() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            result.append("timed out")

    await _run(node())
    assert result == ["timed out"]


async def test_an_exception_propagates() -> None:
    async def node() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await _run(node())


async def test_closed_early_the_coroutine_is_cancelled_and_its_cleanup_awaited() -> None:
    log: list[str] = []

    async def node() -> None:
        parts = _PARTS.get()
        try:
            for i in range(100):
                parts.put_nowait(i)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        finally:
            await asyncio.sleep(0.001)  # an awaiting cleanup (closing a stream)
            log.append("cleaned up")

    parts = Parts(asyncio.get_running_loop())
    _PARTS.set(parts)
    stepped = _stepped(node(), contextvars.copy_context(), parts)
    async for _ in stepped:
        break
    await stepped.aclose()
    assert log == ["cancelled", "cleaned up"]
