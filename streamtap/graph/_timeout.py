"""Timing one attempt of an async node (LangGraph's ``TimeoutPolicy`` semantics).

The attempt runs as its own asyncio task next to one watchdog per limit: a run
watchdog that sleeps ``run_timeout``, an idle watchdog that sleeps until
``idle_timeout`` has passed since the last sign of progress. Progress is what
LangGraph counts: writes, custom and subgraph stream output, callback events of
anything the node runs (under ``refresh_on="auto"``), and ``runtime.heartbeat()``.
When a watchdog fires, the attempt's writes are dropped (a late write is refused
too) and it is cancelled; ``NodeTimeoutError`` is what the retry policy sees.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig

from streamtap.graph._config import merge_configs
from streamtap.graph._constants import CONF, KEY_TASK, PUSH, TASKS
from streamtap.graph._node_errors import NodeTimeoutError
from streamtap.graph._policies import TimeoutPolicy
from streamtap.graph._runtime import TaskContext
from streamtap.graph.runtime import KEY_RUNTIME, Runtime

if TYPE_CHECKING:
    from streamtap.graph._algo import Task
    from streamtap.graph._loop import StepLoop
    from streamtap.graph._node import NodeSpec

_SYNC_TIMEOUT_PREFIX = (
    "Node timeouts are only supported for async nodes because sync Python "
    "execution cannot be safely cancelled in-process."
)


def sync_timeout_unsupported(name: str, *, kind: Literal["Node", "Task"] = "Node") -> ValueError:
    """LangGraph's error for a timeout on a node that cannot be cancelled."""
    return ValueError(f"{_SYNC_TIMEOUT_PREFIX} {kind} {name!r} is sync.")


def task_timeout(loop: StepLoop, task: Task, spec: NodeSpec) -> TimeoutPolicy | None:
    """The policy timing ``task``: its ``Send``'s own ``timeout``, else its node's. An error
    handler's task has none (LangGraph prepares it without one, node defaults or not)."""
    if spec.is_error_handler:
        return None
    if task.path and task.path[0] == PUSH and isinstance(task.path[1], int):
        sends = loop.channels[TASKS]
        if sends.is_available() and task.path[1] < len(sends.value):
            own = getattr(sends.value[task.path[1]], "timeout", None)
            if own is not None:
                return own  # type: ignore[no-any-return]
    return spec.timeout  # type: ignore[no-any-return]


class _Scope:
    """One timed attempt's progress clock, and the gate that shuts its writes and
    output once it timed out (a cancelled node may still be running in a thread)."""

    __slots__ = ("__weakref__", "_active", "_lock", "last_progress", "refresh_on")

    def __init__(self, refresh_on: Literal["auto", "heartbeat"] | None) -> None:
        self._active = True
        self._lock = threading.Lock()
        self.last_progress = time.monotonic()
        self.refresh_on = refresh_on

    def touch(self) -> None:
        self.last_progress = time.monotonic()

    def close(self) -> None:
        with self._lock:
            self._active = False

    def _auto_touch(self) -> None:
        if self.refresh_on == "auto":
            self.last_progress = time.monotonic()

    def guard_send(
        self, send: Callable[[list[tuple[str, Any]]], None]
    ) -> Callable[[list[tuple[str, Any]]], None]:
        def guarded(writes: list[tuple[str, Any]]) -> None:
            with self._lock:
                if self._active:
                    if writes:
                        self._auto_touch()
                    send(writes)

        return guarded

    def guard_output(self, put: Callable[[Any], None]) -> Callable[[Any], None]:
        def guarded(item: Any) -> None:
            with self._lock:
                if not self._active:
                    return
                self._auto_touch()
            put(item)

        return guarded

    async def wait_idle(self, idle_timeout: float) -> None:
        while True:
            with self._lock:
                if not self._active:
                    return
                remaining = self.last_progress + idle_timeout - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.sleep(remaining)

    def wrap(self, config: RunnableConfig) -> RunnableConfig:
        """``config`` with the task's writer, writes, subgraph output and runtime gated and
        counted as progress, and (``auto``) a callback handler counting callback events."""
        conf = dict(config.get(CONF, {}))
        ctx: TaskContext | None = conf.get(KEY_TASK)
        writer: Callable[[Any], None] | None = None
        if ctx is not None:
            writer = self.guard_output(ctx.writer)
            sink = ctx.parent_sink
            conf[KEY_TASK] = replace(
                ctx,
                writer=writer,
                send=self.guard_send(ctx.send),
                parent_sink=(self.guard_output(sink[0]), sink[1]) if sink is not None else None,
            )
        runtime = conf.get(KEY_RUNTIME)
        if isinstance(runtime, Runtime):
            overrides: dict[str, Any] = {
                "stream_writer": writer or self.guard_output(runtime.stream_writer)
            }
            if self.refresh_on is not None:
                overrides["heartbeat"] = self.touch
            conf[KEY_RUNTIME] = runtime.override(**overrides)
        wrapped: RunnableConfig = {**config, CONF: conf}  # type: ignore[typeddict-item]
        if self.refresh_on == "auto":
            return merge_configs(wrapped, {"callbacks": [_IdleProgress(self)]})
        return wrapped


