"""A real misbehaving HTTP server: OpenAI- and Anthropic-shaped SSE with scripted faults.

Why a server and not respx: timeouts must fire while the SDK is blocked in a
socket read, resets must be real TCP resets, and cancellation must be observed
from the other end of the connection. The server runs an asyncio loop in a
background thread, binds 127.0.0.1 on a free port and speaks just enough
HTTP/1.1 (keep-alive, chunked bodies) for the official SDKs.

Each test registers a :class:`Script` (a list of steps, one per request) and
points its models at ``script.url``. The server records every request it saw,
and when the client closed the connection while a response was still going.
Every step is bounded in time; a script that runs out of steps answers 500
with ``x-should-retry: false``, so no client loop can run away.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: The answer every scripted model gives, token by token. The trailing spaces
#: let tests cut the answer right after whitespace (Anthropic prefill rules).
TOKENS = ("Hello ", "wor", "ld, ", "how ", "are ", "you?")
FULL = "".join(TOKENS)
#: Upper bound for any stall or drip, whatever the client does.
MAX_STEP_SECONDS = 5.0


@dataclass
class Seen:
    """One request as the server saw it."""

    path: str
    body: dict[str, Any]
    started: float
    wire: str
    client_closed: threading.Event = field(default_factory=threading.Event)
    closed_at: float | None = None
    finished: bool = False

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def prefill(self) -> str | None:
        """The trailing assistant text this request asks to continue, if any."""
        messages = self.messages
        if not messages or messages[-1].get("role") != "assistant":
            return None
        content = messages[-1].get("content")
        if isinstance(content, list):
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
        return str(content or "")


class Ctx:
    """What a step sees: the request and the means to answer it."""

    def __init__(self, writer: asyncio.StreamWriter, seen: Seen, message_id: str) -> None:
        self.writer = writer
        self.seen = seen
        self.wire = seen.wire
        self.message_id = message_id
        self._headers_sent = False

    async def status(self, code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        lines = [f"HTTP/1.1 {code} Error", "content-type: application/json"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"content-length: {len(payload)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()

    async def start_sse(self) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
            f"request-id: req_{self.message_id}\r\nx-request-id: req_{self.message_id}\r\n\r\n"
        )
        self.writer.write(head.encode())
        self._headers_sent = True
        await self.writer.drain()

    async def send(self, data: bytes) -> None:
        if not self._headers_sent:
            await self.start_sse()
        self.writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self.writer.drain()

    async def end(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def reset(self) -> None:
        """A real TCP reset (RST), after the client had time to read what was sent."""
        await asyncio.sleep(0.05)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


#: A step answers one request; it returns whether the connection stays open.
Step = Callable[[Ctx], Awaitable[bool]]


# --------------------------------------------------------------------------- SSE bodies


def _sse(event: str | None, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def continuation_tokens(prefill: str | None) -> list[str]:
    """What the scripted model says after ``prefill``: the rest of :data:`FULL`."""
    if not prefill:
        return list(TOKENS)
    if not FULL.startswith(prefill):
        raise AssertionError(f"prefill {prefill!r} is not a prefix of {FULL!r}")
    rest = FULL[len(prefill) :]
    # Re-tokenize the rest the way a model would: words with a leading space.
    words = rest.split(" ")
    out = [words[0]] + [" " + w for w in words[1:]]
    return [w for w in out if w]


def body(
    wire: str, message_id: str, tokens: list[str], *, tool: bool = False
) -> tuple[list[bytes], int]:
    """The events of a full answer, and how many come before the first content event."""
    if wire == "anthropic":
        head = [
            _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-test",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 12, "output_tokens": 1},
                    },
                },
            ),
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": (
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                        if tool
                        else {"type": "text", "text": ""}
                    ),
                },
            ),
            _sse("ping", {"type": "ping"}),
        ]
        delta = "input_json_delta" if tool else "text_delta"
        key = "partial_json" if tool else "text"
        middle = [
            _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": delta, key: t}},
            )
            for t in tokens
        ]
        tail = [
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": "tool_use" if tool else "end_turn",
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": len(tokens)},
                },
            ),
            _sse("message_stop", {"type": "message_stop"}),
        ]
        return head + middle + tail, len(head)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _sse(
            None,
            {
                "id": message_id,
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-test",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            },
        )

    head = [chunk({"role": "assistant", "content": ""})]
    if tool:
        middle = [
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            **({"id": "call_1", "type": "function"} if i == 0 else {}),
                            "function": {"name": "get_weather", "arguments": t}
                            if i == 0
                            else {"arguments": t},
                        }
                    ]
                }
            )
            for i, t in enumerate(tokens)
        ]
    else:
        middle = [chunk({"content": t}) for t in tokens]
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": len(tokens),
        "total_tokens": 12 + len(tokens),
    }
    tail = [
        chunk({}, "tool_calls" if tool else "stop"),
        _sse(
            None,
            {
                "id": message_id,
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-test",
                "choices": [],
                "usage": usage,
            },
        ),
        b"data: [DONE]\n\n",
    ]
    return head + middle + tail, len(head)


def _error_event(wire: str, error_type: str) -> bytes:
    if wire == "anthropic":
        return _sse(
            "error",
            {
                "type": "error",
                "error": {"details": None, "type": error_type, "message": "Overloaded"},
            },
        )
    return _sse(
        None, {"error": {"message": "The server is overloaded", "type": error_type, "code": None}}
    )


def _keepalive(wire: str) -> bytes:
    # Anthropic sends ping events; OpenAI-compatible proxies send SSE comments.
    return _sse("ping", {"type": "ping"}) if wire == "anthropic" else b": keep-alive\n\n"


async def _hold(ctx: Ctx, keepalive: float | None) -> None:
    """Send nothing but keep-alives until the client gives up (bounded)."""
    end = time.monotonic() + MAX_STEP_SECONDS
    while time.monotonic() < end:
        await asyncio.sleep(keepalive or 0.05)
        if keepalive:
            await ctx.send(_keepalive(ctx.wire))


# --------------------------------------------------------------------------- steps


def ok(
    *,
    tool: bool = False,
    tokens: list[str] | None = None,
    delay: float = 0.0,
    pause: tuple[int, float] | None = None,
) -> Step:
    """A complete answer; a prefilled request gets the rest of :data:`FULL`.

    ``delay`` sleeps after every event; ``pause=(n, seconds)`` sleeps once after
    the n-th content event (a model thinking mid-answer, no bytes at all).
    """

    async def step(ctx: Ctx) -> bool:
        toks = tokens if tokens is not None else continuation_tokens(ctx.seen.prefill)
        events, head = body(ctx.wire, ctx.message_id, toks, tool=tool)
        for i, event in enumerate(events):
            await ctx.send(event)
            if delay:
                await asyncio.sleep(delay)
            if pause is not None and i == head + pause[0] - 1:
                await asyncio.sleep(pause[1])
        await ctx.end()
        return True

    return step


def status(
    code: int, *, headers: dict[str, str] | None = None, error_type: str | None = None
) -> Step:
    """An HTTP error before any stream, in the vendor's JSON shape."""

    async def step(ctx: Ctx) -> bool:
        etype = error_type or {
            429: "rate_limit_error",
            529: "overloaded_error",
            401: "authentication_error",
            400: "invalid_request_error",
        }.get(code, "api_error")
        if ctx.wire == "anthropic":
            payload: dict[str, Any] = {
                "type": "error",
                "error": {"type": etype, "message": f"scripted {code}"},
            }
        else:
            payload = {"error": {"message": f"scripted {code}", "type": etype, "code": None}}
        await ctx.status(code, payload, headers or {})
        return True

    return step


