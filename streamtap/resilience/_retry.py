"""Which failures deserve another try, which deserve another model, and how long to wait.

The vendor SDKs each retry on their own, with their own rules, invisibly.
streamtap turns that off underneath (``max_retries=0``) and lets one
:class:`RetryPolicy`, run by tenacity, decide for every vendor alike, so every
attempt is visible (``on_retry`` callbacks, ``response_metadata["attempts"]``).
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenacity import RetryCallState
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from streamtap.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OverloadedError,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
    StreamtapError,
    StreamTimeout,
    parse_retry_after,
)

_JITTER_PARAMS = inspect.signature(wait_exponential_jitter.__init__).parameters

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "RetryPolicy",
    "failure_cause",
    "is_fallback_worthy",
    "is_transient",
    "retry_after",
]

#: ``StreamTimeout.error_type`` of the one timeout that is never retried.
TOTAL_TIMEOUT = "total_timeout"

_TRANSIENT: tuple[type[StreamtapError], ...] = (
    RateLimitError,
    OverloadedError,
    ServerError,
    ProviderConnectionError,
    StreamTimeout,
)
#: 429s that no amount of waiting fixes (the account is out of credit).
_QUOTA_TYPES = frozenset({"insufficient_quota", "billing_error"})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently one model is retried before the next one is tried.

    ``max_attempts`` counts requests per model (the first one included).
    ``max_wait`` caps every wait, exponential backoff and the server's
    ``Retry-After`` alike, so a server asking for 17 s cannot stall a chat UI.
    ``deadline`` (seconds from the start of the call) stops retrying and
    falling back once the next wait would cross it; unlike ``total_timeout`` it
    never interrupts a request in flight. ``retry_on`` replaces the built-in
    choice of retryable errors (see :func:`is_transient`).
    """

    max_attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 8.0
    deadline: float | None = None
    retry_on: Callable[[BaseException], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy(max_attempts={self.max_attempts!r}): need an int >= 1 "
                "(1 means no retries)"
            )
        for name in ("initial_wait", "max_wait"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ValueError(f"RetryPolicy({name}={value!r}): need a number of seconds >= 0")
        if self.deadline is not None and (not _finite(self.deadline) or self.deadline <= 0):
            raise ValueError(
                f"RetryPolicy(deadline={self.deadline!r}): need seconds > 0, or None for no deadline"
            )
        if self.retry_on is not None and not callable(self.retry_on):
            raise TypeError("RetryPolicy(retry_on=...) must be a callable taking the exception")

    def should_retry(self, exc: BaseException) -> bool:
        return self.retry_on(exc) if self.retry_on is not None else is_transient(exc)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- classification


def failure_cause(exc: BaseException) -> BaseException:
    """The typed error behind ``exc``: a StreamInterrupted is judged by what interrupted it."""
    if isinstance(exc, StreamInterrupted) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _response_headers(exc: BaseException) -> Mapping[str, str] | None:
    """Headers of the HTTP response behind ``exc`` (kept on the SDK exception it chains)."""
    for item in _chain(exc):
        response = getattr(item, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            return {str(k).lower(): str(v) for k, v in headers.items()}
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether the same request may succeed if sent again.

    Connection failures, 408, 409, 429, 5xx, 529, in-stream ``overloaded_error`` /
    ``api_error`` / Responses ``error`` events and first-token / idle timeouts
    are; bad requests (400, 404, 413, 422, context length), auth failures and an
    account out of quota are not. A server's ``x-should-retry`` header overrides
    the choice, as it does in both SDKs.
    """
    cause = failure_cause(exc)
    headers = _response_headers(cause)
    hint = headers.get("x-should-retry") if headers else None
    if hint in ("true", "false"):
        return hint == "true"
    if isinstance(cause, StreamTimeout):
        return cause.error_type != TOTAL_TIMEOUT
    if isinstance(cause, RateLimitError) and cause.error_type in _QUOTA_TYPES:
        return False
    return isinstance(cause, _TRANSIENT)


def is_fallback_worthy(exc: BaseException) -> bool:
    """Whether another model (another vendor) may answer where this one failed.

    Besides transient failures: auth failures and exhausted quota (they are about
    this vendor), an unknown model (404) and a prompt too long for this model's
    context window. Any other bad request is the caller's to fix.
    """
    cause = failure_cause(exc)
    if isinstance(cause, StreamTimeout) and cause.error_type == TOTAL_TIMEOUT:
        return False
    if is_transient(exc) or isinstance(cause, (AuthenticationError, ContextLengthError)):
        return True
    if isinstance(cause, RateLimitError):
        return True  # out of quota here
    return isinstance(cause, BadRequestError) and cause.status_code == 404


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after``, rate-limit resets)."""
    cause = failure_cause(exc)
    if isinstance(cause, StreamtapError) and cause.retry_after is not None:
        return cause.retry_after
    headers = _response_headers(cause)
    return parse_retry_after(headers) if headers else None


# --------------------------------------------------------------------------- tenacity parts


class WaitRetryAfter(wait_base):
    """The server's Retry-After when it sent one, exponential backoff with jitter otherwise.

    Both are capped by ``max_wait``.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.max_wait = policy.max_wait
        base = policy.initial_wait or 0.0
        # tenacity 9.2 renamed the factor `initial` to `multiplier` (the old name is deprecated)
        factor = "multiplier" if "multiplier" in _JITTER_PARAMS else "initial"
        self.backoff = wait_exponential_jitter(
            max=policy.max_wait, jitter=policy.initial_wait, **{factor: base}
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        hinted = retry_after(exc) if exc is not None else None
        wait = hinted if hinted is not None else float(self.backoff(retry_state))
        return max(0.0, min(wait, self.max_wait))


class StopAtDeadline(stop_base):
    """Stop when the next wait would end after ``deadline()`` (a ``time.monotonic()`` value)."""

    def __init__(self, deadline: Callable[[], float | None]) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        deadline = self.deadline()
        if deadline is None:
            return False
        return time.monotonic() + retry_state.upcoming_sleep >= deadline
