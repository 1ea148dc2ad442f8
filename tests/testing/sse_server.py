"""A loopback HTTP server that streams SSE events with known delays.

It plays the real endpoints during recording tests: the events come from the
repository's wire-exact fixtures, one HTTP chunk per event, so the expected chunk
boundaries and timings are known exactly. It also plants secrets in its response
headers, to prove redaction covers responses too.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

FIRST_DELAY = 0.150
GAPS = (0.060, 0.090, 0.050, 0.100, 0.070)
"""Gaps between events, cycled."""


def fixture_events(vendor: str, name: str = "text") -> list[bytes]:
    """The SSE events of ``fixtures/<vendor>/<name>.sse``, each with its blank line."""
    text = (FIXTURES / vendor / f"{name}.sse").read_text(encoding="utf-8")
    return [(event.strip("\n") + "\n\n").encode() for event in text.split("\n\n") if event.strip()]


def delays(count: int) -> list[float]:
    """Delay before each event: FIRST_DELAY, then the gaps cycled."""
    return [FIRST_DELAY] + [GAPS[i % len(GAPS)] for i in range(count - 1)]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class SSEServer:
    """Routes: POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic), and the
    streaming routes of Gemini, Azure OpenAI and Claude on Bedrock (their ``text`` fixtures)."""

    response_secrets: dict[str, str] = field(default_factory=dict)
    received: list[ReceivedRequest] = field(default_factory=list)
    base_url: str = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ClassVar[SSEServer]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        self.state.received.append(
            ReceivedRequest(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        )
        payload = json.loads(body or b"{}")
        path = self.path.split("?", 1)[0]
        vendor = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}.get(path)
        hosted = _hosted_vendor(path)
        if hosted == "anthropic-bedrock":  # event-stream frames, not SSE
            frames = (FIXTURES / hosted / "text.eventstream").read_bytes()
            self._stream([frames], paced=False, content_type="application/vnd.amazon.eventstream")
        elif hosted is not None:
            self._stream(fixture_events(hosted), paced=False)
        elif vendor is None:
            self._send_json(404, {"error": {"message": f"no route {path}"}})
        elif payload.get("stream"):
            # model "warmup": the same stream without delays, to warm up client code paths
            self._stream(fixture_events(vendor), paced=payload.get("model") != "warmup")
        elif vendor == "openai":
            self._send_json(200, _openai_completion(), gzipped=True)
        else:
            self._send_json(200, _anthropic_message(), gzipped=True)

    def _secret_headers(self) -> None:
        for name, value in self.state.response_secrets.items():
            self.send_header(name, value)

    def _stream(
        self,
        events: Sequence[bytes],
        *,
        paced: bool = True,
        content_type: str = "text/event-stream; charset=utf-8",
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("transfer-encoding", "chunked")
        self._secret_headers()
        self.end_headers()
        self.wfile.flush()
        for delay, event in zip(delays(len(events)), events, strict=True):
            if paced:
                time.sleep(delay)
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, document: Any, *, gzipped: bool = False) -> None:
        data = json.dumps(document).encode()
        if gzipped:
            data = gzip.compress(data)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if gzipped:
            self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(data)))
        self._secret_headers()
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _hosted_vendor(path: str) -> str | None:
    """The vendors of issue 24 whose SDKs speak httpx (so cassettes record them), by path."""
    if path.endswith(":streamGenerateContent"):
        return "gemini"
    if path.startswith("/openai/deployments/") and path.endswith("/chat/completions"):
        return "azure"
    if path.endswith("/invoke-with-response-stream"):
        return "anthropic-bedrock"
    return None


def _openai_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1761904210,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from loopback", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def _anthropic_message() -> dict[str, Any]:
    return {
        "id": "msg_loopback",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "Hello from loopback"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }


@contextmanager
def serve_sse(response_secrets: dict[str, str] | None = None) -> Iterator[SSEServer]:
    """Run the server on a free loopback port for the duration of the block."""
    state = SSEServer(response_secrets=dict(response_secrets or {}))
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="sse-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
