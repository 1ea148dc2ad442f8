"""Resumable streams: Last-Event-ID, the SDK's own reconnect, and the bounded buffer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from streamtap.server import MemoryBackend
from streamtap.server._records import EventsExpiredError, RunRecord, UnknownEventIdError
from tests.server._support import ScriptedChat, chat_graph
from tests.server.conftest import HUMAN, sse_events

RUN = {
    "assistant_id": "agent",
    "input": HUMAN,
    "stream_mode": ["messages-tuple", "updates"],
    "stream_resumable": True,
}


@pytest.mark.parametrize("sync", [True, False])
async def test_reconnect_with_last_event_id_gets_exactly_the_rest(serve: Any, sync: bool) -> None:
    tokens = [f"w{i}" for i in range(40)]
    model = ScriptedChat(tokens=tokens, delay=0.01)
    server = serve({"agent": chat_graph(model, sync=sync)}, disconnect_grace=5.0)
    first: list[tuple[str | None, str, Any]] = []
    async with httpx.AsyncClient(base_url=server.url) as client:
        async with client.stream("POST", "/runs/stream", json=RUN) as response:
            location = response.headers["location"]
            async for event in sse_events(response):
                first.append(event)
                if len(first) == 6:
                    break
        await asyncio.sleep(0.15)  # the run keeps producing while nobody listens
        last_id = first[-1][0]
        assert last_id == "6"
        async with client.stream("GET", location, headers={"Last-Event-ID": last_id}) as response:
            assert response.status_code == 200
            rest = [e async for e in sse_events(response)]
    everything = first + rest
    assert [int(i) for i, _, _ in everything if i] == list(range(1, len(everything) + 1))
    contents = [d[0]["content"] for _, e, d in everything if e == "messages"]
    assert contents == [*tokens, ""]
    assert everything[-1][1] == "end" and everything[-1][2]["status"] == "success"
    assert model.events == ["opened", "finished"]  # resumed in time: never cancelled


async def test_join_without_last_event_id_replays_a_resumable_run(serve: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["a", "b"]))})
    async with httpx.AsyncClient(base_url=server.url) as client:
        async with client.stream("POST", "/runs/stream", json=RUN) as response:
            location = response.headers["location"]
            whole = [e async for e in sse_events(response)]
        async with client.stream("GET", location) as response:
            replay = [e async for e in sse_events(response)]
        assert replay == whole
        # Not resumable: a join sees only what comes next (here: nothing, the run is over).
        async with client.stream(
            "POST", "/runs/stream", json={**RUN, "stream_resumable": False}
        ) as response:
            location = response.headers["location"]
            _ = [e async for e in sse_events(response)]
        async with client.stream("GET", location) as response:
            assert [e async for e in sse_events(response)] == []
        run = (await client.get(location.removesuffix("/stream"))).json()
        assert run["status"] == "success"
        # Ids the run never sent are refused, not silently replayed from the start.
        for bad in ("999", "abc"):
            refused = await client.get(location, headers={"Last-Event-ID": bad})
            assert refused.status_code == 400
        assert (await client.get(location.replace("/runs/", "/runs/x"))).status_code == 404


class _CuttingProxy:
    """A loopback TCP proxy that cuts its first connection after ``cut_after`` bytes downstream."""

    def __init__(self, upstream_port: int, cut_after: int) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        self.connections += 1
        limit = self.cut_after if self.connections == 1 else None
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, cap: int | None
        ) -> None:
            sent = 0
            with contextlib.suppress(ConnectionError):
                while data := await src.read(4096):
                    if cap is not None and sent + len(data) >= cap:
                        dst.write(data[: cap - sent])
                        await dst.drain()
                        break
                    sent += len(data)
                    dst.write(data)
                    await dst.drain()

        try:
            upstream = asyncio.create_task(pipe(reader, up_writer, None))
            await pipe(up_reader, writer, limit)
            upstream.cancel()
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()


async def test_official_sdk_reconnects_on_its_own_after_a_drop(serve: Any) -> None:
    tokens = [f"t{i}" for i in range(30)]
    model = ScriptedChat(tokens=tokens, delay=0.02)
    server = serve({"agent": chat_graph(model)}, disconnect_grace=5.0)
    proxy = _CuttingProxy(server.port, cut_after=2_500)
    async with proxy as proxy_url:
        client = get_client(url=proxy_url, api_key=None)
        parts = [
            p
            async for p in client.runs.stream(
                None, "agent", input=HUMAN, stream_mode="messages-tuple", stream_resumable=True
            )
        ]
    assert proxy.connections == 2  # the first connection was cut mid-run, the SDK came back
    ids = [int(p.id) for p in parts]
    assert ids == list(range(1, len(parts) + 1))  # nothing lost, nothing repeated
    assert [p.data[0]["content"] for p in parts if p.event == "messages"] == [*tokens, ""]
    assert parts[-1].event == "end"
    assert model.events == ["opened", "finished"]


def _run(run_id: str = "r") -> RunRecord:
    return RunRecord(
        run_id, "t", "a", "g", stateless=True, stream_resumable=True, on_disconnect="cancel"
    )


async def test_memory_backend_bounds_and_expiry() -> None:
    backend = MemoryBackend(max_events_per_run=8, ttl=0.05)
    await backend.create_run(_run())
    ids = [await backend.publish("r", "e", str(i).encode()) for i in range(20)]
    assert ids == [str(i) for i in range(1, 21)]
    await backend.check_cursor("r", "19")
    with pytest.raises(EventsExpiredError):
        await backend.check_cursor("r", "2")
    with pytest.raises(UnknownEventIdError):
        await backend.check_cursor("r", "21")
    await backend.publish("r", "end", b"{}")
    got = [e async for batch in backend.read("r", "18") for e in batch]
    assert [e.id for e in got] == ["19", "20", "21"]
    assert [e async for batch in backend.read("r", "21") for e in batch] == []
    await backend.set_run_status("r", "success")
    await asyncio.sleep(0.06)
    assert await backend.get_run("r") is None
