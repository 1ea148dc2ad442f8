"""The I/O half of a resilient call: iterate, time out, sleep, fall back.

One sync and one async driver, line for line the same shape: for each model, a
tenacity loop whose attempts stream chunks straight through to the consumer
(``yield`` inside ``with attempt``); every decision is :class:`~._call.Call`'s.
A consumer that stops (GeneratorExit, cancellation) is not a failure to retry:
it leaves the loop at once, closing the attempt's HTTP response on the way.

Models are reached only through the chunk-source seam
(``streamtap.providers.ChunkSource``): ``open`` a stream, iterate it, ``abort``
it from the watchdog, ``close`` it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing
from typing import Any, NoReturn

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from streamtap.resilience._call import Attempt, Call
from streamtap.resilience._recovery import aemit_reset, emit_reset
from streamtap.resilience._retry import StopAtDeadline, WaitRetryAfter
from streamtap.resilience._timeouts import ReadGuard, Watchdog

__all__ = ["astream_attempts", "stream_attempts"]


# -- the sync driver ------------------------------------------------------------------------
def _retrying(call: Call, before_sleep: Callable[[RetryCallState], Any]) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(call.policy.max_attempts)
        | StopAtDeadline(lambda: call.retry_deadline),
        "wait": WaitRetryAfter(call.policy),
        "retry": retry_if_exception(call.should_retry),
        "before_sleep": before_sleep,
        "reraise": True,
    }


def stream_attempts(
    call: Call, run_manager: CallbackManagerForLLMRun | None
) -> Generator[AIMessageChunk, None, None]:
    """The chunks the consumer sees; raises what :meth:`Call.final_error` decides."""

    def before_sleep(state: RetryCallState) -> None:
        call.before_sleep(state)
        if run_manager is not None:
            run_manager.on_retry(state)

    watchdog = Watchdog() if call.timeouts.any else None
    try:
        for index in range(len(call.models)):
            try:
                stopped: BaseException | None = None
                for attempt in Retrying(**_retrying(call, before_sleep)):
                    with attempt:
                        try:
                            yield from _planned(call, index, watchdog, run_manager)
                        except Exception:
                            raise  # tenacity's to judge
                        except BaseException as exc:  # consumer gone: not a failure to retry
                            stopped = exc
                    if stopped is not None:
                        raise stopped
                return
            except Exception as exc:
                if not call.fall_back(exc, index):
                    _reraise(exc, call.final_error(exc))
    finally:
        if watchdog is not None:
            watchdog.close()


def _planned(
    call: Call,
    index: int,
    watchdog: Watchdog | None,
    run_manager: CallbackManagerForLLMRun | None,
) -> Generator[AIMessageChunk, None, None]:
    """One attempt on ``models[index]``, re-planned at once if its continuation is refused."""
    attempt = call.begin(index)
    while True:
        try:
            yield from _attempt(attempt, watchdog, run_manager)
            return
        except Exception as exc:
            replanned = call.replan(attempt, exc)
            if replanned is None:
                raise
            attempt = replanned


def _attempt(
    attempt: Attempt,
    watchdog: Watchdog | None,
    run_manager: CallbackManagerForLLMRun | None,
) -> Generator[AIMessageChunk, None, None]:
    model, call = attempt.model, attempt.call
    budget = attempt.header_budget() if watchdog is not None else None
    stream = model.open(attempt.messages, stop=call.stop, header_timeout=budget, **attempt.kwargs)
    guard = ReadGuard(stream)
    inner = iter(stream)
    try:
        while True:
            if watchdog is not None:
                deadline, kind = attempt.deadline()
                if deadline is not None:
                    watchdog.arm(deadline, functools.partial(guard.fire, kind))
            try:
                chunk = next(inner)
            except StopIteration:
                break
            finally:
                if watchdog is not None:
                    watchdog.disarm()
            if guard.fired:
                raise _Aborted()
            for out in attempt.accept(chunk):
                if (reset := attempt.take_reset()) is not None:
                    emit_reset(reset, run_manager)
                yield out
            attempt.resumed()
    except Exception as exc:
        fired = guard.fired
        if fired is None and budget is not None:
            # The header wait hit the per-request budget (the source's own
            # timeout error): a failure at or past the deadline is that timeout.
            deadline, kind = attempt.deadline()
            if deadline is not None and time.monotonic() >= deadline:
                fired = kind
        _reraise(exc, attempt.failed(exc, stream, fired))
    except BaseException as exc:  # the consumer stopped (close, cancel, interrupt)
        call.stopped(exc, stream)
        raise
    finally:
        stream.close()


# -- the async driver --------------------------------------------------------------------
async def astream_attempts(
    call: Call, run_manager: AsyncCallbackManagerForLLMRun | None
) -> AsyncGenerator[AIMessageChunk, None]:
    """Async twin of :func:`stream_attempts`; timeouts cancel the read instead of a watchdog."""

    async def before_sleep(state: RetryCallState) -> None:
        call.before_sleep(state)
        if run_manager is not None:
            await run_manager.on_retry(state)

    for index in range(len(call.models)):
        try:
            stopped: BaseException | None = None
            async for attempt in AsyncRetrying(**_retrying(call, before_sleep)):
                with attempt:
                    try:
                        async with aclosing(_aplanned(call, index, run_manager)) as chunks:
                            async for chunk in chunks:
                                yield chunk
                    except Exception:
                        raise
                    except BaseException as exc:
                        stopped = exc
                if stopped is not None:
                    raise stopped
            return
        except Exception as exc:
            if not call.fall_back(exc, index):
                _reraise(exc, call.final_error(exc))


async def _aplanned(
    call: Call, index: int, run_manager: AsyncCallbackManagerForLLMRun | None
) -> AsyncGenerator[AIMessageChunk, None]:
    """Async twin of :func:`_planned`."""
    attempt = call.begin(index)
    while True:
        try:
            async with aclosing(_aattempt(attempt, run_manager)) as chunks:
                async for chunk in chunks:
                    yield chunk
            return
        except Exception as exc:
            replanned = call.replan(attempt, exc)
            if replanned is None:
                raise
            attempt = replanned


async def _aattempt(
    attempt: Attempt, run_manager: AsyncCallbackManagerForLLMRun | None
) -> AsyncGenerator[AIMessageChunk, None]:
    model, call = attempt.model, attempt.call
    stream = model.open(attempt.messages, stop=call.stop, **attempt.kwargs)
    inner = aiter(stream)
    fired: str | None = None
    try:
        while True:
            deadline, kind = attempt.deadline()
            try:
                if deadline is None:
                    chunk = await anext(inner)
                else:
                    timer = asyncio.timeout(deadline - time.monotonic())
                    try:
                        async with timer:
                            chunk = await anext(inner)
                    except TimeoutError:
                        if timer.expired():
                            fired = kind
                        raise
            except StopAsyncIteration:
                break
            for out in attempt.accept(chunk):
                if (reset := attempt.take_reset()) is not None:
                    await aemit_reset(reset, run_manager)
                yield out
            attempt.resumed()
    except Exception as exc:
        _reraise(exc, attempt.failed(exc, stream, fired))
    except BaseException as exc:
        call.stopped(exc, stream)
        raise
    finally:
        await stream.aclose()


def _reraise(exc: BaseException, err: BaseException) -> NoReturn:
    """Raise ``err`` in place of ``exc`` without touching the cause chain it already has."""
    if err is exc:
        raise exc
    raise err


class _Aborted(Exception):
    """The watchdog fired but the read still returned a chunk: end the attempt."""
