"""The cassette file: versioned JSON laid out for review and diffs.

Every chunk sits on its own line, so a re-recording shows up in ``git diff`` as
the chunks that changed. Text stays text (UTF-8, unescaped where JSON allows);
only bytes that are not UTF-8 fall back to base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from streamtap.testing.errors import CassetteFormatError
from streamtap.testing.model import (
    Chunk,
    Headers,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamError,
)

FORMAT_VERSION = 1
_INLINE_LISTS = frozenset({"chunks"})
"""Lists whose items are written one compact JSON object per line."""


def load_interactions(path: str | os.PathLike[str]) -> list[Interaction]:
    """Read a cassette file; raises :class:`CassetteFormatError` when it is not one."""
    location = Path(path)
    try:
        document = json.loads(location.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CassetteFormatError(f"{location}: not valid JSON ({exc})") from exc
    return interactions_from_document(document, source=str(location))


def interactions_from_document(document: Any, *, source: str = "<cassette>") -> list[Interaction]:
    """Decode the parsed JSON of a cassette file."""
    if not isinstance(document, dict) or "interactions" not in document:
        raise CassetteFormatError(f"{source}: not a streamtap cassette (no 'interactions' key)")
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise CassetteFormatError(
            f"{source}: cassette format version {version!r} is not supported "
            f"(this streamtap reads version {FORMAT_VERSION}); re-record it"
        )
    try:
        return [_interaction_from_json(item) for item in document["interactions"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CassetteFormatError(f"{source}: malformed interaction ({exc!r})") from exc


def dumps_interactions(interactions: Iterable[Interaction]) -> str:
    """The text of a cassette file holding ``interactions``."""
    document = {
        "version": FORMAT_VERSION,
        "interactions": [_interaction_to_json(item) for item in interactions],
    }
    return _render(document, 0) + "\n"


def save_interactions(path: str | os.PathLike[str], interactions: Iterable[Interaction]) -> None:
    """Write atomically, so an interrupted run never leaves half a cassette behind."""
    location = Path(path)
    location.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_interactions(interactions)
    # mkstemp creates 0600; a cassette is a shared test asset, so keep the old mode or use 0644.
    mode = location.stat().st_mode & 0o777 if location.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{location.name}.", dir=location.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, location)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _render(value: Any, level: int, inline_items: bool = False) -> str:
    pad = "  " * level
    inner = "  " * (level + 1)
    if isinstance(value, dict) and value:
        members = [
            f"{inner}{json.dumps(key)}: {_render(item, level + 1, key in _INLINE_LISTS)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(members) + "\n" + pad + "}"
    if isinstance(value, list) and value:
        items = [
            json.dumps(item, ensure_ascii=False) if inline_items else _render(item, level + 1)
            for item in value
        ]
        return "[\n" + ",\n".join(inner + item for item in items) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def _headers_to_json(headers: Headers) -> dict[str, str | list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def _headers_from_json(raw: Any) -> Headers:
    headers: Headers = []
    for name, value in dict(raw).items():
        values = value if isinstance(value, list) else [value]
        headers.extend((str(name).lower(), str(item)) for item in values)
    return headers


def _bytes_to_json(data: bytes, *, allow_json: bool) -> dict[str, Any]:
    if not data:
        return {}
    if allow_json:
        try:
            return {"json": json.loads(data)}
        except ValueError:
            pass
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _bytes_from_json(raw: dict[str, Any]) -> bytes:
    if "json" in raw:
        return json.dumps(raw["json"], ensure_ascii=False).encode("utf-8")
    if "text" in raw:
        return str(raw["text"]).encode("utf-8")
    if "base64" in raw:
        return base64.b64decode(str(raw["base64"]), validate=True)
    return b""


def _interaction_to_json(interaction: Interaction) -> dict[str, Any]:
    request, response = interaction.request, interaction.response
    request_json: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "headers": _headers_to_json(request.headers),
        **_bytes_to_json(request.body, allow_json=True),
    }
    response_json: dict[str, Any] = {
        "status": response.status,
        "headers": _headers_to_json(response.headers),
        "headers_offset": round(response.headers_offset, 6),
        "chunks": [
            {"t": round(chunk.offset, 6), **_bytes_to_json(chunk.data, allow_json=False)}
            for chunk in response.chunks
        ],
        "complete": response.complete,
    }
    if response.error is not None:
        response_json["error"] = {
            "type": response.error.type,
            "message": response.error.message,
            "t": round(response.error.offset, 6),
        }
    return {"request": request_json, "response": response_json}


def _interaction_from_json(raw: Any) -> Interaction:
    request_raw, response_raw = raw["request"], raw["response"]
    request = RecordedRequest(
        method=str(request_raw["method"]).upper(),
        url=str(request_raw["url"]),
        headers=_headers_from_json(request_raw.get("headers", {})),
        body=_bytes_from_json(request_raw),
    )
    error_raw = response_raw.get("error")
    response = RecordedResponse(
        status=int(response_raw["status"]),
        headers=_headers_from_json(response_raw.get("headers", {})),
        headers_offset=float(response_raw.get("headers_offset", 0.0)),
        chunks=[
            Chunk(offset=float(chunk["t"]), data=_bytes_from_json(chunk))
            for chunk in response_raw.get("chunks", [])
        ],
        complete=bool(response_raw.get("complete", True)),
        error=None
        if error_raw is None
        else StreamError(
            type=str(error_raw["type"]),
            message=str(error_raw["message"]),
            offset=float(error_raw["t"]),
        ),
    )
    return Interaction(request=request, response=response)
