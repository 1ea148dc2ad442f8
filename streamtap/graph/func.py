"""LangGraph's functional API on streamtap.graph: ``@entrypoint`` and ``@task``.

An ``@entrypoint`` function is a graph of one node: its input is the ``__start__``
channel, its return value the ``__end__`` channel, and what it saves for the next run on
the thread (``entrypoint.final(value=, save=)``, else the return value) the
``__previous__`` channel, read back as the ``previous`` parameter. Those are LangGraph's
channel names and the checkpoints are LangGraph's, so a thread moves between the engines.
A ``@task`` function called inside a running graph returns a future at once; the call
runs in parallel as a task of its own (``_calls``), its result saved so that a caller
re-run after an interrupt does not call it again.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar, get_args, get_origin, overload

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from pydantic import BaseModel
from typing_extensions import ParamSpec

from streamtap.graph._cache import CACHE_NS_WRITES, identifier_of
from streamtap.graph._calls import Call
from streamtap.graph._channels import LastValue
from streamtap.graph._constants import CONF, END, KEY_TASK, PREVIOUS, START
from streamtap.graph._node import Action, NodeSpec
from streamtap.graph._policies import CachePolicy, RetryPolicy, TimeoutPolicy
from streamtap.graph._schema_models import input_model
from streamtap.graph._timeout import sync_timeout_unsupported
from streamtap.graph.checkpoint.serde import harden, types_in_schemas
from streamtap.graph.compiled import CompiledStateGraph
from streamtap.graph.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10

__all__ = ["entrypoint", "task"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


class _TaskFunction(Generic[P, T]):
    """A ``@task`` function: calling it inside a running graph schedules a task."""

    def __init__(
        self,
        func: Callable[P, Awaitable[T]] | Callable[P, T],
        *,
        retry_policy: Sequence[RetryPolicy],
        cache_policy: CachePolicy[Any] | None = None,
        timeout: TimeoutPolicy | None = None,
        name: str | None = None,
    ) -> None:
        if name is not None:
            if hasattr(func, "__func__"):  # a bound method: rename a copy, not the class's
                renamed: Any = _renamed_method(func, name)
                func = renamed
            else:
                func.__name__ = name
        self.func = func
        self.retry_policy = retry_policy
        self.cache_policy = cache_policy
        self.timeout = timeout
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__doc__ = getattr(func, "__doc__", None)
        self.__wrapped__ = func

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        config = var_child_runnable_config.get()
        if config is None:
            raise RuntimeError("Called get_config outside of a runnable context")
        ctx = config.get(CONF, {}).get(KEY_TASK)
        if ctx is None or ctx.call is None:
            raise RuntimeError(
                f"@task {self.__name__!r} was called outside of a running streamtap graph: "
                "call it from an @entrypoint, a graph node or another @task"
            )
        return ctx.call(
            Call(
                self.func,
                args,
                dict(kwargs),
                self.retry_policy or None,
                self.cache_policy,
                self.timeout,
                config.get("callbacks"),
            )
        )

    def clear_cache(self, cache: Any) -> None:
        """Drop this task's cached results from ``cache``."""
        if self.cache_policy is not None:
            cache.clear(((CACHE_NS_WRITES, _identifier(self.func)),))

    async def aclear_cache(self, cache: Any) -> None:
        if self.cache_policy is not None:
            await cache.aclear(((CACHE_NS_WRITES, _identifier(self.func)),))


def _renamed_method(method: Any, name: str) -> Any:
    import functools

    bound = functools.partial(method.__func__, method.__self__)
    bound.__name__ = name  # type: ignore[attr-defined]
    return bound


def _identifier(func: Any) -> str:
    return identifier_of(func) or "__dynamic__"


@overload
def task(
    __func_or_none__: None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy[Callable[P, str | bytes]] | None = None,
    timeout: float | timedelta | TimeoutPolicy | None = None,
    **kwargs: Any,
) -> Callable[[Callable[P, Awaitable[T]] | Callable[P, T]], _TaskFunction[P, T]]: ...


@overload
def task(__func_or_none__: Callable[P, Awaitable[T]]) -> _TaskFunction[P, T]: ...


@overload
def task(__func_or_none__: Callable[P, T]) -> _TaskFunction[P, T]: ...


def task(
    __func_or_none__: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy[Any] | None = None,
    timeout: float | timedelta | TimeoutPolicy | None = None,
    **kwargs: Any,
) -> Any:
    """Make a function a task: called inside an entrypoint, a node or another task, it
    returns a future (``.result()``, or ``await`` in async code) and runs in parallel."""
    retry_policy = _retry_policy("task", retry_policy, kwargs)
    policies: Sequence[RetryPolicy] = (
        (retry_policy,) if isinstance(retry_policy, RetryPolicy) else retry_policy or ()
    )
    timeout_policy = TimeoutPolicy.coerce(timeout)

    def decorator(func: Callable[..., Any]) -> _TaskFunction[Any, Any]:
        if timeout_policy is not None and not inspect.iscoroutinefunction(func):
            label = name or getattr(func, "__name__", type(func).__name__)
            raise sync_timeout_unsupported(str(label), kind="Task")
        return _TaskFunction(
            func,
            retry_policy=policies,
            cache_policy=cache_policy,
            timeout=timeout_policy,
            name=name,
        )

    return decorator(__func_or_none__) if __func_or_none__ is not None else decorator


def _retry_policy(owner: str, retry_policy: Any, kwargs: dict[str, Any]) -> Any:
    """``retry_policy``, or the deprecated ``retry=`` in ``kwargs`` (with LangGraph's
    warning); any other keyword is refused."""
    if (retry := kwargs.pop("retry", None)) is not None:
        warnings.warn(
            "`retry` is deprecated and will be removed. Please use `retry_policy` instead.",
            category=LangGraphDeprecatedSinceV05,
            stacklevel=3,
        )
        if retry_policy is None:
            retry_policy = retry
    if kwargs:
        raise TypeError(f"{owner}() got unexpected keyword arguments: {sorted(kwargs)}")
    return retry_policy


