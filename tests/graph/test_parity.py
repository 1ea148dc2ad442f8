"""streamtap.graph vs LangGraph 1.2 (the oracle): identical stream output, every mode.

Each graph is built once per implementation from the same code (``_graphs``)
and streamed with every mode and mode combination; outputs are compared after
erasing generated ids and timestamps only (``_normalize``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.graph import _graphs
from tests.graph._impls import LG, ST, impl
from tests.graph._normalize import normalize

ALL = ["values", "updates", "messages", "custom", "debug", "tasks", "checkpoints"]

MODES: list[dict[str, Any]] = [
    {},
    {"stream_mode": "values"},
    {"stream_mode": "updates"},
    {"stream_mode": "custom"},
    {"stream_mode": "messages"},
    {"stream_mode": "tasks"},
    {"stream_mode": "debug"},
    {"stream_mode": "checkpoints"},
    {"stream_mode": ["updates"]},
    {"stream_mode": ["values", "updates", "custom"]},
    {"stream_mode": ("values", "updates")},
    {"stream_mode": ["messages", "updates", "values", "custom", "tasks"]},
    {"stream_mode": ALL},
    {"stream_mode": ALL, "subgraphs": True},
    {"stream_mode": "updates", "subgraphs": True},
    {"stream_mode": "messages", "subgraphs": True},
    {"stream_mode": ALL, "version": "v2"},
    {"stream_mode": "values", "version": "v2", "subgraphs": True},
]

Builder = Callable[[Any], Any]
SEQUENTIAL: dict[str, Builder] = {
    "linear": _graphs.linear,
    "branching": _graphs.branching,
    "loop": _graphs.loop,
    "command": _graphs.command,
    "llm_messages": _graphs.llm_messages,
    "subgraph": _graphs.subgraph,
    "pydantic": _graphs.pydantic_state,
    "dataclass": _graphs.dataclass_state,
    "checkpointed": _graphs.checkpointed,
    "sub_in_function": _graphs.sub_in_function,
    "nested_subgraphs": _graphs.nested_subgraphs,
    "parent_command": _graphs.parent_command,
    "send_to_subgraph": _graphs.send_to_subgraph,
    "model_in_thread_pool": _graphs.model_in_thread_pool,
}
PARALLEL: dict[str, Builder] = {"fanout": _graphs.fanout, "join": _graphs.join}


def collect(name: str, build: Builder, kwargs: dict[str, Any]) -> list[Any]:
    graph, inp, config = build(impl(name))
    out: list[Any] = []
    try:
        for item in graph.stream(inp, config, **kwargs):
            out.append(item)
    except Exception as exc:  # the error is part of the observable output
        out.append(("RAISED", exc))
    return out


async def acollect(name: str, build: Builder, kwargs: dict[str, Any]) -> list[Any]:
    graph, inp, config = build(impl(name))
    out: list[Any] = []
    try:
        async for item in graph.astream(inp, config, **kwargs):
            out.append(item)
    except Exception as exc:
        out.append(("RAISED", exc))
    return out


def _ids(kw: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in kw.items()) or "default"


@pytest.mark.parametrize("kwargs", MODES, ids=_ids)
@pytest.mark.parametrize("case", list(SEQUENTIAL))
def test_sync_stream_matches_langgraph(case: str, kwargs: dict[str, Any]) -> None:
    build = SEQUENTIAL[case]
    assert normalize(collect(ST, build, kwargs)) == normalize(collect(LG, build, kwargs))


@pytest.mark.parametrize("kwargs", MODES[::3], ids=_ids)
@pytest.mark.parametrize("case", list(SEQUENTIAL))
async def test_async_stream_matches_langgraph(case: str, kwargs: dict[str, Any]) -> None:
    build = SEQUENTIAL[case]
    ours = normalize(await acollect(ST, build, kwargs))
    theirs = normalize(await acollect(LG, build, kwargs))
    assert ours == theirs


def _unordered(items: list[Any]) -> list[Any]:
    return sorted(normalize(items, number_ids=False), key=repr)


@pytest.mark.parametrize("kwargs", MODES, ids=_ids)
@pytest.mark.parametrize("case", list(PARALLEL))
def test_parallel_stream_matches_langgraph(case: str, kwargs: dict[str, Any]) -> None:
    """Parallel tasks finish in racy order: compare the multiset of items."""
    build = PARALLEL[case]
    assert _unordered(collect(ST, build, kwargs)) == _unordered(collect(LG, build, kwargs))


@pytest.mark.parametrize("scenario", _graphs.MSG_SCENARIOS)
@pytest.mark.parametrize(
    "kwargs", [{"stream_mode": "messages"}, {"stream_mode": ["messages", "values"]}], ids=_ids
)
def test_messages_scenarios_match_langgraph(scenario: str, kwargs: dict[str, Any]) -> None:
    def build(g: Any) -> Any:
        return _graphs.msg_scenarios(g, scenario)

    assert normalize(collect(ST, build, kwargs)) == normalize(collect(LG, build, kwargs))


@pytest.mark.parametrize("scenario", ["manual_no_ids", "model_stream", "tags"])
async def test_async_messages_scenarios_match_langgraph(scenario: str) -> None:
    def build(g: Any) -> Any:
        return _graphs.msg_scenarios(g, scenario)

    kwargs = {"stream_mode": ["messages", "updates"]}
    assert normalize(await acollect(ST, build, kwargs)) == normalize(
        await acollect(LG, build, kwargs)
    )


@pytest.mark.parametrize("case", list(SEQUENTIAL))
def test_invoke_matches_langgraph(case: str) -> None:
    build = SEQUENTIAL[case]
    results = []
    for name in (ST, LG):
        graph, inp, config = build(impl(name))
        results.append(normalize([graph.invoke(inp, config)]))
    assert results[0] == results[1]
