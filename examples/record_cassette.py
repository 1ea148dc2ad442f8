"""Record a streaming cassette once, then replay it chunk for chunk, without the network.

The first run records against the real API (``record_mode="once"``: only when the file is
missing) with every secret redacted before it is written; every later run, and the second
block below, replays it with the same chunk boundaries, here at the recorded pace.

    OPENAI_API_KEY=... python examples/record_cassette.py /tmp/hello.json    # records, then replays
    python examples/record_cassette.py      # replays the committed examples/cassettes/hello.json
    streamtap cassette show examples/cassettes/hello.json                     # chunks and timeline
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamtap
from streamtap.testing import use_cassette  # before anything imports httpx (see the README)

DEFAULT = Path(__file__).resolve().parent / "cassettes" / "hello.json"
PROMPT = "Say hello"


def stream_once() -> list[str]:
    model = streamtap.chat_model("openai:gpt-4o-mini")
    return [chunk.text for chunk in model.stream(PROMPT)]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with use_cassette(path, record_mode="once") as cassette:
        first = stream_once()
    action = (
        f"recorded {len(cassette.recorded)}"
        if cassette.recorded
        else f"replayed {cassette.play_count}"
    )
    print(f"{action} interaction(s): {path.name}")
    print("|".join(first))

    with use_cassette(path, pace="recorded") as cassette:  # replay only, original timing
        second = stream_once()
    print("replayed at the recorded pace, all played:", cassette.all_played)
    print("same chunks:", second == first)


if __name__ == "__main__":
    main()
