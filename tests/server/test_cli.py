"""``streamtap serve module:attr``: argument handling and graph loading."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import Auth

from streamtap.cli import build_parser
from streamtap.cli.serve import load_auth, load_graphs
from tests.server._support import ScriptedChat, chat_graph


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    mod = types.ModuleType("served_graphs_for_test")
    graph = chat_graph(ScriptedChat())
    mod.graph = graph  # type: ignore[attr-defined]
    mod.graphs = {"a": graph, "b": graph}  # type: ignore[attr-defined]
    mod.make = lambda: {"made": graph}  # type: ignore[attr-defined]
    mod.nothing = 42  # type: ignore[attr-defined]
    mod.auth = Auth()  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]


def test_parser_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["serve", "pkg.mod:graph"])
    assert (args.host, args.port, args.target) == ("127.0.0.1", 8123, "pkg.mod:graph")
    args = build_parser().parse_args(["serve", "m:g", "--port", "9000", "--host", "0.0.0.0"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)


def test_load_graphs_accepts_a_graph_a_dict_or_a_factory(module: Any) -> None:
    name = module.__name__
    assert list(load_graphs(f"{name}:graph")) == ["graph"]
    assert list(load_graphs(f"{name}:graphs")) == ["a", "b"]
    assert list(load_graphs(f"{name}:make")) == ["made"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "expected module:attr"),
        ("definitely_not_a_module_xyz:g", "cannot import"),
        ("served_graphs_for_test:missing", "has no attribute"),
        ("served_graphs_for_test:nothing", "expected a compiled graph"),
    ],
)
def test_load_graphs_errors_say_what_to_do(module: Any, target: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        load_graphs(target)


async def test_web_demo_graph_streams_progress_and_tokens(serve: Any) -> None:
    from langgraph_sdk import get_client

    from streamtap.cli._demo_graph import web_chat_graph as demo_graph

    server = serve({"chat": demo_graph(ScriptedChat(tokens=["a", "b"]))})
    client = get_client(url=server.url, api_key=None)
    parts = [
        (p.event, p.data)
        async for p in client.runs.stream(
            None,
            "chat",
            input={"messages": [{"role": "user", "content": "hi"}]},
            stream_mode=["custom", "messages-tuple"],
        )
    ]
    assert [d for e, d in parts if e == "custom"] == [{"progress": 0}, {"progress": 100}]
    assert [d[0]["content"] for e, d in parts if e == "messages"] == ["a", "b", ""]


def test_the_server_package_holds_no_demo_code() -> None:
    import importlib.util

    from streamtap.cli.demo import run_web_demo

    assert importlib.util.find_spec("streamtap.server.demo") is None
    assert callable(run_web_demo)


def test_auth_loads_a_langgraph_auth_object(module: Any) -> None:
    args = build_parser().parse_args(["serve", "m:g", "--auth", f"{module.__name__}:auth"])
    assert load_auth(args.auth) is module.auth
    assert build_parser().parse_args(["serve", "m:g"]).auth is None
    with pytest.raises(SystemExit, match=r"expected a langgraph_sdk\.Auth object"):
        load_auth(f"{module.__name__}:nothing")
    with pytest.raises(SystemExit, match="has no attribute"):
        load_auth(f"{module.__name__}:missing")
