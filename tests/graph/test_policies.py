"""Node policies (retry, timeout, cache, error handlers, node defaults, step timeout): the same
graphs run on LangGraph and on streamtap.graph, and what each does is compared."""

from __future__ import annotations

import asyncio
import operator
import time
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict
from unittest.mock import patch

import httpx
import pytest
import requests
from langgraph import errors as lg_errors
from langgraph import types as lg_types
from langgraph.cache.memory import InMemoryCache
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END as LG_END
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.runtime import Runtime as LGRuntime

import streamtap.graph as st
from streamtap.graph import types as st_types
from streamtap.graph._retry import should_retry_on

ENGINES = {
    "langgraph": SimpleNamespace(
        StateGraph=LGStateGraph,
        START=LG_START,
        END=LG_END,
        Command=lg_types.Command,
        Send=lg_types.Send,
        interrupt=lg_types.interrupt,
        RetryPolicy=lg_types.RetryPolicy,
        CachePolicy=lg_types.CachePolicy,
        TimeoutPolicy=lg_types.TimeoutPolicy,
        NodeError=lg_errors.NodeError,
        NodeTimeoutError=lg_errors.NodeTimeoutError,
        Runtime=LGRuntime,
    ),
    "streamtap": SimpleNamespace(
        StateGraph=st.StateGraph,
        START=st.START,
        END=st.END,
        Command=st.Command,
        Send=st.Send,
        interrupt=st.interrupt,
        RetryPolicy=st.RetryPolicy,
        CachePolicy=st.CachePolicy,
        TimeoutPolicy=st.TimeoutPolicy,
        NodeError=st.NodeError,
        NodeTimeoutError=st.NodeTimeoutError,
        Runtime=st.Runtime,
    ),
}
BOTH = pytest.mark.parametrize("engine", sorted(ENGINES))


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def both(run: Any) -> Any:
    """``run(engine)`` on each engine; the two results must be equal."""
    lg, ours = run("langgraph"), run("streamtap")
    assert ours == lg
    return ours


# ---------------------------------------------------------------------- public names


def test_policy_classes_have_langgraphs_fields_and_defaults() -> None:
    assert st_types.RetryPolicy._fields == lg_types.RetryPolicy._fields
    ours, theirs = st.RetryPolicy(), lg_types.RetryPolicy()
    assert ours[:5] == theirs[:5] == (0.5, 2.0, 128.0, 3, True)
    assert st.CachePolicy().ttl is None and st.CachePolicy(ttl=5).ttl == 5
    assert st.TimeoutPolicy() == st.TimeoutPolicy(run_timeout=None, idle_timeout=None)
    with pytest.raises(TypeError):
        st.TimeoutPolicy(1.0)  # type: ignore[misc]  # keyword-only, as LangGraph's


@pytest.mark.parametrize(
    "value", [2, 2.5, __import__("datetime").timedelta(seconds=3), None, "idle", "both"]
)
def test_timeout_policy_coerce_as_langgraph(value: Any) -> None:
    def coerce(ns: Any) -> Any:
        v = value
        if v == "idle":
            v = ns.TimeoutPolicy(idle_timeout=1)
        elif v == "both":
            v = ns.TimeoutPolicy(run_timeout=2, idle_timeout=1, refresh_on="heartbeat")
        got = ns.TimeoutPolicy.coerce(v)
        return None if got is None else (got.run_timeout, got.idle_timeout, got.refresh_on)

    assert coerce(ENGINES["streamtap"]) == coerce(ENGINES["langgraph"])


@pytest.mark.parametrize("bad", [0, -1, "refresh"])
def test_timeout_policy_refuses_what_langgraph_refuses(bad: Any) -> None:
    def err(ns: Any) -> str:
        with pytest.raises(ValueError) as info:
            if bad == "refresh":
                ns.TimeoutPolicy.coerce(ns.TimeoutPolicy(run_timeout=1, refresh_on="never"))
            else:
                ns.StateGraph(State).add_node("n", lambda s: s, timeout=bad)
        return str(info.value)

    assert err(ENGINES["streamtap"]) == err(ENGINES["langgraph"])


def _response(status: int) -> Any:
    return SimpleNamespace(status_code=status)