class entrypoint(Generic[R]):
    """Make a function a graph: ``@entrypoint(checkpointer=...)`` over ``def f(input)``.

    The function may declare ``previous`` (what the last run on the thread saved),
    ``config``, ``writer``, ``store`` and ``runtime``, as a graph node may.
    """

    def __init__(
        self,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        store: BaseStore | None = None,
        cache: Any = None,
        context_schema: type[Any] | None = None,
        cache_policy: CachePolicy[Any] | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        if (config_schema := kwargs.pop("config_schema", None)) is not None:
            warnings.warn(
                "`config_schema` is deprecated and will be removed. "
                "Please use `context_schema` instead.",
                category=LangGraphDeprecatedSinceV10,
                stacklevel=2,
            )
            if context_schema is None:
                context_schema = config_schema
        retry_policy = _retry_policy("entrypoint", retry_policy, kwargs)
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.cache_policy = cache_policy
        self.retry_policy = retry_policy
        self.timeout = TimeoutPolicy.coerce(timeout)
        self.context_schema = context_schema

    @dataclass(frozen=True, slots=True)
    class final(Generic[S, T]):
        """Return ``value`` to the caller and save ``save`` for the next run's ``previous``."""

        value: Any
        save: Any

    def __call__(self, func: Callable[..., Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise NotImplementedError("Generators are not supported in the Functional API.")
        params = list(inspect.signature(func).parameters.values())
        if not params:
            raise ValueError("Entrypoint function must have at least one parameter")
        if self.timeout is not None and not inspect.iscoroutinefunction(func):
            raise sync_timeout_unsupported(func.__name__)
        input_type, output_type, save_type = _types(func, params[0])
        return _entrypoint_graph(self, func, input_type, output_type, save_type)


def _types(func: Callable[..., Any], first: inspect.Parameter) -> tuple[Any, Any, Any]:
    """The input, return and saved types, read from the annotations as LangGraph reads them."""
    input_type = first.annotation if first.annotation is not inspect.Parameter.empty else Any
    ret = inspect.signature(func).return_annotation
    if ret is inspect.Signature.empty or ret is entrypoint.final:
        return input_type, Any, Any
    if get_origin(ret) is entrypoint.final:
        args = get_args(ret)
        if len(args) != 2:
            raise TypeError(
                "Please an annotation for both the return_ and the save values."
                "For example, `-> entrypoint.final[int, str]` would assign a "
                "return_ a type of `int` and save the type `str`."
            )
        return input_type, args[0], args[1]
    return input_type, ret, ret


def _return_writes(ret: Any) -> list[tuple[str, Any]]:
    """What an entrypoint's return writes: the value returned and the value saved."""
    if isinstance(ret, entrypoint.final):
        return [(END, ret.value), (PREVIOUS, ret.save)]
    return [(END, ret), (PREVIOUS, ret)]


def _entrypoint_graph(
    ep: entrypoint[Any],
    func: Callable[..., Any],
    input_type: Any,
    output_type: Any,
    save_type: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    name = func.__name__
    policies = (ep.retry_policy,) if isinstance(ep.retry_policy, RetryPolicy) else ep.retry_policy
    node = NodeSpec(
        name=name,
        action=Action(func, name),
        input_keys=(START,),
        retry_policy=ep.retry_policy,
        cache_policy=ep.cache_policy,
        timeout=ep.timeout,
    )
    checkpoint_types = frozenset(types_in_schemas(input_type, output_type, save_type))
    if isinstance(ep.checkpointer, BaseCheckpointSaver):
        harden(ep.checkpointer, allow=checkpoint_types)
    graph: CompiledStateGraph[Any, Any, Any, Any] = EntrypointGraph(
        builder=_Schemas(input_type, output_type),
        nodes={name: node},
        channels={END: LastValue(END), PREVIOUS: LastValue(PREVIOUS)},
        state_keys=(END, PREVIOUS),
        input_keys=(START,),
        output_keys=(END,),
        edges_from={},
        joins={},
        joins_from={},
        branches={},
        # the input triggers the function itself: no __start__ task runs first
        triggers={START: (), name: (START,)},
        checkpointer=ep.checkpointer,
        interrupt_before=None,
        interrupt_after=None,
        name="LangGraph",  # the graph's name is LangGraph's default; its node's is func's
        state_mapper=None,
        output_mapper=None,
        checkpoint_types=checkpoint_types,
        store=ep.store,
        context_schema=ep.context_schema,
        cache=ep.cache,
    )
    graph.return_writes = _return_writes
    graph.stream_keys = (END,)
    graph.task_retry_policy = policies or None
    graph.task_cache_policy = ep.cache_policy
    return graph


class EntrypointGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """An ``@entrypoint``'s graph: its input and output schemas are its function's types
    (a bare value each, as LangGraph's ``Pregel`` gives them), not a state's keys."""

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return input_model(self.get_name("Output"), self.builder.output_schema)

    def get_input_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        return self.get_input_schema(config).model_json_schema()

    def get_output_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        return self.get_output_schema(config).model_json_schema()


@dataclass(frozen=True, slots=True)
class _Schemas:
    """What a compiled graph reads of its builder, for an entrypoint (no ``StateGraph``)."""

    input_schema: Any
    output_schema: Any

    @property
    def state_schema(self) -> Any:
        return self.output_schema

    @property
    def schemas(self) -> dict[Any, dict[str, Any]]:
        return {}
