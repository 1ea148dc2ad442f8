"""Shared fixtures: one fault server per module, models pointed at a script."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

import streamtap
from streamtap.providers import StreamtapChatModel
from tests.resilience._server import FaultServer, Script

API_KEY = "sk-test-resilience0123456789"
#: Tiny waits: the whole directory must run in well under a minute.
FAST = streamtap.RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.5)
SPECS = {
    "anthropic": "anthropic:claude-test",
    "openai": "openai:gpt-test",
    "vllm": "vllm:qwen-test",
    "llamacpp": "llamacpp:qwen-test",
}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    srv = FaultServer().start()
    # The SDKs import most of themselves lazily on the first request (seconds on a
    # busy machine); pay that here so the timing bounds measure streamtap alone.
    from tests.resilience._server import ok

    for wire in ("anthropic", "openai"):
        script = srv.script(ok())
        for _ in make(script, wire, max_retries=0).stream_chunks("warm up"):
            pass
    yield srv
    srv.stop()


def make(script: Script, wire: str, **kwargs: Any) -> StreamtapChatModel:
    """A plain streamtap model talking to ``script`` in ``wire``'s format."""
    base = script.base_url("anthropic" if wire == "anthropic" else "openai")
    return streamtap.chat_model(SPECS[wire], api_key=API_KEY, base_url=base, **kwargs)


def watchdogs() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "streamtap-watchdog" and t.is_alive()]


@dataclass
class Outcome:
    """What a consumer saw: every chunk in order, the error it got, how long it took."""

    chunks: list[AIMessageChunk] = field(default_factory=list)
    error: BaseException | None = None
    elapsed: float = 0.0

    def by_id(self) -> list[tuple[str, str]]:
        """(message id, text) per message, in the order the consumer saw them.

        Fails if a message id comes back after another one started: a UI keyed
        by id must never see interleaved messages.
        """
        out: list[tuple[str, str]] = []
        for chunk in self.chunks:
            text = chunk.content if isinstance(chunk.content, str) else ""
            assert chunk.id, f"chunk without id: {chunk!r}"
            if out and out[-1][0] == chunk.id:
                out[-1] = (chunk.id, out[-1][1] + text)
            else:
                assert chunk.id not in [i for i, _ in out], f"id {chunk.id} came back"
                out.append((chunk.id, text))
        return out

    def first_of(self, message_id: str) -> AIMessageChunk:
        return next(c for c in self.chunks if c.id == message_id)

    def final(self) -> AIMessageChunk:
        """The last message, summed the way a consumer keyed by id would."""
        last = self.chunks[-1].id
        mine = [c for c in self.chunks if c.id == last]
        total = mine[0]
        for chunk in mine[1:]:
            total = total + chunk
        return total


def run_sync(model: Any, prompt: Any = "hi", **kwargs: Any) -> Outcome:
    out = Outcome()
    start = time.monotonic()
    try:
        for chunk in model.stream(prompt, **kwargs):
            out.chunks.append(chunk)
    except Exception as exc:
        out.error = exc
    out.elapsed = time.monotonic() - start
    return out


async def run_async(model: Any, prompt: Any = "hi", **kwargs: Any) -> Outcome:
    out = Outcome()
    start = time.monotonic()
    try:
        async for chunk in model.astream(prompt, **kwargs):
            out.chunks.append(chunk)
    except Exception as exc:
        out.error = exc
    out.elapsed = time.monotonic() - start
    return out
