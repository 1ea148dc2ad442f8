"""The runner: runs a step loop's tasks and interleaves their output, sync or async.

Every producer – the step loop, the ``messages`` callback handler, the
``custom`` writer, subgraph loops – puts ``(namespace, mode, payload)`` parts
on ONE stream queue per ``stream()`` call (``_stream_queue``). The runners
here (``stream_steps`` and ``astream_steps``) interleave task completions with
those parts, so a node's tokens reach the consumer while it runs and always
before its ``updates``. A finished task is reported on the same queue as a
``(_DONE, task, exception)`` triple.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from contextlib import aclosing
from typing import Any

from greenlet import getcurrent, greenlet

from streamtap.graph._algo import Task
from streamtap.graph._call_runner import AsyncCalls, SyncCalls
from streamtap.graph._execute import aexecute_task, execute_task
from streamtap.graph._lifecycle import Lifecycle
from streamtap.graph._loop import StepLoop
from streamtap.graph._retry import CLOSING
from streamtap.graph._runtime import StreamPart
from streamtap.graph._stream_queue import AsyncStreamQueue, Parts, StreamClosed, SyncStreamQueue
from streamtap.graph.errors import StreamThreadError, is_invalid_resume

_DONE = object()


def _drain_sync(q: queue.SimpleQueue[Any]) -> Iterator[StreamPart]:
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


def _finish(
    loop: StepLoop, failure: BaseException | None, leftovers: Iterator[Any]
) -> Iterator[StreamPart]:
    """End the loop: the parts still queued (task reports dropped), then its failure, if any."""
    failure = loop.finish(failure)
    for item in leftovers:
        if item[0] is not _DONE:
            yield item
    if failure is not None:
        raise failure


def _wake(waiter: asyncio.Future[None], _: object = None) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _stepped(
    coro: Coroutine[Any, Any, Any], ctx: contextvars.Context, parts: Parts
) -> AsyncGenerator[None, None]:
    """Run a step's only task in the runner's own task: a task of its own costs a loop
    turn to start, one to report it done, and one more for every token it streams (the
    runner woken by each put). Yields whenever ``parts`` holds parts the runner must
    hand on, before the coroutine waits: a node's tokens stream as they come.

    It steps ``coro`` in ``ctx`` as ``Task`` does: a future the coroutine yields is
    waited for here (the coroutine reads its outcome when resumed; a part put from
    another thread, a sync node's, wakes the wait too), a bare ``yield``
    (``asyncio.sleep(0)``) gives the loop a turn. Cancelling this task cancels the
    future the coroutine waits on, so the coroutine gets the ``CancelledError`` as in a
    task of its own; a cancel that finds no such future is thrown in. Closed before
    the coroutine ended (the consumer stopped reading), the coroutine is cancelled and
    run to its end, its cleanup awaited.
    """
    loop = asyncio.get_running_loop()
    step: Callable[..., Any] = coro.send
    arg: Any = None
    finished = False
    # once this task is cancelled, no part is handed on until the coroutine ended: the
    # consumer's next() would return normally, the cancel swallowed, and the coroutine
    # would go on in the consumer's next task, which nobody cancelled
    cancelled = False
    yielded: Any = None
    try:
        while True:
            try:
                yielded = ctx.run(step, arg)
            except StopIteration:
                finished = True
                return
            except BaseException:
                finished = True
                raise
            step, arg = coro.send, None
            if parts.items and not cancelled:
                yield
            if yielded is None:
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError as exc:  # cancelled while waiting for a turn
                    step, arg, cancelled = coro.throw, exc, True
                continue
            if not getattr(yielded, "_asyncio_future_blocking", False):
                raise RuntimeError(f"a task's coroutine yielded {yielded!r}, not a future")
            yielded._asyncio_future_blocking = False
            while not yielded.done():
                waiter = parts.waiter = loop.create_future()
                wake = functools.partial(_wake, waiter)
                yielded.add_done_callback(wake)
                try:
                    await waiter
                except asyncio.CancelledError as exc:
                    cancelled = True
                    if not yielded.cancel():  # nothing left to cancel: thrown in
                        step, arg = coro.throw, exc
                finally:
                    yielded.remove_done_callback(wake)
                    if parts.waiter is waiter:
                        parts.waiter = None
                if parts.items and not yielded.done() and not cancelled:
                    yield
    finally:
        if not finished:
            # closed while the coroutine waits on a future: cancel that future first, as
            # a cancelled task does, so what it stands for stops too (a gather's children:
            # langchain-core runs a model's stream in one, which went on to its end)
            if yielded is not None and not yielded.done() and yielded.cancel():
                with contextlib.suppress(BaseException):
                    await yielded  # settled; the coroutine then reads its CancelledError
                await _cancelled_to_the_end(coro, ctx, resumed=True)
            else:
                await _cancelled_to_the_end(coro, ctx)


async def _cancelled_to_the_end(
    coro: Coroutine[Any, Any, Any], ctx: contextvars.Context, *, resumed: bool = False
) -> None:
    """Throw ``CancelledError`` into ``coro`` (``resumed``: the future it waits on was
    cancelled instead, and it is resumed to read that) and run it to its end (its
    ``finally`` blocks may await), as a cancelled task would run."""
    ctx.run(CLOSING.set, True)
    step: Callable[..., Any] = coro.send if resumed else coro.throw
    arg: Any = None if resumed else asyncio.CancelledError()
    with contextlib.suppress(asyncio.CancelledError, StopIteration):
        while True:
            yielded = ctx.run(step, arg)
            step, arg = coro.send, None
            if yielded is not None:
                yielded._asyncio_future_blocking = False
                with contextlib.suppress(BaseException):
                    await yielded
            else:
                await asyncio.sleep(0)
    coro.close()


def _scheduled(loop: StepLoop) -> list[Task]:
    """The error handlers the loop's last commit scheduled (``_error_handlers``)."""
    tasks, loop.scheduled = loop.scheduled, []
    return tasks


def _deadline(loop: StepLoop) -> float | None:
    """When the step must be over (``graph.step_timeout``), on the monotonic clock."""
    timeout = loop.graph.step_timeout
    return None if timeout is None else time.monotonic() + timeout


def _get_before(sq: SyncStreamQueue, deadline: float) -> Any:
    try:
        return sq.q.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise TimeoutError("Timed out") from None


async def _aget_before(sq: AsyncStreamQueue, deadline: float) -> Any:
    """The next part, or LangGraph's ``asyncio.TimeoutError`` once the step ran out of time
    (the runner then cancels the step's tasks)."""
    try:
        return await asyncio.wait_for(sq.get(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise TimeoutError("Timed out") from None


def _execute_capturing(loop: StepLoop, task: Task) -> BaseException | None:
    try:
        execute_task(loop, task)
    except BaseException as exc:  # handed to commit, re-raised at end of step
        return exc
    return None


def _live_in_greenlet(
    loop: StepLoop, sq: SyncStreamQueue, task: Task, shape: Callable[[StreamPart], Any]
) -> Iterator[Any]:
    """Run a step's only task in a greenlet of the caller's thread, yielding its parts live.

    The task's puts switch back here with the part (see ``SyncStreamQueue``), so a
    token costs two greenlet switches instead of a cross-thread queue hand-off,
    and the step needs no worker thread. A greenlet can only be resumed in the
    thread that started it, so a resume from elsewhere raises
    ``StreamThreadError`` instead of hanging. Closing the stream throws
    ``StreamClosed`` into the greenlet that last put, which unwinds the node
    (and closes its model stream) before ``close()`` returns.
    """
    q = sq.q
    owner, owner_id = threading.current_thread(), threading.get_ident()
    worker = greenlet(_execute_capturing)
    worker.gr_context = contextvars.copy_context()
    resume: greenlet = worker
    args: tuple[Any, ...] = (loop, task)
    try:
        while True:
            if threading.get_ident() != owner_id:
                raise StreamThreadError(owner.name, threading.current_thread().name)
            # whoever resumes this generator is where the task's parts must go
            sq.consumer = worker.parent = getcurrent()
            out = resume.switch(*args)
            args = ()
            if worker.dead:
                sq.consumer = None
                loop.commit(task, out)
                if loop.saves is not None:
                    loop.saves.flush()
                return
            item, producer = out, sq.producer
            sq.producer = None
            if producer is not None:  # always set by the put that switched here
                resume = producer
            for queued in _drain_sync(q):  # put earlier by the node's own threads
                yield shape(queued)
            yield shape(item)
    finally:
        sq.consumer = None
        sq.closed = sq.closed or not worker.dead
        if not worker.dead and threading.get_ident() == owner_id:
            while not worker.dead:
                worker.parent = getcurrent()
                (worker if resume.dead else resume).throw(StreamClosed())
        # from another thread the node stays paused in its own thread, where
        # greenlet unwinds it (GreenletExit) once nothing references it


def stream_steps(
    loop: StepLoop, sq: SyncStreamQueue, shape: Callable[[StreamPart], Any]
) -> Iterator[Any]:
    """Run the loop in the caller's thread.

    A step's only task runs inline when no output is live. When it is, the
    task runs in a greenlet if the caller is the main thread, in a worker
    thread otherwise; parallel tasks always run in worker threads, like
    LangGraph's.
    """
    q = sq.q
    executor: concurrent.futures.ThreadPoolExecutor | None = None
    loop.calls = calls = SyncCalls(loop)
    # an entrypoint's calls stream from threads: its own run must not block the consumer
    functional = loop.graph.return_writes is not None

    def in_thread(task: Task) -> None:
        exc = _execute_capturing(loop, task)
        q.put((_DONE, task, exc))

    saves = loop.saves
    failure: BaseException | None = None
    try:
        try:
            lookup = loop.lookup()
            loop.start(*(saves.load_start(*lookup) if saves is not None and lookup else ()))
            if lifecycle := Lifecycle.of(loop, is_async=False):
                lifecycle.resume()
            for item in _drain_sync(q):
                yield shape(item)
            while True:
                if saves is not None:
                    saves.flush()
                if (tasks := loop.tick()) is None:
                    break
                for item in _drain_sync(q):
                    yield shape(item)
                timed = loop.graph.step_timeout is not None  # LangGraph: no fast path then
                inline = not loop.live and not functional
                if len(tasks) == 1 and not timed and (inline or tasks[0].hidden):
                    task = tasks[0]
                    loop.commit(
                        task, contextvars.copy_context().run(_execute_capturing, loop, task)
                    )
                    if saves is not None:
                        saves.flush()
                    tasks = _scheduled(loop)  # its error handler, run as LangGraph runs it
                elif (
                    len(tasks) == 1
                    and not timed
                    and not functional
                    and threading.current_thread() is threading.main_thread()
                ):
                    # outside the main thread a pool (web server, Gradio) may resume
                    # this generator in another thread: a greenlet could not follow
                    yield from _live_in_greenlet(loop, sq, tasks[0], shape)
                    tasks = _scheduled(loop)
                if tasks:
                    # about to wait: starting a worker thread can hand it the GIL
                    # before this thread reaches sq.get()
                    sq.idle = True
                    if executor is None:  # config["max_concurrency"]: at most that many at once
                        executor = concurrent.futures.ThreadPoolExecutor(
                            loop.config.get("max_concurrency"), thread_name_prefix="streamtap-graph"
                        )
                    for t in tasks:
                        executor.submit(contextvars.copy_context().run, in_thread, t)
                    pending = len(tasks)
                    deadline = _deadline(loop)
                    while pending:
                        item = sq.get() if deadline is None else _get_before(sq, deadline)
                        if item[0] is _DONE:
                            loop.commit(item[1], item[2])
                            if saves is not None:
                                saves.flush()
                            pending -= 1
                            for t in _scheduled(loop):  # an error handler starts at once
                                executor.submit(contextvars.copy_context().run, in_thread, t)
                                pending += 1
                        else:
                            yield shape(item)
                calls.wait()
                for item in _drain_sync(q):
                    yield shape(item)
                if saves is not None:
                    saves.flush()
                loop.end_step()
                for item in _drain_sync(q):
                    yield shape(item)
        except GeneratorExit:
            raise
        except BaseException as exc:
            failure = exc
        loop.save_on_exit(failure)
        if saves is not None:
            saves.flush()
        if lifecycle := Lifecycle.of(loop, is_async=False):
            lifecycle.interrupt(failure)
        for item in _finish(loop, failure, _drain_sync(q)):
            yield shape(item)
    finally:
        sq.closed = True
        if executor is not None:
            # threads can't be cancelled: their next put raises StreamClosed, so wait
            executor.shutdown(wait=True)
        calls.close()


async def astream_steps(
    loop: StepLoop, sq: AsyncStreamQueue, shape: Callable[[StreamPart], Any]
) -> AsyncGenerator[Any, None]:
    """Run the loop on the event loop; nodes are asyncio tasks, sync nodes run in threads."""
    q = sq.q
    running: dict[asyncio.Task[None], Task] = {}
    loop.calls = calls = AsyncCalls(loop)
    functional = loop.graph.return_writes is not None  # its calls stream while it runs

    # config["max_concurrency"]: at most that many of a step's tasks run at once (LangGraph's)
    limit = loop.config.get("max_concurrency")
    slots = asyncio.Semaphore(limit) if limit else None

    async def as_task(task: Task) -> None:
        exc: BaseException | None = None
        try:
            if slots is None:
                await aexecute_task(loop, task)
            else:
                async with slots:
                    await aexecute_task(loop, task)
        except BaseException as e:
            exc = e
        if not sq.closed:
            q.put_nowait((_DONE, task, exc))

    def drain() -> list[Any]:
        out = []
        while True:
            try:
                out.append(q.get_nowait())
            except asyncio.QueueEmpty:
                return out

    saves = loop.saves
    failure: BaseException | None = None
    try:
        try:
            lookup = loop.lookup()
            loop.start(*(await saves.aload_start(*lookup) if saves is not None and lookup else ()))
            if lifecycle := Lifecycle.of(loop, is_async=True):
                await lifecycle.aresume()
            for item in drain():
                yield shape(item)
            while True:
                if saves is not None:
                    await saves.aflush()
                if (tasks := loop.tick()) is None:
                    break
                for item in drain():
                    yield shape(item)
                timed = loop.graph.step_timeout is not None
                inline = not functional
                if len(tasks) == 1 and not timed and (inline or tasks[0].hidden):
                    task = tasks[0]
                    exc: BaseException | None = None
                    stepped = _stepped(aexecute_task(loop, task), contextvars.copy_context(), q)
                    try:
                        async with aclosing(stepped):
                            async for _ in stepped:
                                for item in drain():
                                    yield shape(item)
                    except asyncio.CancelledError:
                        raise
                    except GeneratorExit:
                        raise
                    except BaseException as e:
                        exc = e
                    for item in drain():
                        yield shape(item)
                    loop.commit(task, exc)
                    if saves is not None:
                        await saves.aflush()
                    tasks = _scheduled(loop)
                if tasks:
                    sq.idle = True
                    for t in tasks:
                        at = asyncio.create_task(as_task(t), context=contextvars.copy_context())
                        running[at] = t
                    pending = len(tasks)
                    deadline = _deadline(loop)
                    while pending:
                        item = await (sq.get() if deadline is None else _aget_before(sq, deadline))
                        if item[0] is _DONE:
                            done_task, exc = item[1], item[2]
                            for at, t in list(running.items()):
                                if t is done_task:
                                    del running[at]
                            loop.commit(done_task, exc)
                            if saves is not None:
                                await saves.aflush()
                            pending -= 1
                            for t in _scheduled(loop):
                                at = asyncio.create_task(
                                    as_task(t), context=contextvars.copy_context()
                                )
                                running[at] = t
                                pending += 1
                            if loop.error is not None and not is_invalid_resume(loop.error):
                                # an invalid resume fails the run once the others finish
                                for at in running:
                                    at.cancel()
                        else:
                            yield shape(item)
                await calls.wait()
                for item in drain():
                    yield shape(item)
                if saves is not None:
                    await saves.aflush()
                loop.end_step()
                for item in drain():
                    yield shape(item)
        except GeneratorExit:
            raise
        except asyncio.CancelledError as exc:
            # cancelled by the caller: the nodes stop, and what the run did is still saved
            # (durability="exit" included, as LangGraph saves it) before the cancel goes on
            for at in running:
                at.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            await calls.cancel()
            loop.save_on_exit(exc)
            if saves is not None:
                await asyncio.shield(saves.aflush())
            raise
        except BaseException as exc:
            failure = exc
        loop.save_on_exit(failure)
        if saves is not None:
            await saves.aflush()
        if lifecycle := Lifecycle.of(loop, is_async=True):
            await lifecycle.ainterrupt(failure)
        # lazily: what loop.finish() itself emits (a bare interrupt's update) is queued then
        for item in _finish(loop, failure, (item for _ in (0,) for item in drain())):
            yield shape(item)
    finally:
        sq.closed = True
        for at in running:
            at.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await calls.cancel()
