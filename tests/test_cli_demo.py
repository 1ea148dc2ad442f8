"""`streamtap demo` replays fixtures through the real SDKs and prints tokens as they come."""

from __future__ import annotations

import pytest

from streamtap.cli import main


def test_demo_replay_prints_every_vendor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--delay", "0"]) == 0
    out = capsys.readouterr().out
    assert "Let me check the weather.get_weather" in out
    assert "Hello there!" in out
    assert out.count("-- finish=") == 3
    assert "finish=tool_calls" in out and "finish=stop" in out
