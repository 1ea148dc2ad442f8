"""``streamtap cassette show|scan|redact``: inspect, police and clean cassette files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

_EXIT_FOUND = 1
_EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``cassette`` command and its subcommands."""
    parser = subparsers.add_parser(
        "cassette",
        help="inspect, scan and redact streaming cassettes",
        description="Inspect, scan and redact streamtap cassettes.",
    )
    commands = parser.add_subparsers(dest="cassette_command", required=True)

    show = commands.add_parser(
        "show", help="interactions, chunk counts, first-token and total time, chunk timeline"
    )
    show.add_argument("file", type=Path)
    show.add_argument(
        "--no-timeline", action="store_true", help="summary only, no per-chunk timeline"
    )
    show.add_argument(
        "--width", type=int, default=72, help="characters of each chunk to preview (default 72)"
    )
    show.set_defaults(func=_show)

    scan = commands.add_parser(
        "scan",
        help="exit non-zero, naming file:line, if anything looks like a credential",
    )
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scan.set_defaults(func=_scan)

    redact = commands.add_parser(
        "redact", help="apply the default redaction to cassette files, in place"
    )
    redact.add_argument("files", nargs="+", type=Path, metavar="FILE")
    redact.set_defaults(func=_redact)


def _preview(data: bytes, width: int) -> str:
    text = data.decode("utf-8", errors="replace")
    shown = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return shown if len(shown) <= width else shown[: max(width - 1, 0)] + "…"


def _show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from streamtap.testing import CassetteError, load_interactions

    stream = out or sys.stdout
    try:
        interactions = load_interactions(args.file)
    except (CassetteError, OSError) as exc:
        print(f"streamtap cassette show: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    print(f"{args.file}: {len(interactions)} interaction(s)", file=stream)
    for number, interaction in enumerate(interactions, start=1):
        request, response = interaction.request, interaction.response
        chunks = response.chunks
        content_type = response.header("content-type") or "-"
        print(
            f"\n#{number} {request.method} {request.url} -> {response.status} {content_type}",
            file=stream,
        )
        first = f"{chunks[0].offset:.3f} s" if chunks else "-"
        total = f"{chunks[-1].offset:.3f} s" if chunks else "-"
        state = "" if response.complete else ", consumer closed before end of body"
        print(
            f"   {len(chunks)} chunk(s), {len(response.body)} bytes, headers at "
            f"{response.headers_offset:.3f} s, first chunk {first}, total {total}{state}",
            file=stream,
        )
        if response.error is not None:
            print(
                f"   ended by {response.error.type} at {response.error.offset:.3f} s: "
                f"{response.error.message}",
                file=stream,
            )
        if args.no_timeline or not chunks:
            continue
        print(f"   {'offset':>9} {'gap':>8} {'bytes':>6}  data", file=stream)
        previous = 0.0
        for chunk in chunks:
            gap = chunk.offset - previous
            previous = chunk.offset
            print(
                f"   {chunk.offset:>8.3f}s {gap:>7.3f}s {len(chunk.data):>6}  "
                f"{_preview(chunk.data, args.width)}",
                file=stream,
            )
    return 0


def _scan(args: argparse.Namespace) -> int:
    from streamtap.testing.scan import scan_paths

    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(
            f"streamtap cassette scan: no such file or directory: {', '.join(missing)}",
            file=sys.stderr,
        )
        return _EXIT_USAGE
    findings, scanned = scan_paths(args.paths)
    for finding in findings:
        print(finding)
    if findings:
        files = len({finding.path for finding in findings})
        print(
            f"{len(findings)} credential-like string(s) in {files} file(s) "
            f"({scanned} scanned). Remove them; for cassettes run `streamtap cassette redact FILE`.",
            file=sys.stderr,
        )
        return _EXIT_FOUND
    print(f"{scanned} file(s) scanned: nothing credential-like found.")
    return 0


def _redact(args: argparse.Namespace) -> int:
    from streamtap.testing import CassetteError, load_interactions, redact_interaction
    from streamtap.testing.fileformat import dumps_interactions, save_interactions

    status = 0
    for path in args.files:
        try:
            interactions = load_interactions(path)
        except (CassetteError, OSError) as exc:
            print(f"streamtap cassette redact: {exc}", file=sys.stderr)
            status = _EXIT_USAGE
            continue
        cleaned = [redact_interaction(interaction) for interaction in interactions]
        if dumps_interactions(cleaned) == dumps_interactions(interactions):
            print(f"{path}: nothing to redact")
            continue
        save_interactions(path, cleaned)
        print(f"{path}: redacted in place")
    return status
