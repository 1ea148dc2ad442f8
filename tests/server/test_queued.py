"""What a queued run carries to the process that executes it, and the options that choose
the Postgres + Redis layout (``create_app``, ``streamtap serve``)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from streamtap.cli import build_parser
from streamtap.server import create_app
from streamtap.server._auth import Identity
from streamtap.server._queued import dump_request, load_request
from streamtap.server._schema import RunRequest
from tests.server._support import ScriptedChat, chat_graph


def test_a_request_survives_the_queue_row_with_its_auth_user() -> None:
    """The queue row is JSON; a custom-auth user rides in it as data and is rebuilt into
    the ``Identity`` a node reads (``langgraph_auth_user``), permissions included."""
    user = Identity({"identity": "ada", "role": "admin"}, ["threads:write"])
    req = RunRequest.model_validate(
        {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": "hi"}]},
            "config": {"configurable": {"k": 1, "langgraph_auth_user": user}},
            "stream_mode": ["messages-tuple", "values"],
            "multitask_strategy": "enqueue",
        }
    )
    row = dump_request(req)
    import json

    assert json.loads(json.dumps(row)) == row  # plain JSON
    assert row["config"]["configurable"]["langgraph_auth_user"] == {
        "identity": "ada",
        "role": "admin",
        "permissions": ["threads:write"],
    }
    back = load_request(row)
    again = back.config["configurable"]["langgraph_auth_user"]  # type: ignore[index]
    assert isinstance(again, Identity)
    assert (again.identity, again["role"], again.permissions) == (
        "ada",
        "admin",
        ("threads:write",),
    )
    assert back.model_dump(exclude={"config"}) == req.model_dump(exclude={"config"})
    assert back.config["configurable"]["k"] == 1  # type: ignore[index]


def test_create_app_chooses_the_layout_from_its_urls_and_refuses_a_mix() -> None:
    graphs = {"agent": chat_graph(ScriptedChat())}
    with pytest.raises(ValueError, match="add redis_url="):
        create_app(graphs, database_url="postgresql://db/app")
    with pytest.raises(ValueError, match="not both"):
        from streamtap.server import MemoryBackend

        create_app(graphs, backend=MemoryBackend(), redis_url="redis://cache")
    with pytest.raises(ValueError, match="jobs"):
        create_app(graphs, jobs=0)
    pytest.importorskip("psycopg_pool")
    from streamtap.server.postgres import PostgresBackend

    app = create_app(graphs, database_url="postgresql://db/app", redis_url="redis://cache")
    backend = app.state.manager.backend
    assert isinstance(backend, PostgresBackend)
    assert (backend.lease, backend.heartbeat, backend.retries) == (30.0, 10.0, 1)
    assert app.state.manager.jobs == 10


def test_serve_refuses_a_heartbeat_that_does_not_beat_the_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("psycopg_pool")
    module = types.ModuleType("graphs_for_queued_cli_test")
    module.graph = chat_graph(ScriptedChat())  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    args = build_parser().parse_args(
        [
            "serve",
            f"{module.__name__}:graph",
            *("--database-url", "postgresql://db/app", "--redis-url", "redis://cache"),
            *("--lease", "5", "--heartbeat", "5"),
        ]
    )
    with pytest.raises(SystemExit, match="heartbeat < lease"):
        args.func(args)


def test_serve_passes_jobs_and_lease_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg_pool")
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    module = types.ModuleType("graphs_for_queued_cli_test2")
    module.graph = chat_graph(ScriptedChat())  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    args = build_parser().parse_args(
        [
            "serve",
            f"{module.__name__}:graph",
            *("--database-url", "postgresql://db/app", "--redis-url", "redis://cache"),
            *("--lease", "6", "--heartbeat", "2", "--retries", "3", "--jobs", "4"),
        ]
    )
    monkeypatch.setattr("streamtap.cli.serve.freeze_startup_heap", lambda: None)
    assert args.func(args) == 0
    manager = served["app"].state.manager
    assert manager.jobs == 4
    assert (manager.backend.lease, manager.backend.heartbeat, manager.backend.retries) == (6, 2, 3)
