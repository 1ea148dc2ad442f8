"""Every reach into another library's private API, in one place, each with a fallback.

streamtap's hot path skips work its dependencies do per token (pydantic
validation, the SDKs' typed event models); its graph integration needs a
langchain-core marker class that is not public. Each such reach is here, checked
against the installed version at import, with a public-API fallback that is
slower but correct (``tests/test_compat.py`` runs every fallback). Nothing in
this module changes another library's state.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

__all__ = [
    "StreamingCallbackHandler",
    "build_model",
    "callers_local",
    "httpx2_transport_hook",
    "json_loads",
    "running_loop",
    "sdk_sse_events",
]

T = TypeVar("T")

# -- langchain-core: the marker that makes invoke() stream to a handler --------------------
try:  # langchain-core >= 0.3: chat models stream to handlers that subclass it, even in invoke()
    from langchain_core.tracers._streaming import (
        _StreamingCallbackHandler as StreamingCallbackHandler,
    )
except ImportError:  # pragma: no cover - exercised by tests/test_compat.py via reload
    from typing import Generic

    class StreamingCallbackHandler(Generic[T]):  # type: ignore[no-redef]
        """Stand-in: without the marker, ``invoke()`` does not stream; ``stream()`` still does."""

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output


# -- json: the decoder's C scanner, without json.loads' three Python wrappers ---------------
def _scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    scan = getattr(json.JSONDecoder(), "scan_once", None)
    try:
        if scan is not None and scan('{"a": [1]}', 0) == ({"a": [1]}, 10):
            return scan  # type: ignore[no-any-return]
    except Exception:  # pragma: no cover - a Python whose scanner differs
        pass
    return None


_scan_once = _scanner()


def json_loads(data: str) -> Any:
    """``json.loads(data)``: same result, same errors, faster for one whole document."""
    if _scan_once is None:
        return json.loads(data)
    try:
        value, end = _scan_once(data, 0)
    except StopIteration:
        return json.loads(data)  # the stdlib's own error for invalid JSON
    if end != len(data):
        return json.loads(data)  # whitespace or trailing text: the stdlib decides
    return value


# -- openai / anthropic SDKs: their SSE decoder, before their typed event models -------------
def sdk_sse_events(stream: Any) -> Callable[[], Any] | None:
    """The SDK stream's raw SSE iterator (``Stream._iter_events``), or None without the hook.

    Callers fall back to iterating the stream's typed events, which is public API.
    """
    iter_events = getattr(stream, "_iter_events", None)
    return iter_events if callable(iter_events) else None


# -- pydantic: build a model from already-valid fields -----------------------------------
_set = object.__setattr__


def _fast(cls: type[T], fields: dict[str, Any], fields_set: set[str]) -> T:
    obj = cls.__new__(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", fields_set)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _slow(cls: type[T], fields: dict[str, Any], fields_set: set[str]) -> T:
    return cls.model_construct(fields_set, **fields)  # type: ignore[attr-defined, no-any-return]


def _fast_works() -> bool:
    from langchain_core.messages import AIMessageChunk

    valid = AIMessageChunk(content="x", id="i")
    built = _fast(AIMessageChunk, dict(valid.__dict__), {"content", "id"})
    try:
        return built == valid and built.model_dump() == valid.model_dump()
    except Exception:  # pragma: no cover - a pydantic whose internals moved
        return False


#: ``build_model(cls, fields, fields_set)``: a pydantic model from a complete, valid field
#: dict without validating again (about 6 µs a chunk); ``model_construct`` if that breaks.
build_model: Callable[[type[T], dict[str, Any], set[str]], T] = (
    _fast if _fast_works() else _slow  # type: ignore[assignment]
)


# -- langchain-core: the run manager stream() holds but does not pass down -------------------
def callers_local(name: str, kind: type[T], *, depth: int, frames: int = 2) -> T | None:
    """A local variable ``name`` of type ``kind`` in one of the calling frames, or None.

    langchain-core's ``stream()`` / ``astream()`` create the run's callback manager
    but do not pass it to ``_stream`` / ``_astream``; resilience reads it from there
    for ``on_retry`` and ``stream_reset`` events. None (no callbacks) if it ever moves.
    """
    frame: FrameType | None = sys._getframe(depth + 1)
    for _ in range(frames):
        if frame is None:
            return None
        candidate = frame.f_locals.get(name)
        if isinstance(candidate, kind):
            return candidate
        frame = frame.f_back
    return None


# -- asyncio: is a loop running in this thread, without raising when not -------------------
def _running_loop_public() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


#: The running event loop of this thread, or None. ``asyncio._get_running_loop`` answers
#: without raising (sync callbacks ask per token); ``get_running_loop`` is the fallback.
running_loop: Callable[[], asyncio.AbstractEventLoop | None] = getattr(
    asyncio, "_get_running_loop", _running_loop_public
)


# -- httpx2: where a respx mocker hooks the client's transport (cassettes) -------------------
def httpx2_transport_hook() -> tuple[list[str], str]:
    """(client class paths, method) a respx ``Mocker`` patches to see every request.

    respx itself hooks httpx's transports the same way. The class paths come from
    the classes, so a module move inside httpx2 is followed; a release without
    the method raises here, naming what changed, instead of recording nothing.
    """
    import httpx2

    method = "_transport_for_url"
    classes = (httpx2.Client, httpx2.AsyncClient)
    missing = [c.__name__ for c in classes if not callable(getattr(c, method, None))]
    if missing:
        raise RuntimeError(
            f"httpx2 {httpx2.__version__}: {', '.join(missing)} has no {method}(); "
            "streamtap.testing cannot intercept its requests (please report this)"
        )
    return [f"{c.__module__}.{c.__qualname__}" for c in classes], method
