"""Find credential-looking strings in files, by file and line, for CI and review.

Works on any text file (fixtures, cassettes, configs). In cassettes it also looks
inside base64 chunks, where a key would otherwise be invisible to a text search.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from streamtap._secrets import find_credentials

SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
    }
)
_BINARY_SNIFF = 8192


@dataclass(frozen=True, slots=True)
class ScanFinding:
    """One credential-looking string: where, what kind, and a masked preview."""

    path: Path
    line: int
    kind: str
    preview: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.preview}"


def mask(secret: str) -> str:
    """Enough of a secret to find it again, not enough to use it."""
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:4]}…{secret[-2:]} ({len(secret)} chars)"


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and files under directories named, skipping VCS and cache directories."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, directories, files in os.walk(path):
                directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES)
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


def scan_text(path: Path, text: str) -> list[ScanFinding]:
    """Findings in ``text`` (the content of ``path``)."""
    findings: list[ScanFinding] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        for finding in find_credentials(line):
            findings.append(
                ScanFinding(path, number, finding.kind, mask(line[finding.start : finding.end]))
            )
    findings.extend(_scan_base64_chunks(path, text, lines))
    return findings


def _scan_base64_chunks(path: Path, text: str, lines: list[str]) -> list[ScanFinding]:
    if '"base64"' not in text:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    findings: list[ScanFinding] = []
    for encoded in _base64_values(document):
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            continue
        line = next((n for n, content in enumerate(lines, start=1) if encoded in content), 0)
        for finding in find_credentials(decoded):
            secret = decoded[finding.start : finding.end]
            findings.append(ScanFinding(path, line, f"{finding.kind} (in base64)", mask(secret)))
    return findings


def _base64_values(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "base64" and isinstance(item, str):
                yield item
            else:
                yield from _base64_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _base64_values(item)


def scan_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[ScanFinding], int]:
    """All findings under ``paths`` and the number of text files scanned."""
    findings: list[ScanFinding] = []
    scanned = 0
    for path in iter_files(paths):
        data = path.read_bytes()
        if b"\0" in data[:_BINARY_SNIFF]:
            continue
        scanned += 1
        findings.extend(scan_text(path, data.decode("utf-8", errors="replace")))
    return findings, scanned