def _errors() -> list[Exception]:
    req_5xx = requests.HTTPError("bad gateway")
    req_5xx.response = _response(502)  # type: ignore[assignment]
    req_4xx = requests.HTTPError("bad request")
    req_4xx.response = _response(400)  # type: ignore[assignment]
    no_resp = requests.HTTPError("no response")
    return [
        ConnectionError(),
        ValueError(),
        KeyError(),
        RuntimeError(),
        OSError(),
        StopIteration(),
        httpx.HTTPStatusError("x", request=None, response=_response(503)),  # type: ignore[arg-type]
        httpx.HTTPStatusError("x", request=None, response=_response(404)),  # type: ignore[arg-type]
        req_5xx,
        req_4xx,
        no_resp,
        st.NodeTimeoutError("n", 1.0, kind="run", run_timeout=0.5),
        type("Custom", (Exception,), {})(),
    ]


def test_default_retry_on_decides_as_langgraphs() -> None:
    from langgraph.pregel._retry import _should_retry_on

    for exc in _errors():
        assert should_retry_on(st.RetryPolicy(), exc) == _should_retry_on(
            lg_types.RetryPolicy(), exc
        ), exc


def test_node_timeout_error_message_and_fields() -> None:
    for kind, kw in (("run", {"run_timeout": 0.5}), ("idle", {"idle_timeout": 0.25})):
        ours = st.NodeTimeoutError("n", 1.0, kind=kind, **kw)  # type: ignore[arg-type]
        theirs = lg_errors.NodeTimeoutError("n", 1.0, kind=kind, **kw)  # type: ignore[arg-type]
        assert str(ours) == str(theirs)
        assert (ours.timeout, ours.kind) == (theirs.timeout, theirs.kind)
    assert not isinstance(ours, TimeoutError)


# ---------------------------------------------------------------------- retries


def _flaky_graph(engine: str, fails: list[type[Exception]], policy: Any, seen: list[Any]) -> Any:
    e = ENGINES[engine]
    remaining = list(fails)

    def flaky(state: State, runtime: Any) -> dict[str, Any]:
        info = runtime.execution_info
        seen.append(info.node_attempt)
        if remaining:
            raise remaining.pop(0)("boom")
        return {"log": ["flaky"]}

    flaky.__annotations__["runtime"] = e.Runtime
    return (
        e.StateGraph(State)
        .add_node("flaky", flaky, retry_policy=policy(e))
        .add_node("after", lambda s: {"log": ["after"]})
        .add_edge(e.START, "flaky")
        .add_edge("flaky", "after")
        .compile()
    )


def test_retry_backoff_attempts_and_stream_as_langgraph() -> None:
    def run(engine: str) -> Any:
        seen: list[Any] = []
        graph = _flaky_graph(
            engine,
            [ValueError, ValueError],
            lambda e: e.RetryPolicy(initial_interval=0.01, jitter=False, retry_on=ValueError),
            seen,
        )
        with patch("time.sleep") as sleep:
            chunks = list(graph.stream({"log": []}, stream_mode=["updates", "values"]))
        return chunks, seen, [c.args[0] for c in sleep.call_args_list]

    chunks, seen, sleeps = both(run)
    assert seen == [1, 2, 3] and sleeps == [0.01, 0.02]
    # a failed attempt writes nothing: one update of the node
    assert next(c for c in chunks if c[0] == "updates") == (
        "updates",
        {"flaky": {"log": ["flaky"]}},
    )


def test_retry_jitter_and_first_matching_policy() -> None:
    def run(engine: str) -> Any:
        seen: list[Any] = []
        graph = _flaky_graph(
            engine,
            [KeyError, KeyError, ValueError],
            lambda e: (
                e.RetryPolicy(max_attempts=5, initial_interval=1, retry_on=ValueError),
                e.RetryPolicy(initial_interval=0.1, backoff_factor=3, retry_on=KeyError),
                e.RetryPolicy(max_attempts=9, retry_on=Exception),  # never reached for these
            ),
            seen,
        )
        with patch("time.sleep") as sleep, patch("random.uniform", return_value=0.5) as rnd:
            out = graph.invoke({"log": []})
        return out, seen, [c.args[0] for c in sleep.call_args_list], rnd.call_args_list

    out, seen, sleeps, rnd = both(run)
    assert out == {"log": ["flaky", "after"]} and seen == [1, 2, 3, 4]
    assert sleeps == [0.6, pytest.approx(0.8), 4.5]
    assert {c.args for c in rnd} == {(0, 1)}


