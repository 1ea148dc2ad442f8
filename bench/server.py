"""A loopback SSE server for the benchmark, run in its own process.

In its own process so that serving bytes never competes with the measured
client for the GIL. It speaks just enough HTTP/1.1 for the SDKs: keep-alive
connections, ``Content-Length`` request bodies, chunked responses with one
HTTP chunk per SSE piece, ``POST /v1/chat/completions`` and ``POST /v1/messages``.

Bounded: it listens on ``127.0.0.1`` only, on a free port it prints as
``PORT <n>``, and exits when its parent closes its stdin or after
``--max-seconds``, whichever comes first.

    python -m bench.server [--per-piece 1] [--max-seconds 1800]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.transports import _Bodies, tokens_of, vendor_of

__all__ = ["serve"]

_OK = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _error(status: int, message: str) -> bytes:
    data = json.dumps({"error": {"type": "bench_error", "message": message}}).encode()
    return (
        f"HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _handle(
    bodies: _Bodies, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            payload = await reader.readexactly(length) if length else b""
            parts = request_line.decode("latin-1").split()
            try:
                body = bodies.get(vendor_of(parts[1].split("?")[0]), tokens_of(payload))
            except (ValueError, IndexError) as exc:
                writer.write(_error(404, str(exc)))
                await writer.drain()
                continue
            writer.write(_OK)
            for piece in body.pieces:
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except asyncio.CancelledError:
        return  # server shutdown with keep-alive connections open: nothing to report
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _stdin_closed() -> None:
    """Return when the parent closes our stdin (or dies)."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


async def _main(per_piece: int, max_seconds: float) -> None:
    bodies = _Bodies(per_piece)
    server = await asyncio.start_server(
        lambda r, w: _handle(bodies, r, w), "127.0.0.1", 0, backlog=4096, limit=1 << 20
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_stdin_closed(), max_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--per-piece", type=int, default=1, help="SSE events per HTTP chunk")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="exit after this long")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.per_piece, args.max_seconds))
    os._exit(0)  # the stdin reader thread cannot be interrupted


@contextmanager
def serve(*, per_piece: int = 1, max_seconds: float = 1800.0) -> Iterator[int]:
    """Start the server in a child process; yields its port; stops it on exit."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.server",
            "--per-piece",
            str(per_piece),
            "--max-seconds",
            str(max_seconds),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"bench server did not start (said {line!r})")
        yield int(line.split()[1])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    main()
