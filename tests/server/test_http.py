"""Bad input, auth, limits and the routes around runs, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from streamtap.server import create_app
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN, sse_events

TOKEN = "s3cret-token-value"


@pytest.fixture
def model() -> ScriptedChat:
    return ScriptedChat(tokens=["a", "b"])


@pytest.fixture
def url(serve: Any, model: ScriptedChat) -> str:
    return serve({"agent": chat_graph(model)}).url


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": HUMAN}, "assistant_id"),
        ({"assistant_id": "agent", "stream_mode": ["values", "bogus"]}, "stream_mode"),
        ({"assistant_id": "agent", "stream_subgraphs": "sometimes"}, "stream_subgraphs"),
        ({"assistant_id": "agent", "on_disconnect": "explode"}, "on_disconnect"),
        ({"assistant_id": "agent", "config": {"recursion_limit": 0}}, "config"),
        ({"assistant_id": "agent", "input": HUMAN, "command": {"resume": 1}}, "body"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    url: str, model: ScriptedChat, body: dict[str, Any], field: str
) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/runs/stream", json=body)
    assert response.status_code == 422
    detail = response.json()
    assert field in detail["fields"]
    assert field in detail["detail"] or field == "body"
    assert all(set(err) == {"loc", "msg", "type"} for err in detail["errors"])
    assert model.events == []


async def test_422_never_echoes_the_submitted_value(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/runs/stream",
            json={"assistant_id": "agent", "stream_mode": "sk-live-secret-value-1234"},
        )
    assert response.status_code == 422
    assert "sk-live-secret-value" not in response.text


JSON = {"Content-Type": "application/json"}


async def test_invalid_json_unknown_assistant_and_unknown_fields(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        bad = await client.post("/runs/stream", content=b"{not json", headers=JSON)
        assert bad.status_code == 422 and bad.json()["fields"] == ["body"]
        listed = await client.post("/runs/stream", json=["agent"])
        assert listed.status_code == 422
        missing = await client.post("/runs/stream", json={"assistant_id": "nope"})
        assert missing.status_code == 404
        assert "nope" in missing.json()["detail"] and "agent" in missing.json()["detail"]
        # Fields this server does not know are ignored, as the Platform's newer SDKs send them.
        async with client.stream(
            "POST",
            "/runs/stream",
            json={
                "assistant_id": "agent",
                "input": HUMAN,
                "stream_mode": "values",
                "feedback_keys": ["x"],
                "durability": "async",
                "brand_new_field": {"a": 1},
            },
        ) as ok:
            assert ok.status_code == 200
            events = [e async for _, e, _ in sse_events(ok)]
        assert events == ["metadata", "values", "values", "end"]


async def test_body_over_the_limit_is_413_and_nothing_runs(serve: Any, model: ScriptedChat) -> None:
    url = serve({"agent": chat_graph(model)}, max_body_bytes=2_000).url
    big = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": "x" * 5_000}]},
    }
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/runs/stream", json=big)
        assert response.status_code == 413
        # Chunked upload without Content-Length is cut off too.
        payload = httpx.Response(200, json=big).content

        async def chunks() -> Any:
            for i in range(0, len(payload), 500):
                yield payload[i : i + 500]

        chunked = await client.post("/runs/stream", content=chunks(), headers=JSON)
        assert chunked.status_code == 413
    assert model.events == []


async def test_api_token_is_required_and_never_echoed(serve: Any, model: ScriptedChat) -> None:
    url = serve({"agent": chat_graph(model)}, api_token=TOKEN).url
    run = {"assistant_id": "agent", "input": HUMAN, "stream_mode": "messages-tuple"}
    async with httpx.AsyncClient(base_url=url) as client:
        for headers in ({}, {"Authorization": "Bearer wrong-token-here"}, {"Authorization": TOKEN}):
            response = await client.post("/runs/stream", json=run, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text and "wrong-token" not in response.text
        assert (await client.post("/threads", json={})).status_code == 401
        assert model.events == []
        # The chat page itself is public; its API calls carry the token.
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/static/chat.js")).status_code == 200
        ok = await client.post(
            "/runs/stream", json=run, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code == 200
        sdk_style = await client.post("/threads", json={}, headers={"x-api-key": TOKEN})
        assert sdk_style.status_code == 200
    assert model.events == ["opened", "finished"]


async def test_threads_routes_and_busy_thread(serve: Any) -> None:
    slow = ScriptedChat(tokens=["a"] * 50, delay=0.02)
    url = serve({"agent": chat_graph(slow)}).url
    async with httpx.AsyncClient(base_url=url) as client:
        assert (
            await client.post("/threads/nope/runs/stream", json={"assistant_id": "agent"})
        ).status_code == 404
        created = (
            await client.post("/threads", json={"thread_id": "t-1", "metadata": {"k": 1}})
        ).json()
        assert created["thread_id"] == "t-1" and created["status"] == "idle"
        assert (await client.post("/threads", json={"thread_id": "t-1"})).status_code == 409
        again = await client.post("/threads", json={"thread_id": "t-1", "if_exists": "do_nothing"})
        assert again.status_code == 200
        run = {
            "assistant_id": "agent",
            "input": HUMAN,
            "stream_mode": "messages-tuple",
            "on_disconnect": "continue",
        }
        async with client.stream("POST", "/threads/t-1/runs/stream", json=run) as first:
            assert first.status_code == 200
            reject = {**run, "multitask_strategy": "reject"}
            busy = await client.post("/threads/t-1/runs/stream", json=reject)
            assert busy.status_code == 409
            thread = (await client.get("/threads/t-1")).json()
            assert thread["status"] == "busy"
            async for _ in sse_events(first):
                pass
        found = (await client.post("/threads/search", json={"metadata": {"k": 1}})).json()
        assert [t["thread_id"] for t in found] == ["t-1"]
        assert (await client.post("/threads/search", json={"limit": 0})).status_code == 422
        created2 = await client.post(
            "/threads/t-2/runs/stream",
            json={**run, "if_not_exists": "create", "stream_mode": "values"},
        )
        assert created2.status_code == 200
        assert (await client.delete("/threads/t-1")).status_code == 204
        assert (await client.get("/threads/t-1")).status_code == 404
        assistants = (await client.post("/assistants/search", json={})).json()
        assert [a["graph_id"] for a in assistants] == ["agent"]
        by_uuid = await client.get(f"/assistants/{assistants[0]['assistant_id']}")
        assert by_uuid.json()["graph_id"] == "agent"


async def test_cors_exposes_the_run_headers(serve: Any) -> None:
    url = serve({"agent": chat_graph(ScriptedChat())}, cors_origins=["http://app.test"]).url
    async with httpx.AsyncClient(base_url=url) as client:
        pre = await client.options(
            "/runs/stream",
            headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 200
        response = await client.post(
            "/runs/stream",
            json={"assistant_id": "agent", "input": HUMAN},
            headers={"Origin": "http://app.test"},
        )
        assert "Location" in response.headers["access-control-expose-headers"]
        assert response.headers["location"].endswith("/stream")
        assert response.headers["content-location"].startswith("/threads/")


def test_create_app_rejects_bad_arguments() -> None:
    graph = chat_graph(ScriptedChat())
    with pytest.raises(ValueError, match="at least one graph"):
        create_app({})
    with pytest.raises(ValueError, match="without '/'"):
        create_app({"a/b": graph})
    with pytest.raises(TypeError, match="not a compiled graph"):
        create_app({"a": object()})
    with pytest.raises(ValueError, match="at least 8"):
        create_app({"a": graph}, api_token="short")
