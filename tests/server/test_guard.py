"""A server without an API token is not drivable from web pages: Host (DNS rebinding),
Origin (cross-site fetches and sockets) and Content-Type (simple cross-site posts) are
checked before anything runs; WebSocket first frames are bounded and type-checked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN

# messages mode: the model streams, so a run that happened shows in model.events
RUN = {"assistant_id": "agent", "input": HUMAN, "stream_mode": ["messages-tuple"]}


def _served(serve: Any, **kwargs: Any) -> tuple[Any, ScriptedChat]:
    model = ScriptedChat()
    return serve({"agent": chat_graph(model)}, **kwargs), model


async def test_a_foreign_host_is_refused_and_nothing_runs(serve: Any) -> None:
    server, model = _served(serve, allowed_hosts=["box.lan"])
    async with httpx.AsyncClient(base_url=server.url) as client:
        for method, path in (("POST", "/runs/stream"), ("POST", "/threads/search"), ("GET", "/")):
            body = RUN if method == "POST" else None
            rebound = await client.request(
                method, path, json=body, headers={"Host": "attacker.example"}
            )
            assert rebound.status_code == 421, path
            assert "STREAMTAP_API_TOKEN" in rebound.json()["detail"]
        allowed = await client.post("/threads/search", json={}, headers={"Host": "box.lan:8123"})
        local = await client.post("/threads/search", json={}, headers={"Host": "localhost:1"})
        ipv6 = await client.post("/threads/search", json={}, headers={"Host": "[::1]:2024"})
    assert (allowed.status_code, local.status_code, ipv6.status_code) == (200, 200, 200)
    assert model.events == []


async def test_cross_site_origins_are_refused_unless_allowed(serve: Any) -> None:
    server, model = _served(serve, cors_origins=["http://app.test"])
    own = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=server.url) as client:
        evil = await client.post(
            "/runs/stream", json=RUN, headers={"Origin": "http://evil.example"}
        )
        assert evil.status_code == 403
        assert model.events == []
        for origin in (own, "http://app.test"):
            ok = await client.post("/threads/search", json={}, headers={"Origin": origin})
            assert ok.status_code == 200, origin


async def test_a_body_must_be_json_with_or_without_a_token(serve: Any) -> None:
    for kwargs in ({}, {"api_token": "a-long-enough-token"}):
        server, model = _served(serve, **kwargs)
        auth = {"Authorization": "Bearer a-long-enough-token"} if kwargs else {}
        async with httpx.AsyncClient(base_url=server.url) as client:
            plain = await client.post(
                "/runs/stream",
                content=json.dumps(RUN),
                headers={"Content-Type": "text/plain", **auth},
            )
            assert plain.status_code == 415
            typed = await client.post(
                "/threads",
                content=b"{}",
                headers={"Content-Type": "application/json; charset=utf-8", **auth},
            )
            assert typed.status_code == 200
            # a POST without a body (the SDK's cancel) needs no type
            empty = await client.post("/threads/search", headers=auth)
            assert empty.status_code == 200
        assert model.events == []


async def test_with_a_token_any_host_may_ask_but_must_authenticate(serve: Any) -> None:
    server, _ = _served(serve, api_token="a-long-enough-token")
    async with httpx.AsyncClient(base_url=server.url) as client:
        headers = {"Host": "api.example.com", "Origin": "http://elsewhere.example"}
        anonymous = await client.post("/threads", json={}, headers=headers)
        assert anonymous.status_code == 401
        signed = await client.post(
            "/threads", json={}, headers={**headers, "Authorization": "Bearer a-long-enough-token"}
        )
        assert signed.status_code == 200


async def test_websockets_from_other_sites_are_refused(serve: Any) -> None:
    server, model = _served(serve)
    url = server.url.replace("http", "ws") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, origin=f"http://127.0.0.1:{server.port}") as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps(RUN))
        frames = [json.loads(f) async for f in ws]
    assert frames[-1]["event"] == "end"
    assert model.events[0] == "opened"


async def test_websocket_first_frames_are_typed_bounded_and_timed(serve: Any) -> None:
    server, model = _served(serve, ws_first_frame_timeout=0.3, max_pending_sockets=2)
    url = server.url.replace("http", "ws") + "/ws"
    async with connect(url) as ws:
        await ws.send(json.dumps({**RUN, "authorization": 12345}))
        error = json.loads(await ws.recv())
        assert error["event"] == "error" and error["data"]["fields"] == ["authorization"]
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4422
    async with connect(url) as silent:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(silent.recv(), 5)
        assert silent.close_code == 4408
    idle = [await connect(url), await connect(url)]
    try:
        async with connect(url) as third:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(third.recv(), 5)
            assert third.close_code == 1013
    finally:
        for ws in idle:
            await ws.close()
    assert model.events == []