@BOTH
def test_retry_gives_up_after_max_attempts_and_on_unmatched_errors(engine: str) -> None:
    seen: list[Any] = []
    graph = _flaky_graph(
        engine,
        [ValueError] * 5,
        lambda e: e.RetryPolicy(max_attempts=2, jitter=False, retry_on=ValueError),
        seen,
    )
    with patch("time.sleep"), pytest.raises(ValueError, match="boom") as info:
        graph.invoke({"log": []})
    assert seen == [1, 2]
    assert any("During task with name 'flaky'" in n for n in info.value.__notes__)
    seen.clear()
    graph = _flaky_graph(engine, [TypeError], lambda e: e.RetryPolicy(retry_on=ValueError), seen)
    with pytest.raises(TypeError):
        graph.invoke({"log": []})
    assert seen == [1]


async def test_async_retry_sleeps_with_asyncio_as_langgraph() -> None:
    async def run(engine: str) -> Any:
        seen: list[Any] = []
        graph = _flaky_graph(
            engine,
            [ConnectionError],
            lambda e: e.RetryPolicy(initial_interval=0.25, jitter=False),
            seen,
        )
        with patch("asyncio.sleep", wraps=asyncio.sleep) as sleep:
            out = await graph.ainvoke({"log": []})
        return out, seen, [c.args[0] for c in sleep.call_args_list if c.args[0] == 0.25]

    lg, ours = await run("langgraph"), await run("streamtap")
    assert ours == lg == ({"log": ["flaky", "after"]}, [1, 2], [0.25])


def test_retry_reasks_nothing_already_answered() -> None:
    """A retry runs the node from its first line: its interrupt() calls count from the
    first again and get the answers the task already has."""

    def run(engine: str) -> Any:
        e = ENGINES[engine]
        failures = [RuntimeError]

        def ask(state: State) -> dict[str, Any]:
            answer = e.interrupt("q?")
            if failures:
                raise failures.pop()("transient")
            return {"log": [f"answer:{answer}"]}

        graph = (
            e.StateGraph(State)
            .add_node("ask", ask, retry_policy=e.RetryPolicy(retry_on=RuntimeError))
            .add_edge(e.START, "ask")
            .compile(checkpointer=InMemorySaver())
        )
        config = {"configurable": {"thread_id": "t"}}
        graph.invoke({"log": []}, config)
        with patch("time.sleep"):
            return graph.invoke(e.Command(resume="yes"), config)

    assert both(run) == {"log": ["answer:yes"]}


# ---------------------------------------------------------------------- timeouts


class Num(TypedDict):
    x: int


def _slow_graph(engine: str, seconds: float, **node_kw: Any) -> Any:
    e = ENGINES[engine]

    async def slow(state: Num) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"x": state["x"] + 1}

    kw = {k: v(e) if callable(v) else v for k, v in node_kw.items()}
    return (
        e.StateGraph(Num)
        .add_node("slow", slow, **kw)
        .add_edge(e.START, "slow")
        .add_edge("slow", e.END)
        .compile()
    )


@BOTH
async def test_run_and_idle_timeouts_raise_node_timeout_error(engine: str) -> None:
    e = ENGINES[engine]
    graph = _slow_graph(engine, 5, timeout=0.05)
    with pytest.raises(e.NodeTimeoutError) as info:
        await graph.ainvoke({"x": 1})
    assert (info.value.node, info.value.kind, info.value.run_timeout) == ("slow", "run", 0.05)
    graph = _slow_graph(engine, 5, timeout=lambda e: e.TimeoutPolicy(idle_timeout=0.05))
    with pytest.raises(e.NodeTimeoutError) as info:
        await graph.ainvoke({"x": 1})
    assert (info.value.kind, info.value.idle_timeout, info.value.run_timeout) == (
        "idle",
        0.05,
        None,
    )
    assert await _slow_graph(engine, 0, timeout=5).ainvoke({"x": 1}) == {"x": 2}


