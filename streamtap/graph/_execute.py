"""Executing one task: its chain run's callbacks, the node call, its routers, its writes.

One sync and one async entry (the async one for ``astream``, where async nodes
and routers are awaited). Each try of a node (``_retry``: its retry policy, and in
async its timeout) is one chain run. Both run in the task's own context (the runner
copies it), where the node's config is langchain-core's current config.
The writes stay on the task until the step loop commits them.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
    var_child_runnable_config,
)

from streamtap._compat import StreamingCallbackHandler
from streamtap.graph._algo import Task, branch_writes, node_writes, router_input
from streamtap.graph._config import patch_config
from streamtap.graph._constants import CONF, KEY_TASK, RETURN, START
from streamtap.graph._loop import StepLoop
from streamtap.graph._node import NodeSpec
from streamtap.graph._policies import RetryPolicy
from streamtap.graph._retry import arun_with_retry, retry_policies, run_with_retry
from streamtap.graph._runtime import TaskContext
from streamtap.graph._timeout import sync_timeout_unsupported, task_timeout
from streamtap.graph._trace import aend_run, astart_run, end_run, start_run
from streamtap.graph._writes import ParentCommand, addressed_to


def _node_config(config: RunnableConfig, chain_run: Any) -> RunnableConfig:
    return patch_config(config, callbacks=chain_run.get_child("seq:step:1"))


def _route(
    loop: StepLoop, task: Task, ret: Any, config: RunnableConfig, ctx: TaskContext | None
) -> None:
    """Record what ``ret`` writes plus where the task's routers send the graph next."""
    graph = loop.graph
    writes, branches = node_writes(graph, task, ret)
    for branch in branches:
        arg = router_input(graph, loop.channels, writes, branch, ret, (loop.step, loop.stop))
        writes.extend(branch_writes(graph, branch, branch.path.call(arg, config, ctx)))
    task.writes.extend(writes)


async def _aroute(
    loop: StepLoop,
    task: Task,
    ret: Any,
    config: RunnableConfig,
    ctx: TaskContext | None,
    *,
    await_all: bool = False,
) -> None:
    """:func:`_route` awaiting async routers (all of them, sync ones in a thread, if ``await_all``)."""
    graph = loop.graph
    writes, branches = node_writes(graph, task, ret)
    for branch in branches:
        arg = router_input(graph, loop.channels, writes, branch, ret, (loop.step, loop.stop))
        if branch.path.is_async or await_all:
            result = await branch.path.acall(arg, config, ctx)
        else:
            result = branch.path.call(arg, config, ctx)
        writes.extend(branch_writes(graph, branch, result))
    task.writes.extend(writes)


def execute_task(loop: StepLoop, task: Task) -> None:
    """Run one task to completion in the current thread (context already private)."""
    if task.name == START:
        _route(loop, task, task.input, loop.config, None)
        return
    spec = loop.graph.nodes[task.name]
    if task_timeout(loop, task, spec) is not None:
        raise sync_timeout_unsupported(task.name)
    run_with_retry(task, retry_policies(spec.retry_policy), partial(_attempt, loop, task, spec))


def _attempt(loop: StepLoop, task: Task, spec: NodeSpec, config: RunnableConfig) -> None:
    """One try of the node: its own chain run, its call, its routers."""
    ctx = config[CONF].get(KEY_TASK, task.ctx)
    manager = get_callback_manager_for_config(config)
    chain_run = start_run(manager, task.input, task.name, spec.trace_policy)
    try:
        config = _node_config(config, chain_run)
        var_child_runnable_config.set(config)
        try:
            ret = spec.action.call(task.input, config, ctx)
            _route(loop, task, ret, config, ctx)
        except ParentCommand as pc:
            ret = addressed_to(task, pc)
            _route(loop, task, ret, config, ctx)
        tap_sync(chain_run, ret)
    except BaseException as exc:
        chain_run.on_chain_error(exc)
        raise
    end_run(chain_run, ret, spec.trace_policy)


async def aexecute_task(loop: StepLoop, task: Task) -> None:
    """Async twin of :func:`execute_task` (runs inside its own asyncio task/context)."""
    if task.name == START:
        if any(b.path.is_async for b in loop.graph.branches.get(START, ())):
            await _aroute(loop, task, task.input, loop.config, None, await_all=True)
        else:
            _route(loop, task, task.input, loop.config, None)
        return
    spec = loop.graph.nodes[task.name]
    await arun_with_retry(
        task,
        retry_policies(spec.retry_policy),
        partial(_aattempt, loop, task, spec),
        task_timeout(loop, task, spec),
    )


