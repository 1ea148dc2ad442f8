"""``streamtap cassette show|scan|redact``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from streamtap.cli import main
from streamtap.testing import (
    REDACTED,
    Chunk,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    load_interactions,
    save_interactions,
)

CASSETTES = Path(__file__).parent / "cassettes"
SECRET = "sk-" + "live-" + "A1b2C3d4E5f6G7h8I9j0"


def _leaky(path: Path) -> None:
    """A cassette written by hand (or by an old tool) with secrets in it."""
    document = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "url": "https://api.example/v1/chat",
                    "headers": {"authorization": f"Bearer {SECRET}"},
                    "json": {"q": 1},
                },
                "response": {
                    "status": 200,
                    "headers": {},
                    "headers_offset": 0.01,
                    "chunks": [
                        {"t": 0.1, "text": "data: hello\n\n"},
                        {"t": 0.2, "text": f"data: {SECRET}\n\n"},
                    ],
                    "complete": True,
                },
            }
        ],
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def test_show_prints_summary_and_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASSETTES / "openai_chat_text.json"
    assert main(["cassette", "show", str(path)]) == 0
    out = capsys.readouterr().out
    (interaction,) = load_interactions(path)
    chunks = interaction.response.chunks
    assert f"{path}: 1 interaction(s)" in out
    assert "#1 POST https://api.openai.com/v1/chat/completions -> 200 text/event-stream" in out
    assert f"13 chunk(s), {len(interaction.response.body)} bytes" in out
    assert f"first chunk {chunks[0].offset:.3f} s, total {chunks[-1].offset:.3f} s" in out
    timeline = [line for line in out.splitlines() if line.strip().endswith("data: [DONE]\\n\\n")]
    assert len(timeline) == 1
    assert timeline[0].split()[0] == f"{chunks[-1].offset:.3f}s"
    gap = chunks[-1].offset - chunks[-2].offset
    assert timeline[0].split()[1] == f"{gap:.3f}s"

    assert main(["cassette", "show", "--no-timeline", str(path)]) == 0
    assert "data: [DONE]" not in capsys.readouterr().out


def test_show_reports_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert main(["cassette", "show", str(bad)]) == 2
    assert "not a streamtap cassette" in capsys.readouterr().err


def test_scan_names_file_and_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky = tmp_path / "deep" / "leaky.json"
    leaky.parent.mkdir()
    _leaky(leaky)
    (tmp_path / "clean.sse").write_text("data: hello\n\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\0" + SECRET.encode())  # binary files are skipped
    assert main(["cassette", "scan", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    text = leaky.read_text(encoding="utf-8").split("\n")
    expected_lines = [n for n, line in enumerate(text, start=1) if SECRET in line]
    assert [line.split(":")[1] for line in lines] == [str(n) for n in expected_lines]
    assert all(line.startswith(f"{leaky}:") for line in lines)
    assert SECRET not in captured.out + captured.err  # findings are masked
    assert "2 credential-like string(s) in 1 file(s) (2 scanned)" in captured.err


def test_scan_sees_secrets_inside_base64_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.json"
    save_interactions(
        path,
        [
            Interaction(
                RecordedRequest("GET", "https://api.example/x"),
                RecordedResponse(200, chunks=[Chunk(0.1, b"\xff" + SECRET.encode())]),
            )
        ],
    )
    assert '"base64"' in path.read_text(encoding="utf-8")
    assert main(["cassette", "scan", str(path)]) == 1
    assert "(in base64)" in capsys.readouterr().out


def test_scan_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["cassette", "scan", str(tmp_path / "nope")]) == 2


def test_redact_rewrites_in_place_then_scan_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leaky.json"
    _leaky(path)
    assert main(["cassette", "redact", str(path)]) == 0
    assert "redacted in place" in capsys.readouterr().out
    raw = path.read_text(encoding="utf-8")
    assert SECRET not in raw
    (interaction,) = load_interactions(path)
    assert interaction.request.header("authorization") == REDACTED
    assert [chunk.data for chunk in interaction.response.chunks] == [
        b"data: hello\n\n",
        f"data: {REDACTED}\n\n".encode(),
    ]
    assert main(["cassette", "scan", str(path)]) == 0
    assert main(["cassette", "redact", str(path)]) == 0
    assert "nothing to redact" in capsys.readouterr().out


def test_redact_leaves_a_clean_cassette_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "clean.json"
    shutil.copy(CASSETTES / "anthropic_text.json", path)
    before = path.read_bytes()
    assert main(["cassette", "redact", str(path)]) == 0
    assert path.read_bytes() == before