@BOTH
async def test_idle_timeout_is_refreshed_by_progress(engine: str) -> None:
    e = ENGINES[engine]

    async def chatty(state: Num, runtime: Any) -> dict[str, Any]:
        for i in range(6):
            await asyncio.sleep(0.1)
            runtime.stream_writer(i)  # progress: each part refreshes the idle clock
        return {"x": 1}

    async def beating(state: Num, runtime: Any) -> dict[str, Any]:
        for _ in range(6):
            await asyncio.sleep(0.1)
            runtime.heartbeat()
        return {"x": 2}

    chatty.__annotations__["runtime"] = beating.__annotations__["runtime"] = e.Runtime
    for fn, policy in (
        (chatty, e.TimeoutPolicy(idle_timeout=0.35)),
        (beating, e.TimeoutPolicy(idle_timeout=0.35, refresh_on="heartbeat")),
    ):
        graph = e.StateGraph(Num).add_node("n", fn, timeout=policy).add_edge(e.START, "n")
        parts = [p async for p in graph.compile().astream({"x": 0}, stream_mode="custom")]
        assert parts == ([0, 1, 2, 3, 4, 5] if fn is chatty else [])
    # under refresh_on="heartbeat" the custom output is no progress
    graph = (
        e.StateGraph(Num)
        .add_node("n", chatty, timeout=e.TimeoutPolicy(idle_timeout=0.35, refresh_on="heartbeat"))
        .add_edge(e.START, "n")
        .compile()
    )
    with pytest.raises(e.NodeTimeoutError):
        await graph.ainvoke({"x": 0})


@BOTH
async def test_timeout_composes_with_retry_and_send_overrides_it(engine: str) -> None:
    e = ENGINES[engine]
    attempts: list[int] = []

    async def flaky(state: Num) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 2:
            await asyncio.sleep(5)
        return {"x": state["x"] + 1}

    policy = e.RetryPolicy(initial_interval=0, jitter=False, retry_on=e.NodeTimeoutError)
    graph = (
        e.StateGraph(Num)
        .add_node("flaky", flaky, timeout=0.05, retry_policy=policy)
        .add_edge(e.START, "flaky")
        .compile()
    )
    assert await graph.ainvoke({"x": 0}) == {"x": 1} and len(attempts) == 2

    async def slow(state: Num) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        return {"x": 9}

    graph = (
        e.StateGraph(Num)
        .add_node("slow", slow, timeout=5)
        .add_conditional_edges(
            e.START, lambda s: [e.Send("slow", s, timeout=e.TimeoutPolicy(idle_timeout=0.05))]
        )
        .compile()
    )
    with pytest.raises(e.NodeTimeoutError) as info:
        await graph.ainvoke({"x": 1})
    assert info.value.idle_timeout == 0.05


def test_sync_node_timeout_refused_at_compile_as_langgraph() -> None:
    def err(engine: str) -> str:
        e = ENGINES[engine]
        builder = e.StateGraph(Num).add_node("n", lambda s: s, timeout=1).add_edge(e.START, "n")
        with pytest.raises(ValueError) as info:
            builder.compile()
        return str(info.value)

    assert "only supported for async nodes" in both(err)


# ---------------------------------------------------------------------- cache

_calls: list[str] = []


def cached_node(state: State) -> dict[str, Any]:
    _calls.append("cached")
    return {"log": ["cached"]}


def _cached_graph(engine: str, cache: Any, **policy: Any) -> Any:
    e = ENGINES[engine]
    return (
        e.StateGraph(State)
        .add_node("cached_node", cached_node, cache_policy=e.CachePolicy(**policy))
        .add_node("plain", lambda s: {"log": ["plain"]})
        .add_edge(e.START, "cached_node")
        .add_edge("cached_node", "plain")
        .compile(cache=cache)
    )