class _IdleProgress(BaseCallbackHandler):
    """Counts any callback event of the attempt's runs (a model's tokens) as progress."""

    run_inline = True

    def __init__(self, scope: _Scope) -> None:
        self._scope = weakref.ref(scope)

    def _touch(self, *args: Any, **kwargs: Any) -> None:
        if (scope := self._scope()) is not None:
            scope.touch()

    on_llm_start = on_chat_model_start = on_llm_new_token = on_llm_end = on_llm_error = _touch
    on_chain_start = on_chain_end = on_chain_error = _touch
    on_tool_start = on_tool_end = on_tool_error = _touch
    on_retriever_start = on_retriever_end = on_retriever_error = _touch
    on_agent_action = on_agent_finish = on_text = on_retry = on_custom_event = _touch


def _seconds(value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _run_watchdog(seconds: float) -> None:
    await asyncio.sleep(seconds)
    raise TimeoutError


def _drain_cancelled(task: asyncio.Task[Any]) -> None:
    with suppress(asyncio.CancelledError):
        task.exception()


async def run_timed(
    task: Task,
    config: RunnableConfig,
    policy: TimeoutPolicy,
    attempt: Callable[[RunnableConfig], Awaitable[None]],
) -> None:
    """Run one attempt under ``policy``; raise ``NodeTimeoutError`` when a limit fires."""
    run_timeout = _seconds(policy.run_timeout)
    idle_timeout = _seconds(policy.idle_timeout)
    scope = _Scope(policy.refresh_on if idle_timeout is not None else None)
    start = time.monotonic()
    bg = asyncio.create_task(_awaited(attempt(scope.wrap(config))))
    watchdogs: dict[asyncio.Task[None], Literal["idle", "run"]] = {}
    if idle_timeout is not None:
        watchdogs[asyncio.create_task(scope.wait_idle(idle_timeout))] = "idle"
    if run_timeout is not None:
        watchdogs[asyncio.create_task(_run_watchdog(run_timeout))] = "run"
    try:
        done, _ = await asyncio.wait({bg, *watchdogs}, return_when=asyncio.FIRST_COMPLETED)
        if bg in done:
            for watchdog in watchdogs:
                watchdog.cancel()
            for watchdog in watchdogs:
                with suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await watchdog
            await bg
            return
        # only a watchdog's TimeoutError is the node's timeout; the node's own propagates
        for watchdog in done:
            kind = watchdogs[watchdog]
            try:
                await watchdog
            except TimeoutError as exc:
                elapsed = time.monotonic() - start
                scope.close()
                task.writes.clear()
                bg.cancel()
                bg.add_done_callback(_drain_cancelled)
                raise NodeTimeoutError(
                    task.name,
                    elapsed,
                    kind=kind,
                    idle_timeout=idle_timeout,
                    run_timeout=run_timeout,
                ) from exc
        raise RuntimeError("timeout wait completed without task or watchdog")
    except asyncio.CancelledError:
        scope.close()
        bg.cancel()
        for watchdog in watchdogs:
            watchdog.cancel()
        bg.add_done_callback(_drain_cancelled)
        raise
    finally:
        scope.close()
        for watchdog in watchdogs:
            watchdog.cancel()
