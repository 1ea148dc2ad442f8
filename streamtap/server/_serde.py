"""JSON on the wire, the way LangGraph Platform writes it.

Stream payloads hold LangChain messages, ``Interrupt`` dataclasses, tuples and
exceptions. orjson serialises dataclasses, tuples, UUIDs and datetimes natively;
``_default`` covers the rest exactly like the Platform's serializer (pydantic
models through ``model_dump`` so a chunk keeps ``type``, ``tool_call_chunks``,
``usage_metadata`` ...; exceptions as ``{"error", "message"}``; unknown objects
as ``null`` rather than a ``repr`` that could leak internals).
"""

from __future__ import annotations

import uuid
from base64 import b64encode
from collections import deque
from datetime import timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import orjson

from streamtap._secrets import redact_secrets

__all__ = ["dumps", "error_payload", "loads"]

# Not OPT_SERIALIZE_NUMPY: with it orjson probes objects it does not know for numpy's
# array interface, ~60 µs on a message chunk (once a run); ``_default`` converts numpy.
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    if type(obj).__module__ == "numpy" and callable(tolist := getattr(obj, "tolist", None)):
        return tolist()  # arrays as lists, numpy scalars as Python numbers
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, type):
        return dump()
    as_dict = getattr(obj, "_asdict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(obj, BaseException):
        return error_payload(obj)
    if isinstance(obj, (set, frozenset, deque)):
        return list(obj)
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, (uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return b64encode(obj).decode()
    slots = _send_like(obj)
    if slots is not None:
        return slots
    return None


def _send_like(obj: Any) -> dict[str, Any] | None:
    """``Send`` has slots but no dict form; the Platform shows it as ``{node, arg}``."""
    node = getattr(obj, "node", None)
    if isinstance(node, str) and hasattr(obj, "arg"):
        return {"node": node, "arg": obj.arg}
    return None


def dumps(obj: Any) -> bytes:
    """Serialise one stream payload; NUL characters are dropped (SSE cannot carry them).

    The result is a copy of what orjson returns: orjson's ``bytes`` keep the whole
    buffer it wrote into (4 KiB at least), so a 200-byte event kept in a run's or a
    thread's log held 4 KiB, and the logs' byte bounds, which count ``len``, were
    twenty times off (``python -m bench.protocol_load``, memory per run)."""
    out = orjson.dumps(obj, default=_default, option=_OPTIONS)
    if rb"\u0000" in out:
        return out.replace(rb"\u0000", b"")
    return memoryview(out).tobytes()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def error_payload(exc: BaseException, *secrets: str | None) -> dict[str, str]:
    """``{"error": <type name>, "message": ...}`` with anything credential-like masked."""
    return {"error": type(exc).__name__, "message": redact_secrets(str(exc), *secrets)}