#: Anthropic's answer to a trailing assistant turn on Claude 4.6 and later, verbatim.
PREFILL_REFUSAL = (
    "This model does not support assistant message prefill. "
    "The conversation must end with a user message."
)


def refuse_prefill(then: Step | None = None) -> Step:
    """Claude 4.6+: a request ending in an assistant turn gets Anthropic's 400; others ``then``."""

    async def step(ctx: Ctx) -> bool:
        if ctx.seen.prefill is None:
            return await (then or ok())(ctx)
        payload = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": PREFILL_REFUSAL},
            "request_id": "req_011CVprefill",
        }
        await ctx.status(400, payload, {"request-id": "req_011CVprefill"})
        return True

    return step


def _prefix(ctx: Ctx, after: int, tool: bool = False) -> tuple[list[bytes], list[bytes]]:
    toks = continuation_tokens(ctx.seen.prefill)
    if tool:
        toks = ['{"loc', 'ation": "Pa', 'ris"}']
    events, head = body(ctx.wire, ctx.message_id, toks, tool=tool)
    return events[: head + after], events[head + after :]


def in_stream_error(after: int, error_type: str | None = None) -> Step:
    """The 200 stream reports an error after ``after`` content events, then ends."""

    async def step(ctx: Ctx) -> bool:
        sent, _ = _prefix(ctx, after)
        for event in sent:
            await ctx.send(event)
        etype = error_type or ("overloaded_error" if ctx.wire == "anthropic" else "server_error")
        await ctx.send(_error_event(ctx.wire, etype))
        await ctx.end()
        return True

    return step


def stall(after: int, *, keepalive: float | None = 0.1) -> Step:
    """Send ``after`` content events, then only keep-alives (bounded by MAX_STEP_SECONDS)."""

    async def step(ctx: Ctx) -> bool:
        sent, _ = _prefix(ctx, after)
        for event in sent:
            await ctx.send(event)
        await _hold(ctx, keepalive)
        await ctx.end()
        return True

    return step


