"""A loopback Bedrock runtime: ``POST /model/{modelId}/converse-stream`` over real HTTP.

boto3 and aiobotocore each bring their own HTTP client (urllib3, aiohttp), so respx
cannot stand in for Bedrock: the tests point ``endpoint_url`` at this server, and the
SDKs do everything they do against AWS (SigV4 signing, retries, event-stream
decoding). The body goes out with chunked transfer encoding, one HTTP chunk per
piece, as Bedrock streams it; ``reset_after`` closes the socket mid-body (no final
chunk), ``delay`` paces the pieces (a slow model). Every request is recorded:
method, path, headers (the SigV4 ``Authorization`` included) and the JSON body.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BedrockServer", "Reply", "Seen", "running"]


@dataclass
class Reply:
    """What the server answers: an event-stream ``body`` or an HTTP error (``json_body``)."""

    body: bytes | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    piece_size: int | None = None
    cuts: Sequence[int] | None = None
    reset_after: int | None = None
    delay: float = 0.0
    #: Seconds to wait before the status line and headers (a server slow to answer).
    header_delay: float = 0.0
    #: Hold the body before piece ``gate_at`` until ``gate`` is set (10 s at most), so a
    #: test can prove its client reads without blocking whoever must set the gate.
    gate: threading.Event | None = None
    gate_at: int = 1

    def pieces(self) -> list[bytes]:
        assert self.body is not None
        data = self.body if self.reset_after is None else self.body[: self.reset_after]
        if self.piece_size is not None and self.cuts is not None:
            raise ValueError("pass piece_size or cuts, not both")
        if self.piece_size is not None:
            bounds = [*range(0, len(data), self.piece_size), len(data)]
        else:
            inner = sorted({c for c in self.cuts or () if 0 < c < len(data)})
            bounds = [0, *inner, len(data)]
        return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (a test closing its stream early) is no server error."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class BedrockServer:
    """The server, its recorded requests and the reply it gives (settable between calls)."""

    def __init__(self) -> None:
        self.reply = Reply(body=b"")
        self.requests: list[Seen] = []
        #: Replies whose client went away before the whole body was written.
        self.disconnects = 0
        #: Replies whose body was written whole.
        self.completed = 0
        #: Gates (``Reply.gate``) that were never set and gave way to their time limit.
        self.gate_timeouts = 0
        #: The ``x-amzn-RequestId`` of every streamed reply, in order.
        self.request_ids: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows what matters

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                with server._lock:
                    server.requests.append(
                        Seen("POST", self.path, {k: v for k, v in self.headers.items()}, body)
                    )
                    reply = server.reply
                if reply.header_delay:
                    time.sleep(reply.header_delay)
                if not self.path.endswith("/converse-stream"):
                    self._json(404, {"message": f"no route {self.path}"}, {})
                elif reply.body is None:
                    self._json(reply.status, reply.json_body, reply.headers)
                else:
                    self._stream(reply)

            def _json(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                self.send_response(reply.status)
                headers = {"x-amzn-RequestId": str(uuid.uuid4()), **reply.headers}
                with server._lock:
                    server.request_ids.append(headers["x-amzn-RequestId"])
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/vnd.amazon.eventstream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    for number, piece in enumerate(reply.pieces()):
                        gate = reply.gate if number == reply.gate_at else None
                        if gate is not None and not gate.wait(timeout=10):
                            with server._lock:
                                server.gate_timeouts += 1
                        if reply.delay:
                            time.sleep(reply.delay)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    if reply.reset_after is not None:
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    with server._lock:
                        server.disconnects += 1
                    return
                with server._lock:
                    server.completed += 1

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, reply: Reply) -> None:
        """Answer every following request with ``reply``."""
        with self._lock:
            self.reply = reply

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def running() -> Iterator[BedrockServer]:
    """A server for the ``with`` block, shut down cleanly after it."""
    server = BedrockServer()
    try:
        yield server
    finally:
        server.close()