def test_cached_writes_replayed_with_the_cached_marker_as_langgraph() -> None:
    def run(engine: str) -> Any:
        _calls.clear()
        graph = _cached_graph(engine, InMemoryCache())
        first = list(graph.stream({"log": []}))
        second = list(graph.stream({"log": []}, stream_mode=["updates", "values"]))
        third = graph.invoke({"log": ["other input"]})
        graph.clear_cache()
        fourth = list(graph.stream({"log": []}))
        return first, second, third, fourth, list(_calls)

    first, second, _, fourth, calls = both(run)
    assert next(c for c in second if c[0] == "updates") == (
        "updates",
        {"cached_node": {"log": ["cached"]}, "__metadata__": {"cached": True}},
    )
    assert first == fourth and calls == ["cached", "cached", "cached"]


@pytest.mark.parametrize(
    ("writer", "reader"), [("langgraph", "streamtap"), ("streamtap", "langgraph")]
)
def test_a_cache_written_by_one_engine_answers_the_other(writer: str, reader: str) -> None:
    cache: Any = InMemoryCache()
    _calls.clear()
    _cached_graph(writer, cache).invoke({"log": []})
    assert list(_cached_graph(reader, cache).stream({"log": []})) == [
        {"cached_node": {"log": ["cached"]}, "__metadata__": {"cached": True}},
        {"plain": {"log": ["plain"]}},
    ]
    assert _calls == ["cached"]


@BOTH
async def test_cache_ttl_key_func_and_aclear_cache(engine: str) -> None:
    _calls.clear()
    graph = _cached_graph(engine, InMemoryCache(), key_func=lambda s: "same", ttl=60)
    await graph.ainvoke({"log": []})
    await graph.ainvoke({"log": ["a different input, the same key"]})
    assert _calls == ["cached"]
    await graph.aclear_cache()
    await graph.ainvoke({"log": []})
    assert _calls == ["cached", "cached"]
    with pytest.raises(ValueError, match="No cache is set"):
        _cached_graph(engine, None).clear_cache()


# ---------------------------------------------------------------------- error handlers


def _handled_graph(engine: str, *, parallel: bool, handler_fails: bool = False, **kw: Any) -> Any:
    e = ENGINES[engine]

    def failing(state: State) -> dict[str, Any]:
        raise ValueError("boom")

    def handler(state: State, error: Any) -> Any:
        if handler_fails:
            raise RuntimeError("handler failed")
        return e.Command(update={"log": [f"handled {error.node}: {error.error}"]}, goto="after")

    handler.__annotations__["error"] = e.NodeError
    builder = (
        e.StateGraph(State)
        .add_node("failing", failing, error_handler=handler)
        .add_node("after", lambda s: {"log": ["after"]})
        .add_edge(e.START, "failing")
    )
    if parallel:
        builder.add_node("sibling", lambda s: {"log": ["sibling"]}).add_edge(e.START, "sibling")
    return builder.compile(**kw)


