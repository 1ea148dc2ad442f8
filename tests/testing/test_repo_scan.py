"""What CI relies on: no credential-like string in fixtures/ or in any cassette."""

from __future__ import annotations

from pathlib import Path

from streamtap.cli import main
from streamtap.testing.scan import SKIPPED_DIRECTORIES

ROOT = Path(__file__).resolve().parents[2]


def _cassettes() -> list[Path]:
    found = []
    for path in ROOT.rglob("*.json"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_DIRECTORIES or "build" in parts:
            continue
        if "cassettes" in parts or '"interactions"' in path.read_text(errors="replace")[:4096]:
            found.append(path)
    return found


def test_fixtures_and_every_cassette_are_free_of_credentials() -> None:
    cassettes = _cassettes()
    assert ROOT / "tests" / "testing" / "cassettes" / "openai_chat_text.json" in cassettes
    assert main(["cassette", "scan", str(ROOT / "fixtures"), *map(str, cassettes)]) == 0
