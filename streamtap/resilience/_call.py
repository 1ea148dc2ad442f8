"""The bookkeeping of one resilient call, shared by the sync and async drivers.

The drivers only do I/O (iterate, time out, sleep); every decision lives here:
which message id the consumer sees, what a retry re-sends (a fresh request, a
continuation or a restart), whether a failure is retried, falls back or ends
the call, and what the final message and its ``attempts`` record say.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessageChunk, BaseMessage, message_chunk_to_message
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGeneration, ChatResult

from streamtap.accumulate import Accumulator
from streamtap.errors import StreamInterrupted, StreamtapError, StreamTimeout
from streamtap.providers import ChunkSource, ChunkStream, ContinuableSource
from streamtap.providers._profiles import is_continuation_refusal, remember_refusal
from streamtap.resilience._recovery import (
    RESET_EVENT,
    OverlapTrim,
    Style,
    continuable_text,
    continuation_request,
    drop_held_whitespace,
    plan_style,
)
from streamtap.resilience._retry import (
    TOTAL_TIMEOUT,
    RetryPolicy,
    failure_cause,
    is_fallback_worthy,
    is_transient,
)
from streamtap.resilience._timeouts import FIRST_TOKEN, IDLE, TOTAL, Timeouts

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["Attempt", "Call", "Recovery"]

Recovery = Literal["raise", "continue", "restart"]
Mode = Literal["fresh", "continue", "restart"]


def _is_content(chunk: AIMessageChunk) -> bool:
    return bool(chunk.content) or bool(chunk.tool_call_chunks)


class Call:
    """State of one ``stream`` / ``invoke`` across its attempts and fallbacks."""

    def __init__(
        self,
        *,
        models: Sequence[ChunkSource],
        policy: RetryPolicy,
        timeouts: Timeouts,
        recovery: Recovery,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        user_turn: bool = False,
    ) -> None:
        self.models = models
        self.user_turn = user_turn
        self.policy = policy
        self.timeouts = timeouts
        self.recovery = recovery
        self.messages = list(messages)
        self.stop = stop
        self.kwargs = {k: v for k, v in kwargs.items() if k != "stream"}
        now = time.monotonic()
        self.total_deadline = now + timeouts.total if timeouts.total is not None else None
        ends = [d for d in (self.total_deadline,) if d is not None]
        if policy.deadline is not None:
            ends.append(now + policy.deadline)
        self.retry_deadline: float | None = min(ends) if ends else None
        self.records: list[dict[str, Any]] = []
        # The message the consumer currently sees.
        self.visible_id: str | None = None
        self.visible = Accumulator()
        self.visible_has_content = False
        self.carry_usage: UsageMetadata | None = None  # interrupted segments of a continued message
        self.reset_reason: str | None = None
        self.used_ids: set[str] = set()
        self.current: Attempt | None = None

    # -- attempts -------------------------------------------------------------------
    def begin(self, index: int) -> Attempt:
        """Plan the next request to ``models[index]``: fresh, a continuation or a restart."""
        model = self.models[index]
        mode: Mode = "fresh"
        messages: list[BaseMessage] = self.messages
        kwargs = dict(self.kwargs)
        held = ""
        style: Style | None = None
        trim: OverlapTrim | None = None
        if self.visible_has_content:
            mode = "restart"
            style = plan_style(model, self.user_turn) if self.recovery == "continue" else None
            prefill = model if isinstance(model, ContinuableSource) else None
            if style is not None:
                after_reasoning = style == "user_turn" or (
                    prefill is not None and prefill.prefill_after_reasoning
                )
                text = continuable_text(self.visible.message(), after_reasoning=after_reasoning)
                if text is None:
                    style = None
                else:
                    mode = "continue"
                    messages, kwargs, held = continuation_request(
                        messages,
                        text,
                        style,
                        kwargs,
                        trailing_whitespace=prefill is None or prefill.prefill_trailing_whitespace,
                    )
                    trim = OverlapTrim(text) if style == "user_turn" else None
        attempt = Attempt(self, index, model, mode, messages, kwargs, held, style, trim)
        self.current = attempt
        return attempt

    def replan(self, attempt: Attempt, exc: BaseException) -> Attempt | None:
        """After a continuation the server refused: the same call, restarted (or a user turn).

        The refusal is remembered for that model and server, so later calls do
        not ask again; it never reaches the consumer while a restart is possible.
        """
        if (
            attempt.mode != "continue"
            or attempt.emitted
            or attempt.style == "user_turn"
            or not is_continuation_refusal(failure_cause(exc))
        ):
            return None
        if isinstance(attempt.model, ContinuableSource):
            remember_refusal(attempt.model.continuation_key())
        attempt.record["refused"] = attempt.style
        attempt.record["next"] = "continue" if self.user_turn else "restart"
        return self.begin(attempt.index)

    def _switch_visible(self, message_id: str) -> None:
        self.visible_id = message_id
        self.visible = Accumulator()
        self.visible_has_content = False
        self.carry_usage = None

    def attempts(self) -> list[dict[str, Any]]:
        return [dict(record) for record in self.records]

    # -- tenacity hooks -----------------------------------------------------------------
    def _after_content_ends_call(self, attempt: Attempt | None) -> bool:
        return attempt is not None and attempt.emitted and self.recovery == "raise"

    def should_retry(self, exc: BaseException) -> bool:
        """Retry the same model? (tenacity's ``retry`` predicate)"""
        if self._after_content_ends_call(self.current) or _is_total_timeout(exc):
            return False
        return self.policy.should_retry(exc)

    def before_sleep(self, retry_state: RetryCallState) -> None:
        if self.current is not None:
            self.current.record["next"] = "retry"
            self.current.record["wait"] = round(retry_state.upcoming_sleep, 3)

    def time_left(self) -> bool:
        return self.retry_deadline is None or time.monotonic() < self.retry_deadline

    def fall_back(self, exc: BaseException, index: int) -> bool:
        """After ``models[index]`` gave up with ``exc``: try the next model?"""
        attempt = self.current
        worthy = (
            index + 1 < len(self.models)
            and not self._after_content_ends_call(attempt)
            and not _is_total_timeout(exc)
            and self.time_left()
            and (self.policy.should_retry(exc) or is_transient(exc) or is_fallback_worthy(exc))
        )
        if attempt is not None:
            attempt.record["next"] = "fallback" if worthy else "raise"
            if worthy:
                attempt.record["wait"] = 0.0  # another vendor: no reason to wait
        return worthy

    # -- results ----------------------------------------------------------------------
    def visible_partial(self, stream: ChunkStream | None = None) -> AIMessageChunk | None:
        """What the consumer saw of the current message, with usage and the attempts so far."""
        if not self.visible_has_content:
            return None
        metadata: dict[str, Any] = {"attempts": self.attempts()}
        if stream is not None and self.current is not None and self.current.emitted:
            partial = stream.partial
            reported = partial.response_metadata if partial is not None else {}
            if reported.get("model_name"):
                metadata["model_name"] = reported["model_name"]
            if reported.get("model_provider"):
                metadata["model_provider"] = reported["model_provider"]
        # carry_usage already holds every interrupted segment of this message.
        tail = AIMessageChunk(
            content="",
            id=self.visible_id,
            response_metadata=metadata,
            usage_metadata=self.carry_usage,
        )
        return self.visible.message(tail)

    def stopped(self, exc: BaseException, stream: ChunkStream) -> None:
        """The consumer stopped mid-attempt: hang what it had on the exception as ``.partial``.

        Usage so far includes the interrupted request's (Anthropic reports input
        tokens at the start). A callback's ``on_llm_error`` finds it there under
        ``invoke``; under ``stream`` langchain-core also passes the chunks received.
        """
        record = self.current.record if self.current is not None else None
        if record is not None:
            record["error"] = type(exc).__name__
            record["next"] = "stopped"
        usage = stream.usage
        if self.current is not None and self.current.emitted and usage is not None:
            self.carry_usage = add_usage(self.carry_usage, usage) if self.carry_usage else usage
        with contextlib.suppress(AttributeError, TypeError):
            exc.partial = self.visible_partial(stream)  # type: ignore[attr-defined]

    def final_error(self, exc: BaseException) -> BaseException:
        """What to raise once nothing more will be tried."""
        partial = self.visible_partial()
        summary = "; ".join(
            f"{r['provider']}/{r['model']}: {r.get('error') or 'ok'}" for r in self.records
        )
        note = f"streamtap.resilient: {len(self.records)} attempt(s): {summary}"
        if isinstance(exc, (StreamInterrupted, StreamTimeout)):
            if partial is not None:
                exc.partial = partial
            err: BaseException = exc
        elif partial is not None:
            # A later attempt failed before sending anything, but the consumer
            # still holds the earlier partial answer: it must not be lost.
            kw: dict[str, Any] = {}
            if isinstance(exc, StreamtapError):
                kw = {
                    "provider": exc.provider,
                    "model": exc.model,
                    "status_code": exc.status_code,
                    "error_type": exc.error_type,
                    "request_id": exc.request_id,
                }
            err = StreamInterrupted(f"stream not recovered: {exc}", partial=partial, **kw)
            err.__cause__ = exc
        else:
            err = exc
        err.add_note(note)
        return err

    def result(self) -> ChatResult:
        chunk = self.visible.message()
        message = message_chunk_to_message(
            chunk if chunk is not None else AIMessageChunk(content="")
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _is_total_timeout(exc: BaseException) -> bool:
    cause = failure_cause(exc)
    return isinstance(cause, StreamTimeout) and cause.error_type == TOTAL_TIMEOUT


class Attempt:
    """One request: its deadlines, the chunks it contributes and how it ended."""

    def __init__(
        self,
        call: Call,
        index: int,
        model: ChunkSource,
        mode: Mode,
        messages: list[BaseMessage],
        kwargs: dict[str, Any],
        held: str,
        style: Style | None = None,
        trim: OverlapTrim | None = None,
    ) -> None:
        self.call = call
        self.index = index
        self.model = model
        self.mode: Mode = mode
        self.messages = messages
        self.kwargs = kwargs
        self._held = held
        self.style = style
        self._trim = trim
        self.started = time.monotonic()
        self.emitted = False
        self._message_id: str | None = None
        self._idle_from: float | None = None
        self._last_was_content = False
        self.reset: dict[str, Any] | None = None
        self.record: dict[str, Any] = {
            "provider": model.provider_name,
            "model": model.model,
            "mode": mode,
            **({"style": style} if style is not None else {}),
            "error": None,
            "error_type": None,
            "status_code": None,
        }
        call.records.append(self.record)

    # -- timing ---------------------------------------------------------------------------
    def deadline(self) -> tuple[float | None, str]:
        """The next read's deadline (``time.monotonic()``) and which timeout it is."""
        t = self.call.timeouts
        candidates: list[tuple[float, str]] = []
        if not self.emitted and t.first_token is not None:
            candidates.append((self.started + t.first_token, FIRST_TOKEN))
        if self.emitted and t.idle is not None and self._idle_from is not None:
            candidates.append((self._idle_from + t.idle, IDLE))
        if self.call.total_deadline is not None:
            candidates.append((self.call.total_deadline, TOTAL))
        if not candidates:
            return None, ""
        return min(candidates)

    def header_budget(self) -> float | None:
        """Seconds a sync request may take to get its response headers."""
        deadline, _ = self.deadline()
        return None if deadline is None else deadline - time.monotonic()

    def resumed(self) -> None:
        """The consumer handed control back: the idle clock restarts after content."""
        if self._last_was_content:
            self._idle_from = time.monotonic()

    # -- chunks -----------------------------------------------------------------------------
    def accept(self, chunk: AIMessageChunk) -> list[AIMessageChunk]:
        """The chunks the consumer must see for ``chunk``: usually itself, maybe none.

        A user-turn continuation holds text back while it may repeat what was
        shown; text it then releases comes first, under the same message id.
        """
        if self._trim is None or self._trim.done:
            out = self._accept(chunk)
            return [] if out is None else [out]
        if isinstance(chunk.content, str) and chunk.chunk_position != "last":
            chunk.content = self._trim.feed(chunk.content)
            out = self._accept(chunk)
            return [] if out is None or not (_is_content(out) or out.usage_metadata) else [out]
        released = self._trim.finish()  # any other chunk ends the repeat
        if not released:
            out = self._accept(chunk)
            return [] if out is None else [out]
        if isinstance(chunk.content, str):
            chunk.content = released + chunk.content
            out = self._accept(chunk)
            return [] if out is None else [out]
        first = self._accept(AIMessageChunk(content=released))
        out = self._accept(chunk)
        return [c for c in (first, out) if c is not None]

    def _accept(self, chunk: AIMessageChunk) -> AIMessageChunk | None:
        call = self.call
        if self.mode == "continue":
            chunk.id = call.visible_id
            if self._held and isinstance(chunk.content, str) and chunk.content:
                text, self._held = drop_held_whitespace(chunk.content, self._held)
                chunk.content = text
                if not text and not chunk.tool_call_chunks and chunk.chunk_position != "last":
                    return None
            elif _is_content(chunk):
                self._held = ""
        else:
            if self._message_id is None:
                self._message_id = self._new_id(chunk.id)
                if self.mode == "restart":
                    self.reset = {
                        "event": RESET_EVENT,
                        "discarded_id": call.visible_id,
                        "new_id": self._message_id,
                        "reason": call.reset_reason,
                    }
                    chunk.response_metadata = {
                        **chunk.response_metadata,
                        RESET_EVENT: dict(self.reset),
                    }
                call._switch_visible(self._message_id)
            chunk.id = self._message_id
        if chunk.chunk_position == "last":
            self._finish(chunk)
        call.visible.add(chunk)
        self._last_was_content = _is_content(chunk)
        if self._last_was_content:
            self.emitted = True
            call.visible_has_content = True
        return chunk

    def take_reset(self) -> dict[str, Any] | None:
        """The reset to announce before this chunk is yielded (once)."""
        reset, self.reset = self.reset, None
        return reset

    def _new_id(self, vendor_id: str | None) -> str:
        used = self.call.used_ids
        message_id = vendor_id or f"lc_{uuid.uuid4()}"
        if message_id in used:  # a restart must never reuse the discarded id
            message_id = f"{message_id}-{len(used)}"
        used.add(message_id)
        return message_id

    def _finish(self, chunk: AIMessageChunk) -> None:
        call = self.call
        if self.mode == "continue" and call.carry_usage is not None:
            usage = chunk.usage_metadata
            chunk.usage_metadata = add_usage(call.carry_usage, usage) if usage else call.carry_usage
        chunk.response_metadata = {**chunk.response_metadata, "attempts": call.attempts()}

    # -- failure ---------------------------------------------------------------------------
    def failed(self, exc: BaseException, stream: ChunkStream, fired: str | None) -> BaseException:
        """Record how this attempt ended and return the exception tenacity should judge."""
        err = exc
        if fired:
            limit = {
                FIRST_TOKEN: self.call.timeouts.first_token,
                IDLE: self.call.timeouts.idle,
                TOTAL: self.call.timeouts.total,
            }[fired]
            what = {
                FIRST_TOKEN: "no content arrived",
                IDLE: "no new content arrived",
                TOTAL: "the call did not finish",
            }[fired]
            partial = stream.partial
            reported = partial.response_metadata if partial is not None else {}
            err = StreamTimeout(
                f"{what} within {limit:g}s ({fired})",
                provider=self.model.provider_name,
                model=reported.get("model_name") or self.model.model,
                error_type=fired,
            )
            err.__cause__ = exc
        cause = failure_cause(err)
        record = self.record
        record["error"] = type(cause).__name__
        if isinstance(cause, StreamtapError):
            record["error_type"] = cause.error_type
            record["status_code"] = cause.status_code
        usage = stream.usage
        if usage is not None:
            record["usage"] = dict(usage)
        if self.emitted:
            record["after_content"] = True
            self.call.reset_reason = (
                cause.error_type
                if isinstance(cause, StreamtapError) and cause.error_type
                else type(cause).__name__
            )
            if usage is not None:
                carry = self.call.carry_usage if self.mode == "continue" else None
                self.call.carry_usage = add_usage(carry, usage) if carry else usage
        return err
