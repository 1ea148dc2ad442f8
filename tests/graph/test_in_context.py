"""``_in_context``: a step's only task awaited in the runner's own task, as a task of its
own would run it (its result, its failure, its context, cancellation, bare yields)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from streamtap.graph._runner import _in_context

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outer")


async def _node(log: list[str]) -> str:
    VAR.set("inner")
    log.append(VAR.get())
    await asyncio.sleep(0)  # a bare yield
    await asyncio.sleep(0.001)  # a future
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    loop.call_soon(fut.set_result, "from a future")
    log.append(await fut)
    log.append(VAR.get())
    return "done"


async def test_result_and_context_as_a_task() -> None:
    log: list[str] = []
    ctx = contextvars.copy_context()
    assert await _in_context(_node(log), ctx) == "done"
    assert log == ["inner", "from a future", "inner"]
    assert VAR.get() == "outer" and ctx[VAR] == "inner"  # the change stayed in its context


async def test_a_failed_future_raises_in_the_coroutine() -> None:
    async def node() -> str:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_exception, ValueError("boom"))
        try:
            await fut
        except ValueError as exc:
            return f"caught {exc}"
        return "not raised"

    assert await _in_context(node(), contextvars.copy_context()) == "caught boom"


async def test_cancel_reaches_the_coroutine_waiting_on_a_future() -> None:
    seen: list[str] = []

    async def node() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    task = asyncio.ensure_future(_in_context(node(), contextvars.copy_context()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside"]


async def test_cancel_between_turns_is_thrown_in_and_can_be_handled() -> None:
    async def node() -> str:
        try:
            for _ in range(1000):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return "handled"
        return "ran out"

    task = asyncio.ensure_future(_in_context(node(), contextvars.copy_context()))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    assert await task == "handled"


async def test_a_timeout_inside_works_on_the_runners_task() -> None:
    async def node() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "no timeout"

    assert await _in_context(node(), contextvars.copy_context()) == "timed out"


async def test_an_exception_propagates_and_closes() -> None:
    async def node() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await _in_context(node(), contextvars.copy_context())
