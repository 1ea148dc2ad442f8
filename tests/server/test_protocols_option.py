"""``create_app(protocols=...)``: an app of one chat frontend's routes alone, mounted in a
user's Starlette app (its lifespan entered from the user's), as the issue asks of each
protocol; the others answer 404 there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from streamtap.server import create_app
from tests.server._support import LiveServer, ScriptedChat, chat_graph


def test_one_protocol_alone_mounted_in_a_users_app() -> None:
    chat = create_app(
        {"agent": chat_graph(ScriptedChat(tokens=["Hel", "lo"]))},
        protocols=["openai"],
        chat_page=False,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with chat.router.lifespan_context(chat):
            yield

    users = Starlette(routes=[Mount("/api", chat)], lifespan=lifespan)
    with LiveServer(users) as server:
        models = httpx.get(f"{server.url}/api/v1/models", timeout=10)
        assert [m["id"] for m in models.json()["data"]] == ["agent"]
        answer = httpx.post(
            f"{server.url}/api/v1/chat/completions",
            json={"model": "agent", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert answer.json()["choices"][0]["message"]["content"] == "Hello"
        assert httpx.get(f"{server.url}/api/ok", timeout=10).status_code == 200
        for path in ("/api/threads/x", "/api/ai-sdk/agent/chat", "/api/ag-ui/agent", "/api/"):
            assert httpx.post(f"{server.url}{path}", json={}, timeout=10).status_code in (404, 405)


def test_protocols_must_be_known() -> None:
    graphs = {"agent": chat_graph(ScriptedChat())}
    for bad in (["openai", "graphql"], []):
        with pytest.raises(ValueError, match="protocols must name some of"):
            create_app(graphs, protocols=bad)


def test_without_the_ag_ui_extra_the_server_serves_and_ag_ui_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ag-ui-protocol`` is an extra: a server installed without it still imports and
    serves everything else, and AG-UI's route answers 501 naming the extra."""
    import sys

    from starlette.testclient import TestClient

    for name in list(sys.modules):
        if name == "ag_ui" or name.startswith(("ag_ui.", "streamtap.server.ag_ui")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "streamtap.server._ag_ui_events", raising=False)
    monkeypatch.setitem(sys.modules, "ag_ui", None)  # what "not installed" looks like
    app = create_app({"agent": chat_graph(ScriptedChat())}, chat_page=False)
    with TestClient(app, base_url="http://127.0.0.1") as http:
        refused = http.post("/ag-ui/agent", json={})
        assert refused.status_code == 501
        assert "pip install 'streamtap[ag-ui]'" in refused.json()["detail"]
        assert http.get("/v1/models").status_code == 200
        assert http.get("/ok").status_code == 200
