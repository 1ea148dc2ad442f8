"""Run an example offline: its vendor calls are answered from its recorded cassette.

    python examples/replay.py examples/swap_vendors.py
    python examples/replay.py --pace recorded examples/stream_graph.py   # at the original pace
    python examples/replay.py examples/serve_graph.py --port 8123        # arguments pass through

The example runs unmodified (as ``__main__``, with its real vendor specs) inside
``streamtap.testing.use_cassette("examples/cassettes/<example>.json")`` in replay-only mode:
every HTTP request an official SDK makes is matched against the recording (method, URL,
JSON body) and answered with the recorded chunks. A request that was not recorded raises
``CassetteMismatchError`` with a diff, and nothing reaches the network. The exit status is
1 when the example left a recorded interaction unplayed.
"""

from __future__ import annotations

# streamtap.testing first: it makes `import httpx` mean httpx2 so the SDKs can be intercepted.
from streamtap.testing import Pace, use_cassette  # isort: skip

import argparse
import os
import runpy
import sys
from pathlib import Path

CASSETTES = Path(__file__).resolve().parent / "cassettes"
VENDOR_ENV = ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")
"""Base-URL overrides are dropped: the cassettes were recorded against the vendors' defaults."""
KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
"""A replay sends no key anywhere, but the models refuse to start without one."""


def parse_pace(text: str) -> Pace:
    """``instant``, ``recorded`` or a speed factor such as ``2`` (twice as fast)."""
    if text == "instant":
        return "instant"
    if text == "recorded":
        return "recorded"
    return float(text)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run an example against its recorded cassette.")
    parser.add_argument(
        "--pace", type=parse_pace, default="instant", help="instant | recorded | a speed factor"
    )
    parser.add_argument("example", type=Path, help="e.g. examples/swap_vendors.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed on to the example")
    options = parser.parse_args()
    script: Path = options.example
    for name in VENDOR_ENV:
        os.environ.pop(name, None)
    for name in KEYS:
        os.environ.setdefault(name, "replay-placeholder")
    sys.argv = [str(script), *options.args]
    with use_cassette(CASSETTES / f"{script.stem}.json", pace=options.pace) as cassette:
        runpy.run_path(str(script), run_name="__main__")
    if not cassette.all_played:
        unplayed = len(cassette.interactions) - cassette.play_count
        print(f"replay: {unplayed} recorded interaction(s) were not replayed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