async def _aattempt(loop: StepLoop, task: Task, spec: NodeSpec, config: RunnableConfig) -> None:
    ctx = config[CONF].get(KEY_TASK, task.ctx)
    manager = get_async_callback_manager_for_config(config)
    chain_run = await astart_run(manager, task.input, task.name, spec.trace_policy)
    try:
        config = _node_config(config, chain_run)
        var_child_runnable_config.set(config)
        try:
            ret = await spec.action.acall(task.input, config, ctx)
            await _aroute(loop, task, ret, config, ctx)
        except ParentCommand as pc:
            ret = addressed_to(task, pc)
            await _aroute(loop, task, ret, config, ctx)
        await tap_async(chain_run, ret)
    except BaseException as exc:
        await chain_run.on_chain_error(exc)
        raise
    await aend_run(chain_run, ret, spec.trace_policy)


# ---------------------------------------------------------------------- task calls


def _call_policies(loop: StepLoop, task: Task) -> Sequence[RetryPolicy]:
    return retry_policies(task.call.retry_policy or loop.graph.task_retry_policy)


def _call_inputs(task: Task) -> dict[str, Any]:
    """A call's arguments by parameter name, as LangGraph traces a task's input."""
    call = task.call
    try:
        bound = inspect.signature(call.func).bind_partial(*call.args, **call.kwargs)
    except (TypeError, ValueError):
        return {"args": call.args, **call.kwargs}
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    for name, param in bound.signature.parameters.items():
        if param.kind == inspect.Parameter.VAR_KEYWORD and name in arguments:
            arguments.update(arguments.pop(name))
    return arguments


def execute_call(loop: StepLoop, task: Task) -> Any:
    """Run a ``@task`` call to completion in the current thread: its result."""
    call = task.call
    if inspect.iscoroutinefunction(call.func):
        raise RuntimeError("In an sync context async tasks cannot be called")
    run_with_retry(task, _call_policies(loop, task), partial(_call_attempt, task))
    return task.writes[-1][1]


def _call_attempt(task: Task, config: RunnableConfig) -> None:
    call = task.call
    manager = get_callback_manager_for_config(config)
    chain_run = manager.on_chain_start(None, _call_inputs(task), name=task.name)
    try:
        var_child_runnable_config.set(_node_config(config, chain_run))
        ret = call.func(*call.args, **call.kwargs)
    except BaseException as exc:
        chain_run.on_chain_error(exc)
        raise
    task.writes.append((RETURN, ret))
    tap_sync(chain_run, ret)
    chain_run.on_chain_end(ret)


async def aexecute_call(loop: StepLoop, task: Task) -> Any:
    """Async twin of :func:`execute_call`: a sync function runs in a thread."""
    timeout = task.call.timeout
    await arun_with_retry(task, _call_policies(loop, task), partial(_acall_attempt, task), timeout)
    return task.writes[-1][1]


async def _acall_attempt(task: Task, config: RunnableConfig) -> None:
    call = task.call
    manager = get_async_callback_manager_for_config(config)
    chain_run = await manager.on_chain_start(None, _call_inputs(task), name=task.name)
    try:
        child = _node_config(config, chain_run)
        var_child_runnable_config.set(child)
        if inspect.iscoroutinefunction(call.func):
            ret = await call.func(*call.args, **call.kwargs)
        else:
            ctxv = contextvars.copy_context()
            ret = await asyncio.get_running_loop().run_in_executor(
                None, partial(ctxv.run, call.func, *call.args, **call.kwargs)
            )
    except BaseException as exc:
        await chain_run.on_chain_error(exc)
        raise
    task.writes.append((RETURN, ret))
    await tap_async(chain_run, ret)
    await chain_run.on_chain_end(ret)


# ---------------------------------------------------------------------- streaming tracers


def _stream_handlers(chain_run: Any) -> list[Any]:
    from streamtap.middleware._messages import StreamMessagesHandler

    return [
        h
        for h in chain_run.handlers
        # by inheritance, as LangGraph: an exporter that merely has the tap methods (the
        # runtime-checkable protocol) gets the run's events, not its streamed output
        if StreamingCallbackHandler in type(h).__mro__ and not isinstance(h, StreamMessagesHandler)
    ]


def tap_sync(chain_run: Any, ret: Any) -> None:
    """Let streaming tracers (``astream_events``) see the node output as a stream chunk."""
    for handler in _stream_handlers(chain_run):
        for _ in handler.tap_output_iter(chain_run.run_id, iter([ret])):
            pass


async def tap_async(chain_run: Any, ret: Any) -> None:
    for handler in _stream_handlers(chain_run):

        async def one() -> AsyncIterator[Any]:
            yield ret

        async for _ in handler.tap_output_aiter(chain_run.run_id, one()):
            pass