@pytest.mark.parametrize("parallel", [False, True])
def test_error_handler_takes_over_in_the_same_step_as_langgraph(parallel: bool) -> None:
    def run(engine: str) -> Any:
        graph = _handled_graph(engine, parallel=parallel, checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": "t"}}
        chunks = list(graph.stream({"log": []}, config, stream_mode=["updates", "values"]))
        history = [(s.next, s.metadata["step"]) for s in graph.get_state_history(config)]
        return sorted(map(repr, chunks)), chunks[-1], history, sorted(graph.builder.nodes)

    *_, nodes = both(run)
    assert nodes[:3] == ["__error_handler__failing", "after", "failing"]


@BOTH
async def test_error_handler_failure_fails_the_run(engine: str) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        _handled_graph(engine, parallel=False, handler_fails=True).invoke({"log": []})
    with pytest.raises(RuntimeError, match="handler failed"):
        await _handled_graph(engine, parallel=True, handler_fails=True).ainvoke({"log": []})


@BOTH
def test_error_handler_leaves_interrupts_alone(engine: str) -> None:
    e = ENGINES[engine]

    def ask(state: State) -> dict[str, Any]:
        return {"log": [e.interrupt("q?")]}

    graph = (
        e.StateGraph(State)
        .add_node("ask", ask, error_handler=lambda s: {"log": ["handled"]})
        .add_edge(e.START, "ask")
        .compile(checkpointer=InMemorySaver())
    )
    config = {"configurable": {"thread_id": "t"}}
    assert "__interrupt__" in graph.invoke({"log": []}, config)
    assert graph.invoke(e.Command(resume="a"), config) == {"log": ["a"]}


@pytest.mark.parametrize(
    ("first", "then"),
    [("langgraph", "streamtap"), ("streamtap", "langgraph"), ("streamtap", "streamtap")],
)
def test_a_crashed_handler_runs_again_on_resume_not_the_node(first: str, then: str) -> None:
    calls: list[str] = []
    crash = [True]

    def build(engine: str, saver: Any) -> Any:
        e = ENGINES[engine]

        def node(state: State) -> dict[str, Any]:
            calls.append("node")
            raise RuntimeError("boom")

        def handler(state: State, error: Any) -> dict[str, Any]:
            calls.append(f"handler:{error.node}")
            if crash[0]:
                raise RuntimeError("handler crash")
            return {"log": [f"recovered from {error.error}"]}

        handler.__annotations__["error"] = e.NodeError
        return (
            e.StateGraph(State)
            .set_node_defaults(error_handler=handler)
            .add_node("fail", node)
            .add_edge(e.START, "fail")
            .compile(checkpointer=saver)
        )

    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(RuntimeError, match="handler crash"):
        build(first, saver).invoke({"log": []}, config)
    crash[0] = False
    out = build(then, saver).invoke(None, config)
    assert calls == ["node", "handler:fail", "handler:fail"]
    assert out["log"][0].startswith("recovered from") and "boom" in out["log"][0]


def test_set_node_defaults_as_langgraph() -> None:
    def run(engine: str) -> Any:
        e = ENGINES[engine]
        attempts: list[str] = []

        def flaky(state: State) -> dict[str, Any]:
            attempts.append("flaky")
            raise ValueError("always")

        def own_policy(state: State) -> dict[str, Any]:
            attempts.append("own")
            raise ValueError("always")

        def handler(state: State, error: Any) -> dict[str, Any]:
            return {"log": [f"default handled {error.node}"]}

        handler.__annotations__["error"] = e.NodeError
        graph = (
            e.StateGraph(State)
            .add_node("flaky", flaky)
            .add_node("own_policy", own_policy, retry_policy=e.RetryPolicy(max_attempts=1))
            .set_node_defaults(
                retry_policy=e.RetryPolicy(max_attempts=3, jitter=False, retry_on=ValueError),
                error_handler=handler,
            )
            .add_edge(e.START, "flaky")
            .add_edge(e.START, "own_policy")
            .compile()
        )
        with patch("time.sleep"):
            out = graph.invoke({"log": []})
        return sorted(out["log"]), sorted(attempts)

    log, attempts = both(run)
    assert attempts == ["flaky", "flaky", "flaky", "own"]
    assert log == ["default handled flaky", "default handled own_policy"]


def test_default_error_handler_name_collision_refused() -> None:
    def err(engine: str) -> str:
        e = ENGINES[engine]
        builder = (
            e.StateGraph(State)
            .set_node_defaults(error_handler=lambda s: s)
            .add_node("__default_error_handler__", lambda s: s)
            .add_edge(e.START, "__default_error_handler__")
        )
        with pytest.raises(ValueError) as info:
            builder.compile()
        return str(info.value)

    both(err)


# ---------------------------------------------------------------------- step timeout


@BOTH
async def test_step_timeout_cancels_the_step(engine: str) -> None:
    e = ENGINES[engine]
    cancelled: list[bool] = []

    async def slow(state: Num) -> dict[str, Any]:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return {"x": 1}

    graph = e.StateGraph(Num).add_node("slow", slow).add_edge(e.START, "slow").compile()
    graph.step_timeout = 0.1
    with pytest.raises(asyncio.TimeoutError):
        await graph.ainvoke({"x": 0})
    assert cancelled == [True]


@BOTH
def test_step_timeout_sync(engine: str) -> None:
    e = ENGINES[engine]
    graph = (
        e.StateGraph(Num)
        .add_node("slow", lambda s: time.sleep(0.3) or {"x": 1})
        .add_edge(e.START, "slow")
        .compile()
    )
    graph.step_timeout = 0.05
    with pytest.raises(TimeoutError, match="Timed out"):
        graph.invoke({"x": 0})
    graph.step_timeout = 5
    assert graph.invoke({"x": 0}) == {"x": 1}
