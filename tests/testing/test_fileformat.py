"""The cassette file: versioned, diff-friendly JSON that round-trips exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamtap.testing import (
    FORMAT_VERSION,
    CassetteFormatError,
    Chunk,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamError,
    load_interactions,
    save_interactions,
)


def _sample() -> list[Interaction]:
    return [
        Interaction(
            RecordedRequest(
                "POST",
                "https://api.example/v1/chat?x=1",
                [("content-type", "application/json"), ("x-many", "a"), ("x-many", "b")],
                b'{"model": "m", "messages": [{"role": "user", "content": "caf\xc3\xa9"}]}',
            ),
            RecordedResponse(
                200,
                [("content-type", "text/event-stream")],
                headers_offset=0.004,
                chunks=[
                    Chunk(0.15, 'data: {"t": "café 🚀"}\n\n'.encode()),
                    Chunk(0.2, b"\xf0\x9f"),  # half of a UTF-8 sequence: stored as base64
                    Chunk(0.25, b"\x9a\x80 data: [DONE]\n\n"),
                ],
                complete=False,
                error=StreamError("ReadTimeout", "timed out", 0.3),
            ),
        ),
        Interaction(
            RecordedRequest("GET", "https://api.example/v1/models", [], b"plain text body"),
            RecordedResponse(404, [], chunks=[]),
        ),
    ]


def test_round_trip_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.json"
    save_interactions(path, _sample())
    loaded = load_interactions(path)
    original = _sample()
    assert [item.response for item in loaded] == [item.response for item in original]
    assert loaded[0].request.json() == original[0].request.json()
    assert loaded[0].request.headers == original[0].request.headers
    assert loaded[1].request.body == b"plain text body"
    assert [p.name for p in path.parent.iterdir()] == ["c.json"]  # no temporary left behind


def test_layout_is_readable_and_one_chunk_per_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_interactions(path, _sample())
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["version"] == FORMAT_VERSION
    lines = text.splitlines()
    chunk_lines = [line.strip() for line in lines if line.strip().startswith('{"t":')]
    assert len(chunk_lines) == 3
    assert chunk_lines[0] == '{"t": 0.15, "text": "data: {\\"t\\": \\"café 🚀\\"}\\n\\n"},'
    assert '"base64"' in chunk_lines[1]
    assert document["interactions"][0]["request"]["json"]["messages"][0]["content"] == "café"
    assert document["interactions"][0]["request"]["headers"]["x-many"] == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"version": 1}', "not a streamtap cassette"),
        ('{"version": 99, "interactions": []}', "version 99 is not supported"),
        ('{"version": 1, "interactions": [{"request": {}}]}', "malformed interaction"),
    ],
)
def test_bad_files_raise_a_format_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CassetteFormatError, match=message):
        load_interactions(path)


def test_public_names_are_all_importable() -> None:
    import streamtap.testing as package

    assert set(package.__all__) == set(package._EXPORTS)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        package.nope  # noqa: B018
