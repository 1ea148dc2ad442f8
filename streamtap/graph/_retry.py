"""Running a task's attempts as LangGraph's ``run_with_retry`` / ``arun_with_retry`` do.

An attempt starts from an empty write list, so a failed attempt's writes never reach
the state or the ``updates`` stream; output it streamed while running (tokens, custom
parts) has been seen and stays seen, as with LangGraph. Between attempts the task
sleeps the policy's backoff (``time.sleep`` / ``asyncio.sleep``, plus
``random.uniform(0, 1)`` of jitter), logs the retry, counts its ``interrupt()`` calls
from the first again and marks itself resuming, so a subgraph it runs continues from
its checkpoint. ``runtime.execution_info.node_attempt`` counts the attempts.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING

from langchain_core.runnables import RunnableConfig

from streamtap.graph._constants import CONF
from streamtap.graph._node_errors import NodeCancelledError
from streamtap.graph._policies import RetryPolicy, TimeoutPolicy
from streamtap.graph._timeout import run_timed
from streamtap.graph._writes import ParentCommand
from streamtap.graph.errors import GraphBubbleUp
from streamtap.graph.runtime import KEY_RUNTIME, Runtime

if TYPE_CHECKING:
    from streamtap.graph._algo import Task

logger = logging.getLogger(__name__)


def retry_policies(policy: RetryPolicy | Sequence[RetryPolicy] | None) -> Sequence[RetryPolicy]:
    """A node's ``retry_policy`` as the sequence it is matched in (one policy, or several)."""
    if policy is None:
        return ()
    if isinstance(policy, RetryPolicy):
        return (policy,)
    return tuple(policy)


def should_retry_on(policy: RetryPolicy, exc: Exception) -> bool:
    """Whether ``policy`` covers ``exc`` (LangGraph's ``_should_retry_on``)."""
    retry_on = policy.retry_on
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    if isinstance(retry_on, type) and issubclass(retry_on, Exception):
        return isinstance(exc, retry_on)
    if callable(retry_on):
        return bool(retry_on(exc))  # type: ignore[call-arg]
    raise TypeError(
        "retry_on must be an Exception class, a list or tuple of Exception classes, or a callable"
    )


def _delay(
    task: Task, policies: Sequence[RetryPolicy], exc: Exception, failed: int
) -> float | None:
    """How long to wait before the next attempt, after ``failed`` failures; ``None`` to
    give up: no policy covers ``exc``, or the matching one is out of attempts."""
    exc.add_note(f"During task with name '{task.name}' and id '{task.id}'")
    policy = next((p for p in policies if should_retry_on(p, exc)), None)
    if policy is None or failed >= policy.max_attempts:
        return None
    interval = min(
        policy.max_interval, policy.initial_interval * (policy.backoff_factor ** (failed - 1))
    )
    return interval + random.uniform(0, 1) if policy.jitter else interval


def _log_retry(task: Task, delay: float, failed: int, exc: Exception) -> None:
    logger.info(
        f"Retrying task {task.name} after {delay:.2f} seconds (attempt {failed}) after "
        f"{exc.__class__.__name__} {exc}",
        exc_info=exc,
    )


def _next_attempt(task: Task, config: RunnableConfig, attempt: int) -> RunnableConfig:
    """The config of the ``attempt``-th try: its number in the runtime's execution info;
    the task resuming (subgraphs continue) with its interrupt count restarted."""
    if task.ctx is not None:
        task.ctx.resuming = True
        task.ctx.scratchpad._counter = itertools.count()
    conf = dict(config.get(CONF, {}))
    runtime = conf.get(KEY_RUNTIME)
    if isinstance(runtime, Runtime):
        conf[KEY_RUNTIME] = runtime.patch_execution_info(node_attempt=attempt)
    return {**config, CONF: conf}  # type: ignore[typeddict-item]


def run_with_retry(
    task: Task,
    policies: Sequence[RetryPolicy],
    attempt: Callable[[RunnableConfig], None],
) -> None:
    config = task.config
    failed = 0
    while True:
        try:
            task.writes.clear()
            attempt(config)
            return
        except (GraphBubbleUp, ParentCommand):
            raise
        except asyncio.CancelledError as exc:
            # a sync node has no asyncio task to cancel: the node raised it itself
            raise NodeCancelledError(task.name) from exc
        except Exception as exc:
            failed += 1
            if (delay := _delay(task, policies, exc, failed)) is None:
                raise
            time.sleep(delay)
            _log_retry(task, delay, failed, exc)
            config = _next_attempt(task, config, failed + 1)


#: set in a node's context when its runner closes it without cancelling a task (a
#: node run in the runner's own task, its consumer gone): that cancel was asked for
CLOSING: ContextVar[bool] = ContextVar("streamtap_node_closing", default=False)


def _raised_by_node() -> bool:
    """A ``CancelledError`` nobody asked for (``cancelling() == 0``) came from the node."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() == 0 and not CLOSING.get()


async def arun_with_retry(
    task: Task,
    policies: Sequence[RetryPolicy],
    attempt: Callable[[RunnableConfig], Awaitable[None]],
    timeout: TimeoutPolicy | None,
) -> None:
    config = task.config
    failed = 0
    while True:
        try:
            task.writes.clear()
            if timeout is None:
                await attempt(config)
            else:
                await run_timed(task, config, timeout, attempt)
            return
        except (GraphBubbleUp, ParentCommand):
            raise
        except asyncio.CancelledError as exc:
            if _raised_by_node():
                raise NodeCancelledError(task.name) from exc
            raise
        except Exception as exc:
            failed += 1
            if (delay := _delay(task, policies, exc, failed)) is None:
                raise
            await asyncio.sleep(delay)
            _log_retry(task, delay, failed, exc)
            config = _next_attempt(task, config, failed + 1)
