"""A loopback stand-in for the Anthropic and OpenAI streaming endpoints.

The example cassettes are recorded through the real SDKs against this server (see
``record.py``), so they hold the vendors' exact SSE framing with real chunk boundaries
and timing, while every id, text and count in them is synthetic. Each request is answered
by the next scripted reply for its route; a script can end a stream with an in-stream
error (Anthropic ``overloaded_error``) or answer with an HTTP error status.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

GAP = 0.02
"""Seconds between two SSE events, so a cassette replayed at the recorded pace streams visibly."""


@dataclass
class Stream:
    """A 200 text/event-stream reply made of these SSE events."""

    events: list[bytes]


@dataclass
class Status:
    """An HTTP error reply with a JSON body."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Reply = Stream | Status


def _sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def anthropic_stream(
    pieces: Sequence[str],
    *,
    message_id: str,
    model: str,
    input_tokens: int,
    overloaded: bool = False,
) -> Stream:
    """An Anthropic Messages stream of text deltas; ``overloaded`` cuts it with an error event."""
    start = {
        "type": "message_start",
        "message": {
            "model": model,
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    }
    events = [
        _sse(start, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        _sse({"type": "ping"}, "ping"),
    ]
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        events.append(
            _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
        )
    if overloaded:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        events.append(_sse(error, "error"))
        return Stream(events)
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(pieces)},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return Stream(events)


def openai_stream(
    pieces: Sequence[str], *, completion_id: str, model: str, prompt_tokens: int
) -> Stream:
    """An OpenAI Chat Completions stream of text deltas, with the trailing usage chunk."""

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1761904210,
            "model": model,
            "system_fingerprint": "fp_example",
            "choices": choices,
            "usage": usage,
        }
        return _sse(body)

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    events = [chunk([choice({"role": "assistant", "content": "", "refusal": None})])]
    events += [chunk([choice({"content": piece})]) for piece in pieces]
    events.append(chunk([choice({}, "stop")]))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(pieces),
        "total_tokens": prompt_tokens + len(pieces),
    }
    events.append(chunk([], usage))
    events.append(_sse("[DONE]"))
    return Stream(events)


def openai_rate_limited() -> Status:
    """A 429 as OpenAI sends it, asking the client to wait 50 ms."""
    error = {
        "message": "Rate limit reached for gpt-4o (synthetic). Please try again in 50ms.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    return Status(429, {"error": error}, {"retry-after-ms": "50"})


@dataclass
class StandIn:
    """The running server: its base URL, the replies still due and the requests it saw."""

    replies: dict[str, list[Reply]]
    base_url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ClassVar[StandIn]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a client closing its keep-alive socket
            super().handle()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        route = self.path.split("?", 1)[0]
        self.state.received.append((route, body))
        queue = self.state.replies.get(route)
        if not queue:
            self._json(404, {"error": {"message": f"nothing scripted for {route}"}}, {})
            return
        reply = queue.pop(0)
        if isinstance(reply, Status):
            self._json(reply.status, reply.body, reply.headers)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in reply.events:
            time.sleep(GAP)
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _json(self, status: int, document: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


@contextmanager
def serve(replies: dict[str, list[Reply]]) -> Iterator[StandIn]:
    """Serve ``{route: [reply, ...]}`` on a free 127.0.0.1 port for the duration of the block.

    Routes: ``/v1/messages`` (Anthropic) and ``/v1/chat/completions`` (OpenAI).
    """
    state = StandIn(replies={route: list(queue) for route, queue in replies.items()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"state": state}))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="standin", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
