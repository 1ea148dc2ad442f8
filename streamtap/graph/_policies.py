"""The node policies LangGraph's ``add_node`` takes: retry, timeout, cache (LangGraph's shapes).

Field names, defaults and validation follow ``langgraph.types`` so a policy written for
LangGraph means the same here; ``default_retry_on`` and ``default_cache_key`` decide as
LangGraph's do, so a node retries the same errors and a cache keys the same inputs alike.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Literal, NamedTuple, TypeVar

__all__ = [
    "CachePolicy",
    "RetryPolicy",
    "TimeoutPolicy",
    "TracePolicy",
    "default_cache_key",
    "default_retry_on",
    "omit_payload",
]

_NO_RETRY = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: Exception) -> bool:
    """LangGraph's default: retry what looks transient (connection errors, HTTP 5xx, the
    unknown), not what a retry cannot fix (programming errors, 4xx)."""
    if isinstance(exc, ConnectionError):
        return True
    httpx = sys.modules.get("httpx")  # an error of a library not imported is not one of its
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return bool(500 <= exc.response.status_code < 600)
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.HTTPError):
        return 500 <= exc.response.status_code < 600 if exc.response else True
    return not isinstance(exc, _NO_RETRY)


class RetryPolicy(NamedTuple):
    """How a failing node is retried: ``max_attempts`` tries in all (the first included),
    waiting ``initial_interval * backoff_factor ** n`` seconds (at most ``max_interval``,
    plus up to one second of jitter) between them, for the errors ``retry_on`` accepts."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: type[Exception] | Sequence[type[Exception]] | Callable[[Exception], bool] = (
        default_retry_on
    )


def _coerce_timeout_seconds(value: float | timedelta | None, *, field: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{field} must be greater than 0")
    return seconds


@dataclass(kw_only=True, slots=True, frozen=True)
class TimeoutPolicy:
    """How long one attempt of an async node may take.

    ``run_timeout`` caps the attempt's wall-clock time; ``idle_timeout`` caps the time
    between signs of progress (writes, streamed output, callback events, and
    ``runtime.heartbeat()``; only the heartbeat when ``refresh_on="heartbeat"``).
    Cancellation is asyncio's: a node blocking the event loop is only stopped when it
    yields.
    """

    run_timeout: float | timedelta | None = None
    idle_timeout: float | timedelta | None = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"

    @classmethod
    def coerce(cls, value: float | timedelta | TimeoutPolicy | None) -> TimeoutPolicy | None:
        """A policy with positive float seconds (a bare number or timedelta is a
        ``run_timeout``), or ``None`` when no timeout is set."""
        if value is None:
            return None
        if isinstance(value, TimeoutPolicy):
            rt, it = value.run_timeout, value.idle_timeout
            if (
                value.refresh_on in ("auto", "heartbeat")
                and (rt is None or (type(rt) is float and rt > 0))
                and (it is None or (type(it) is float and it > 0))
                and (rt is not None or it is not None)
            ):
                return value
        else:
            value = cls(run_timeout=value)
        if value.refresh_on not in ("auto", "heartbeat"):
            raise ValueError("refresh_on must be 'auto' or 'heartbeat'")
        run_timeout = _coerce_timeout_seconds(value.run_timeout, field="run_timeout")
        idle_timeout = _coerce_timeout_seconds(value.idle_timeout, field="idle_timeout")
        if run_timeout is None and idle_timeout is None:
            return None
        return cls(run_timeout=run_timeout, idle_timeout=idle_timeout, refresh_on=value.refresh_on)


def _freeze(obj: Any, depth: int = 10) -> Hashable:
    if isinstance(obj, Hashable) or depth <= 0:
        return obj  # type: ignore[no-any-return]
    if isinstance(obj, Mapping):
        return tuple(sorted((k, _freeze(v, depth - 1)) for k, v in obj.items()))
    if isinstance(obj, Sequence):
        return tuple(_freeze(x, depth - 1) for x in obj)
    if hasattr(obj, "tobytes"):  # numpy / pandas
        return (type(obj).__name__, obj.tobytes(), obj.shape if hasattr(obj, "shape") else None)
    return obj  # type: ignore[no-any-return]


def default_cache_key(*args: Any, **kwargs: Any) -> str | bytes:
    """LangGraph's: the pickled, order-insensitive form of the node's input, so equal
    inputs hit the same cache entry on either engine."""
    return pickle.dumps((_freeze(args), _freeze(kwargs)), protocol=5, fix_imports=False)


KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., str | bytes])


@dataclass(kw_only=True, slots=True, frozen=True)
class CachePolicy(Generic[KeyFuncT]):
    """Reuse a node's writes for an input it already ran on: ``key_func(input)`` keys the
    entry, which lives ``ttl`` seconds (for ever if ``None``) in the graph's
    ``compile(cache=...)``."""

    key_func: KeyFuncT = default_cache_key  # type: ignore[assignment]
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class TracePolicy:
    """How a node's run is traced (``add_node(..., trace_policy=)``): ``process_inputs`` /
    ``process_outputs`` transform what tracers record of its input / output, for large or
    private payloads. The node and every other callback see the real values. Not a way to
    redact secrets: the node's child runs are traced as usual."""

    process_inputs: Callable[[Any], Any] | None = None
    process_outputs: Callable[[Any], Any] | None = None


def omit_payload(_value: Any) -> dict[str, Any]:
    """A ``TracePolicy`` processor that records an empty payload (the run and its timing stay)."""
    return {}