def stall_headers() -> Step:
    """Never answer: not even the status line (bounded)."""

    async def step(ctx: Ctx) -> bool:
        await asyncio.sleep(MAX_STEP_SECONDS)
        return False

    return step


def reset(after: int, *, tool: bool = False) -> Step:
    """Send ``after`` content events, then a TCP reset mid-body."""

    async def step(ctx: Ctx) -> bool:
        sent, _ = _prefix(ctx, after, tool)
        for event in sent:
            await ctx.send(event)
        await ctx.reset()
        return False

    return step


def eof(after: int) -> Step:
    """Send ``after`` content events, then end the body cleanly without the terminal event."""

    async def step(ctx: Ctx) -> bool:
        sent, _ = _prefix(ctx, after)
        for event in sent:
            await ctx.send(event)
        await ctx.end()
        return True

    return step


def drip(after: int, *, byte_delay: float = 0.05) -> Step:
    """Send ``after`` content events, then the rest one byte every ``byte_delay`` seconds."""

    async def step(ctx: Ctx) -> bool:
        sent, rest = _prefix(ctx, after)
        for event in sent:
            await ctx.send(event)
        end = time.monotonic() + MAX_STEP_SECONDS
        for byte in b"".join(rest):
            if time.monotonic() > end:
                return False
            await asyncio.sleep(byte_delay)
            await ctx.send(bytes([byte]))
        await ctx.end()
        return True

    return step


# --------------------------------------------------------------------------- the server


class Script:
    """The steps one test's models will meet, and what the server saw of them."""

    def __init__(self, server: FaultServer, sid: str, steps: list[Step]) -> None:
        self.sid = sid
        self.steps: deque[Step] = deque(steps)
        self.requests: list[Seen] = []
        self.url = f"http://127.0.0.1:{server.port}/s/{sid}"

    def base_url(self, wire: str) -> str:
        return self.url if wire == "anthropic" else f"{self.url}/v1"

    def wait_closed(self, index: int, timeout: float = 3.0) -> bool:
        """Whether the client closed request ``index``'s connection mid-response."""
        deadline = time.monotonic() + timeout
        while len(self.requests) <= index and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(self.requests) <= index:
            return False
        return self.requests[index].client_closed.wait(max(0.0, deadline - time.monotonic()))


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, Any]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    size = int(headers.get("content-length", "0"))
    raw = await reader.readexactly(size) if size else b""
    return path, (json.loads(raw) if raw else {})


class FaultServer:
    """The asyncio server, in its own thread and event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._scripts: dict[str, Script] = {}
        self._ids = itertools.count()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="fault-server", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    def start(self) -> FaultServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("fault server did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def script(self, *steps: Step) -> Script:
        sid = f"t{next(self._ids)}"
        script = Script(self, sid, list(steps))
        self._scripts[sid] = script
        return script

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def boot() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

        self._loop.run_until_complete(boot())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # client gone, or the server shutting down
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await _read_request(reader)
        if request is None:
            return False
        path, payload = request
        parts = path.split("/")
        script = self._scripts.get(parts[2]) if len(parts) > 2 and parts[1] == "s" else None
        wire = "anthropic" if path.endswith("/messages") else "openai"
        seen = Seen(path=path, body=payload, started=time.monotonic(), wire=wire)
        if script is None:
            ctx = Ctx(writer, seen, "none")
            await ctx.status(404, {"error": {"message": f"no script for {path}"}}, {})
            return True
        script.requests.append(seen)
        n = len(script.requests)
        message_id = (
            f"msg_{script.sid}_{n}" if wire == "anthropic" else f"chatcmpl-{script.sid}-{n}"
        )
        ctx = Ctx(writer, seen, message_id)
        step = script.steps.popleft() if script.steps else _exhausted
        answer = asyncio.ensure_future(step(ctx))
        watch = asyncio.ensure_future(reader.read(1))
        done, _ = await asyncio.wait({answer, watch}, return_when=asyncio.FIRST_COMPLETED)
        if answer not in done:
            # The client hung up mid-response: exactly what cancellation tests look for.
            seen.closed_at = time.monotonic()
            seen.client_closed.set()
            answer.cancel()
            await asyncio.gather(answer, return_exceptions=True)
            return False
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        seen.finished = True
        try:
            return bool(answer.result())
        except (ConnectionError, OSError):
            seen.client_closed.set()
            return False


async def _exhausted(ctx: Ctx) -> bool:
    await ctx.status(
        500,
        {"error": {"message": "fault script exhausted: the client sent one request too many"}},
        {"x-should-retry": "false"},
    )
    return True
