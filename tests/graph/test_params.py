"""No silent differences: LangGraph call parameters streamtap.graph does not honour raise."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from streamtap.graph import START, StateGraph


class S(TypedDict):
    x: int


def graph() -> Any:
    builder = StateGraph(S)
    builder.add_node("n", lambda s: {"x": s["x"] + 1})
    builder.add_edge(START, "n")
    return builder.compile()


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_an_unknown_keyword_is_a_type_error_naming_it(method: str) -> None:
    with pytest.raises(
        TypeError, match=rf"{method}\(\) got unexpected keyword argument\(s\): nonsense"
    ):
        result = getattr(graph(), method)({"x": 0}, nonsense=True)
        list(result) if method == "stream" else None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"durability": "sync"},
        {"durability": "async"},
        {"durability": "exit"},
        {"debug": False},
        {"debug": True},  # prints (tests/graph/test_surface_extras.py)
        {"print_mode": "values"},
        {"context": None},
    ],
)
async def test_values_that_mean_what_streamtap_does_are_accepted(kwargs: dict[str, Any]) -> None:
    assert graph().invoke({"x": 0}, **kwargs) == {"x": 1}
    assert await graph().ainvoke({"x": 0}, **kwargs) == {"x": 1}


def test_an_unknown_durability_is_refused() -> None:
    with pytest.raises(ValueError, match="durability must be"):
        graph().invoke({"x": 0}, durability="later")
