"""Every scripted fault x every recovery mode, sync and async, Anthropic- and OpenAI-shaped.

For each case the test checks the whole consumer-visible contract: the chunk
stream (which message ids, what text under each, no duplicate text under one
id), the final message, the ``attempts`` record, the time taken (generous
bounds), what the server was sent, and that abandoned connections were closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import streamtap
from streamtap.errors import StreamInterrupted, StreamTimeout
from tests.resilience import _server as S
from tests.resilience.conftest import FAST, Outcome, make, run_async, run_sync, watchdogs

PARTIAL = "".join(S.TOKENS[:2])  # what every mid-stream fault lets through first


@dataclass(frozen=True)
class Fault:
    steps: Callable[[], list[S.Step]]
    errors: dict[str, str]  # wire -> error class recorded for the failed attempt
    after_content: bool
    options: dict[str, Any] = field(default_factory=dict)
    error_type: str | None = None
    min_seconds: float = 0.0
    client_closes: bool = False  # the client must hang up on the failed attempt


FAULTS: dict[str, Fault] = {
    "429_retry_after": Fault(
        lambda: [S.status(429, headers={"retry-after-ms": "100"}), S.ok()],
        {"anthropic": "RateLimitError", "openai": "RateLimitError"},
        after_content=False,
        min_seconds=0.1,
    ),
    "529_overloaded": Fault(
        lambda: [S.status(529, headers={"retry-after-ms": "50"}), S.ok()],
        {"anthropic": "OverloadedError", "openai": "OverloadedError"},
        after_content=False,
        min_seconds=0.05,
    ),
    "in_stream_overloaded_before_first_token": Fault(
        lambda: [S.in_stream_error(0), S.ok()],
        {"anthropic": "OverloadedError", "openai": "ServerError"},
        after_content=False,
    ),
    "stall_before_first_token": Fault(
        lambda: [S.stall(0, keepalive=0.05), S.ok()],
        {"anthropic": "StreamTimeout", "openai": "StreamTimeout"},
        after_content=False,
        options={"first_token_timeout": 0.3},
        error_type="first_token_timeout",
        min_seconds=0.3,
        client_closes=True,
    ),
    "stall_before_headers": Fault(
        lambda: [S.stall_headers(), S.ok()],
        {"anthropic": "StreamTimeout", "openai": "StreamTimeout"},
        after_content=False,
        options={"first_token_timeout": 0.3},
        error_type="first_token_timeout",
        min_seconds=0.3,
        client_closes=True,
    ),
    "in_stream_overloaded_after_first_token": Fault(
        lambda: [S.in_stream_error(2), S.ok()],
        {"anthropic": "OverloadedError", "openai": "ServerError"},
        after_content=True,
    ),
    "stall_mid_stream": Fault(
        lambda: [S.stall(2, keepalive=0.05), S.ok()],
        {"anthropic": "StreamTimeout", "openai": "StreamTimeout"},
        after_content=True,
        options={"idle_timeout": 0.3},
        error_type="idle_timeout",
        min_seconds=0.3,
        client_closes=True,
    ),
    "connection_reset_mid_body": Fault(
        lambda: [S.reset(2), S.ok()],
        {"anthropic": "ProviderConnectionError", "openai": "ProviderConnectionError"},
        after_content=True,
    ),
    "clean_eof_without_terminal_event": Fault(
        lambda: [S.eof(2), S.ok()],
        {"anthropic": "ProviderConnectionError", "openai": "ProviderConnectionError"},
        after_content=True,
    ),
    "slow_drip": Fault(
        lambda: [S.drip(2, byte_delay=0.05), S.ok()],
        {"anthropic": "StreamTimeout", "openai": "StreamTimeout"},
        after_content=True,
        options={"idle_timeout": 0.3},
        error_type="idle_timeout",
        min_seconds=0.3,
        client_closes=True,
    ),
}

MODES = ("raise", "continue", "restart")
WIRES = ("anthropic", "openai")


def _expected_mode(wire: str, recovery: str) -> str:
    """What a mid-stream failure leads to: Anthropic continues, OpenAI Chat cannot."""
    if recovery == "continue":
        return "continue" if wire == "anthropic" else "restart"
    return recovery


def check(out: Outcome, script: S.Script, fault: Fault, wire: str, recovery: str) -> None:
    error_class = fault.errors[wire]
    assert out.elapsed < 4.0, f"took {out.elapsed:.2f}s"
    assert out.elapsed >= fault.min_seconds * 0.9
    if fault.client_closes:
        assert script.wait_closed(0), "the abandoned attempt's connection was not closed"

    if not fault.after_content:
        # Invisible to the consumer, whatever the recovery mode: one clean message.
        assert out.error is None, repr(out.error)
        ((message_id, text),) = out.by_id()
        assert text == S.FULL
        assert message_id.endswith("_2") or message_id.endswith("-2")  # the second request's
        final = out.final()
        attempts = final.response_metadata["attempts"]
        assert [a["error"] for a in attempts] == [error_class, None]
        assert attempts[0]["next"] == "retry" and attempts[0]["mode"] == "fresh"
        assert "after_content" not in attempts[0]
        if fault.error_type:
            assert attempts[0]["error_type"] == fault.error_type
        if fault.min_seconds and not fault.error_type:  # a Retry-After was honoured
            assert attempts[0]["wait"] == pytest.approx(fault.min_seconds, abs=0.01)
        assert len(script.requests) == 2
        assert [s.prefill for s in script.requests] == [None, None]
        return

    mode = _expected_mode(wire, recovery)
    if mode == "raise":
        expected = StreamTimeout if error_class == "StreamTimeout" else StreamInterrupted
        assert isinstance(out.error, expected), repr(out.error)
        ((message_id, text),) = out.by_id()
        assert text == PARTIAL
        partial = out.error.partial
        assert partial is not None and partial.content == PARTIAL and partial.id == message_id
        (attempt,) = partial.response_metadata["attempts"]
        assert attempt["error"] == error_class and attempt["next"] == "raise"
        assert attempt["after_content"] is True
        assert len(script.requests) == 1  # nothing retried once text was shown
        if fault.error_type:
            assert out.error.error_type == fault.error_type
        return

    assert out.error is None, repr(out.error)
    seen = out.by_id()
    final = out.final()
    attempts = final.response_metadata["attempts"]
    assert [a["error"] for a in attempts] == [error_class, None]
    assert attempts[0]["after_content"] is True and attempts[0]["next"] == "retry"
    assert attempts[1]["mode"] == mode
    assert final.content == S.FULL
    assert final.chunk_position == "last"
    if mode == "continue":
        # Same id, the text simply keeps growing: nothing duplicated, nothing lost.
        ((message_id, text),) = seen
        assert text == S.FULL
        assert script.requests[1].prefill == PARTIAL
        assert not any("stream_reset" in c.response_metadata for c in out.chunks)
        # Usage covers both requests that produced this message.
        assert final.usage_metadata is not None
        assert final.usage_metadata["input_tokens"] == 24
    else:
        (old_id, old_text), (new_id, new_text) = seen
        assert old_text == PARTIAL and new_text == S.FULL and old_id != new_id
        assert script.requests[1].prefill is None
        reset = out.first_of(new_id).response_metadata["stream_reset"]
        assert reset["event"] == "stream_reset"
        assert reset["discarded_id"] == old_id and reset["new_id"] == new_id
        assert reset["reason"]
        assert final.usage_metadata is not None
        assert final.usage_metadata["input_tokens"] == 12  # the restarted request alone


CASES = [(f, r, w) for f in FAULTS for r in MODES for w in WIRES]


@pytest.mark.parametrize(("fault", "recovery", "wire"), CASES)
def test_fault_sync(server: S.FaultServer, fault: str, recovery: str, wire: str) -> None:
    spec = FAULTS[fault]
    script = server.script(*spec.steps())
    model = streamtap.resilient(make(script, wire), retry=FAST, recovery=recovery, **spec.options)
    out = run_sync(model)
    check(out, script, spec, wire, recovery)
    assert watchdogs() == []


@pytest.mark.parametrize(("fault", "recovery", "wire"), CASES)
async def test_fault_async(server: S.FaultServer, fault: str, recovery: str, wire: str) -> None:
    spec = FAULTS[fault]
    script = server.script(*spec.steps())
    model = streamtap.resilient(make(script, wire), retry=FAST, recovery=recovery, **spec.options)
    out = await run_async(model)
    check(out, script, spec, wire, recovery)


INVOKE_FAULTS = (
    "in_stream_overloaded_after_first_token",
    "stall_mid_stream",
    "stall_before_headers",
)


@pytest.mark.parametrize("recovery", ["continue", "restart"])
@pytest.mark.parametrize("fault", INVOKE_FAULTS)
@pytest.mark.parametrize("wire", WIRES)
async def test_invoke_returns_the_clean_message(
    server: S.FaultServer, wire: str, fault: str, recovery: str
) -> None:
    spec = FAULTS[fault]
    for use_async in (False, True):
        script = server.script(*spec.steps())
        model = streamtap.resilient(
            make(script, wire), retry=FAST, recovery=recovery, **spec.options
        )
        message = await model.ainvoke("hi") if use_async else model.invoke("hi")
        assert message.content == S.FULL
        attempts = message.response_metadata["attempts"]
        assert [a["error"] for a in attempts] == [spec.errors[wire], None]
        assert message.response_metadata["finish_reason"] == "stop"
        # A restart answers under the second request's id, a continuation under the first's.
        second = not spec.after_content or _expected_mode(wire, recovery) == "restart"
        assert message.id is not None
        assert message.id.endswith(("_2", "-2") if second else ("_1", "-1"))
