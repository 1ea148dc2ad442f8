"""Running ``@task`` calls (``_calls``) beside the step's tasks, sync or async.

A call runs at once, in parallel with its caller, which holds its future: in a worker
thread under ``stream()``, as an asyncio task under ``astream()`` (from a sync caller
in a thread there, scheduled on the event loop). Each call is committed (saved,
streamed) as it finishes: a thread's before its future resolves; an asyncio task's just
after, so the awaiting caller goes on first and the runner streams the update next, the
order of LangGraph's ``astream_events``. The runner waits for calls nobody waited for
before it ends the step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from typing import Any

from streamtap.graph._algo import Task
from streamtap.graph._calls import commit_call
from streamtap.graph._execute import aexecute_call, execute_call
from streamtap.graph._loop import StepLoop

__all__ = ["AsyncCalls", "SyncCalls"]


class SyncCalls:
    """``stream()``'s calls: each in a worker thread of its own pool."""

    def __init__(self, loop: StepLoop) -> None:
        self.loop = loop
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.futures: list[concurrent.futures.Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, task: Task) -> concurrent.futures.Future[Any]:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self.pool is None:
                self.pool = concurrent.futures.ThreadPoolExecutor(
                    thread_name_prefix="streamtap-task"
                )
            self.futures.append(fut)
            self.pool.submit(contextvars.copy_context().run, self._run, task, fut)
        return fut

    def resolved(self, value: Any) -> concurrent.futures.Future[Any]:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        fut.set_result(value)
        return fut

    def _run(self, task: Task, fut: concurrent.futures.Future[Any]) -> None:
        try:
            value = execute_call(self.loop, task)
        except BaseException as exc:
            commit_call(self.loop, task, exc)
            fut.set_exception(exc)
            return
        commit_call(self.loop, task, None)
        fut.set_result(value)

    def wait(self) -> None:
        """Wait for every call of the step (their errors are their callers')."""
        while True:
            with self._lock:
                futures, self.futures = self.futures, []
            if not futures:
                return
            concurrent.futures.wait(futures)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class AsyncCalls:
    """``astream()``'s calls: asyncio tasks on the run's event loop."""

    def __init__(self, loop: StepLoop) -> None:
        self.loop = loop
        self.aio = asyncio.get_running_loop()
        self.running: list[asyncio.Future[Any]] = []

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.aio
        except RuntimeError:
            return False

    def resolved(self, value: Any) -> Any:
        fut: Any = self.aio.create_future() if self._on_loop() else concurrent.futures.Future()
        fut.set_result(value)
        return fut

    def submit(self, task: Task) -> Any:
        if self._on_loop():
            out = self.aio.create_future()
            run = self.aio.create_task(self._run(task, out), context=contextvars.copy_context())
            # the caller cancelling its future cancels the call (it runs again on resume)
            out.add_done_callback(lambda f: run.cancel() if f.cancelled() else None)
            self.running.append(run)
            return out
        # a sync caller in a worker thread: run on the event loop, wait with result()
        cfut = asyncio.run_coroutine_threadsafe(self._run(task), self.aio)
        self.aio.call_soon_threadsafe(self._track, cfut)
        return cfut

    def _track(self, cfut: concurrent.futures.Future[Any]) -> None:
        self.running.append(asyncio.wrap_future(cfut, loop=self.aio))

    async def _run(self, task: Task, out: asyncio.Future[Any] | None = None) -> Any:
        """Run and commit; ``out`` (an async caller's future) resolves just before the
        commit, so the caller goes on before the runner streams the call's update, in
        LangGraph's order."""
        try:
            value = await aexecute_call(self.loop, task)
        except BaseException as exc:
            if out is not None and not out.done():
                if isinstance(exc, asyncio.CancelledError):
                    out.cancel()
                else:
                    out.set_exception(exc)
            commit_call(self.loop, task, exc)
            if out is not None:
                return None
            raise
        if out is not None and not out.done():
            out.set_result(value)
        commit_call(self.loop, task, None)
        return value

    async def wait(self) -> None:
        while self.running:
            running, self.running = self.running, []
            await asyncio.gather(*running, return_exceptions=True)

    async def cancel(self) -> None:
        for fut in self.running:
            fut.cancel()
        await self.wait()
