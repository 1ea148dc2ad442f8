"""A ConverseStream call given up when its response has not started within a budget.

``open(header_timeout=)`` bounds connecting and the wait for the response headers
(``streamtap.resilient``'s sync timeouts rely on it: before the response exists there is
no socket for the watchdog to shut down). The httpx-based SDKs take that as a
per-request timeout; boto3 has none (its connect and read timeouts are the client's,
fixed when it is built). So the call runs on a worker thread and the caller stops
waiting when the budget passes. The worker is not stranded: botocore's own read
timeout ends it, and a response that arrives after the caller gave up is closed at once.
aiobotocore needs none of this: its call is awaited, and cancelled on time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["HeadersLate", "call_within"]


class HeadersLate(TimeoutError):
    """The response did not start within the budget (the call goes on, and is closed)."""


def call_within(budget: float, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``call()``'s response if it comes within ``budget`` seconds, else :class:`HeadersLate`."""
    lock = threading.Lock()
    done = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        try:
            response = call()
        except BaseException as exc:  # handed to the caller, or dropped with the call
            with lock:
                state["error"] = exc
            done.set()
            return
        with lock:
            late = state.get("abandoned", False)
            if not late:
                state["response"] = response
        if late:
            _close(response)
        done.set()

    threading.Thread(target=run, name="streamtap-bedrock-call", daemon=True).start()
    done.wait(budget)
    with lock:
        if "response" in state:
            return state["response"]  # type: ignore[no-any-return]
        if "error" in state:
            raise state["error"]
        state["abandoned"] = True
    raise HeadersLate(f"no response within {budget:.3g} s")


def _close(response: dict[str, Any]) -> None:
    stream = response.get("stream")
    close = getattr(stream, "close", None)
    if close is not None:
        close()
