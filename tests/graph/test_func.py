"""The functional API (``streamtap.graph.func``) compared with LangGraph's on the same code.

Each scenario is written once against ``g`` (streamtap.graph or langgraph) and must give
the same stream parts, results, states and call counts on both; threads paused by one
engine are resumed by the other on one saver.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from tests.graph._fakes import TokenFake
from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import normalize

CFG = {"configurable": {"thread_id": "t"}}


def both(run: Any) -> Any:
    expected, got = run(impl(LG)), run(impl(ST))
    assert got == expected
    return got


def _sequential(g: Any, calls: Counter[str]) -> Any:
    @g.task
    def add_one(x: int) -> int:
        calls["add_one"] += 1
        return x + 1

    @g.task
    def ask(x: int) -> str:
        calls["ask"] += 1
        return str(g.interrupt(f"ok {x}?"))

    @g.entrypoint(checkpointer=g.InMemorySaver())
    def workflow(numbers: list[int], *, previous: Any = None) -> dict[str, Any]:
        added = [add_one(n).result() for n in numbers]
        answer = ask(added[0]).result()
        return {"added": added, "answer": answer, "previous": previous}

    return workflow


def test_tasks_interrupt_and_resume_stream_as_on_langgraph() -> None:
    def run(g: Any) -> Any:
        calls: Counter[str] = Counter()
        wf = _sequential(g, calls)
        out = [normalize(list(wf.stream([1, 2], CFG, stream_mode=["updates", "values"])))]
        state = wf.get_state(CFG)
        out.append(normalize([state.values, state.next, [i.value for i in state.interrupts]]))
        out.append(normalize(list(wf.stream(g.Command(resume="yes"), CFG))))
        out.append(normalize(wf.get_state(CFG).values))
        # the next run on the thread sees what the last one returned as ``previous``
        out.append(normalize(wf.invoke([5], CFG)))
        out.append(dict(calls))
        return out

    got = both(run)
    assert got[2][-1] == {"workflow": {"added": [2, 3], "answer": "yes", "previous": None}}
    # the resumed run found both add_one results saved: each number was added once
    assert got[-1] == {"add_one": 3, "ask": 3}


def test_parallel_tasks_run_at_once_and_their_updates_stream_before_the_result() -> None:
    def run(g: Any) -> Any:
        started = threading.Barrier(3, timeout=5)

        @g.task
        def slow(i: int) -> int:
            started.wait()  # all three run at the same time, or this times out
            return i * 10

        @g.entrypoint()
        def fan_out(n: int) -> int:
            return sum(f.result() for f in [slow(i) for i in range(n)])

        parts = normalize(list(fan_out.stream(3)))
        return sorted(parts[:-1], key=repr), parts[-1]  # the calls finish in any order

    calls, result = both(run)
    assert calls == [{"slow": 0}, {"slow": 10}, {"slow": 20}] and result == {"fan_out": 30}


def test_final_returns_one_value_and_saves_another() -> None:
    def run(g: Any) -> Any:
        @g.entrypoint(checkpointer=g.InMemorySaver())
        def counter(n: int, *, previous: Any = None) -> Any:
            total = (previous or 0) + n
            return g.entrypoint.final(value=f"total {total}", save=total)

        return [counter.invoke(n, CFG) for n in (1, 2, 3)], counter.get_state(CFG).values

    assert both(run) == (["total 1", "total 3", "total 6"], "total 6")


def test_a_thread_paused_by_one_engine_resumes_on_the_other() -> None:
    def pause(g: Any, saver: Any, calls: Counter[str]) -> Any:
        @g.task
        def fetch(x: int) -> int:
            calls[f"{g.name}:fetch"] += 1
            return x * 2

        @g.task
        def approve(x: int) -> Any:
            return g.interrupt({"approve": x})

        @g.entrypoint(checkpointer=saver)
        def flow(x: int) -> list[Any]:
            fetched = fetch(x).result()
            return [fetched, approve(fetched).result()]

        return flow

    for first, second in ((LG, ST), (ST, LG)):
        calls: Counter[str] = Counter()
        saver = impl(LG).InMemorySaver()
        paused = pause(impl(first), saver, calls).invoke(21, CFG)
        assert normalize(paused)["__interrupt__"][0][1] == {"approve": 42}
        resumed = pause(impl(second), saver, calls).invoke(impl(second).Command(resume="ok"), CFG)
        assert resumed == [42, "ok"]
        # the fetch saved by the first engine was found by the second's task id
        assert calls == {f"{impl(first).name}:fetch": 1}


def test_async_entrypoint_awaits_tasks_and_a_task_error_reaches_the_caller() -> None:
    def run(g: Any) -> Any:
        @g.task
        async def double(x: int) -> int:
            await asyncio.sleep(0)
            return 2 * x

        @g.task
        async def fail(x: int) -> int:
            raise ValueError(f"bad {x}")

        @g.entrypoint(checkpointer=g.InMemorySaver())
        async def flow(x: int) -> dict[str, Any]:
            doubled = await double(x)
            try:
                await fail(doubled)
            except ValueError as e:
                return {"doubled": doubled, "error": str(e)}
            return {"doubled": doubled}

        async def go() -> Any:
            return [part async for part in flow.astream(4, CFG, stream_mode="updates")]

        return normalize(asyncio.run(go()))

    assert both(run)[-1] == {"flow": {"doubled": 8, "error": "bad 8"}}


def test_a_sync_entrypoint_under_astream_calls_sync_tasks() -> None:
    def run(g: Any) -> Any:
        @g.task
        def upper(s: str) -> str:
            return s.upper()

        @g.entrypoint()
        def shout(s: str) -> str:
            return upper(s).result() + "!"

        async def go() -> Any:
            return [part async for part in shout.astream("hi")]

        return asyncio.run(go())

    assert both(run) == [{"upper": "HI"}, {"shout": "HI!"}]


def test_tokens_of_a_model_called_in_a_task_are_tagged_as_on_langgraph() -> None:
    def run(g: Any) -> Any:
        @g.task
        def answer(q: str) -> str:
            return str(TokenFake(tokens=["4", "2"]).invoke([HumanMessage(q)]).content)

        @g.entrypoint()
        def chat(q: str) -> str:
            return answer(q).result()

        parts = []
        for ns, mode, payload in chat.stream(
            "?", stream_mode=["messages", "updates"], subgraphs=True
        ):
            if mode == "messages":
                chunk, meta = payload
                keep = ("langgraph_node", "langgraph_step", "langgraph_triggers")
                parts.append((len(ns), mode, chunk.content, {k: meta[k] for k in keep}))
                parts.append(meta["langgraph_path"][0::2])
            else:
                parts.append((ns, mode, payload))
        return normalize(parts)

    got = both(run)
    tokens = [p for p in got if isinstance(p, tuple) and p[1] == "messages"]
    assert [t[2] for t in tokens] == ["4", "2", ""]  # the last: the stream's closing chunk
    assert tokens[0][3]["langgraph_node"] == "answer"


def test_a_cached_task_runs_once_per_argument_across_threads() -> None:
    from langgraph.cache.memory import InMemoryCache
    from langgraph.types import CachePolicy

    def run(g: Any) -> Any:
        calls: Counter[int] = Counter()

        @g.task(cache_policy=CachePolicy())
        def square(x: int) -> int:
            calls[x] += 1
            return x * x

        @g.entrypoint(checkpointer=g.InMemorySaver(), cache=InMemoryCache())
        def squares(xs: list[int]) -> list[int]:
            return [square(x).result() for x in xs]

        out = [squares.invoke([2, 3], {"configurable": {"thread_id": str(i)}}) for i in (1, 2)]
        cached = list(squares.stream([2], {"configurable": {"thread_id": "3"}}))
        return out, normalize(cached), dict(calls)

    out, cached, calls = both(run)
    assert out == [[4, 9], [4, 9]]
    assert calls == {2: 1, 3: 1}
    assert cached[0] == {"square": 4, "__metadata__": {"cached": True}}


def test_a_task_outside_a_graph_and_a_bad_entrypoint_fail_clearly() -> None:
    from streamtap.graph.func import entrypoint, task

    @task
    def lone(x: int) -> int:
        return x

    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        lone(1)
    with pytest.raises(ValueError, match="at least one parameter"):
        entrypoint()(lambda: None)
    with pytest.raises(NotImplementedError, match="Generators"):

        @entrypoint()
        def gen(x: int) -> Any:
            yield x

    with pytest.raises(ValueError, match="only supported for async"):
        task(timeout=1.0)(lambda x: x)
    with pytest.raises(TypeError, match="unexpected keyword"):
        entrypoint(nonsense=True)  # type: ignore[call-arg]


def test_max_concurrency_limits_parallel_tasks_of_a_step() -> None:
    running, peak = 0, 0
    lock = threading.Lock()

    def node(state: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return {}

    g = impl(ST)

    from typing_extensions import TypedDict

    class S(TypedDict, total=False):
        x: int

    builder = g.StateGraph(S)
    for i in range(6):
        builder.add_node(f"n{i}", node)
        builder.add_edge(g.START, f"n{i}")
    graph = builder.compile()
    graph.invoke({}, {"max_concurrency": 2})
    assert peak == 2
    peak = 0

    async def go() -> None:
        await graph.ainvoke({}, {"max_concurrency": 3})

    asyncio.run(go())
    assert peak == 3
