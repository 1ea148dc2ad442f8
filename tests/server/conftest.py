from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.sse import SSEDecoder, aiter_lines_raw

from streamtap.server import create_app
from tests.server._support import LiveServer

HUMAN = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """``serve(graphs, **create_app_kwargs)`` -> a started LiveServer, stopped after the test."""
    with ExitStack() as stack:

        def start(graphs: dict[str, Any], **kwargs: Any) -> LiveServer:
            kwargs.setdefault("disconnect_grace", 0.2)
            return stack.enter_context(LiveServer(create_app(graphs, **kwargs)))

        yield start


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str, Any]]:
    """(id, event, data) parsed with the official SDK's own SSE decoder."""
    decoder = SSEDecoder()
    async for line in aiter_lines_raw(response):
        part = decoder.decode(bytes(line).rstrip(b"\n"))
        if part is not None and part.event:
            yield part.id, part.event, part.data


REDIS = shutil.which("redis-server")


def start_redis(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of its own on a free loopback port (or ``port``: a restart), nothing
    persisted."""
    if REDIS is None:
        pytest.skip("redis-server not installed (Debian package: redis-server)")
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    args = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(workdir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def pg_pool(postgres_db: str) -> AsyncIterator[Any]:
    """A connection pool on a migrated database of this test's own (``_pg_schema``)."""
    pytest.importorskip("psycopg_pool")
    from psycopg_pool import AsyncConnectionPool

    from streamtap.server._pg_schema import migrate

    async with AsyncConnectionPool(
        postgres_db, min_size=1, max_size=16, open=False, kwargs={"autocommit": True}
    ) as pool:
        async with pool.connection() as conn:
            await migrate(conn)
        yield pool
