"""``streamtap chat`` and ``streamtap demo``: the view offline, then both commands live.

The live tests run against the session's server through ``--base-url``, except those
that check which server a command picks on its own: one started for the call (and gone
after it), or the background one ``streamtap local start`` left running.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

import streamtap
from streamtap import local
from streamtap.cli import main
from streamtap.cli._demo_graph import chat_graph, joke_graph
from streamtap.local import LocalServer

pytest.importorskip("rich", reason="the chat/demo view needs rich (in streamtap[local])")
from rich.console import Console

from streamtap.cli._view import StreamView, parse_stream_modes

ANSWER_TOKENS = 16


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by PID 1) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def empty_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No background server recorded: commands must start their own."""
    monkeypatch.setenv("STREAMTAP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- offline


def test_parse_stream_modes() -> None:
    assert parse_stream_modes("messages, updates,messages") == ["messages", "updates"]
    with pytest.raises(ValueError, match=r"unknown stream mode\(s\) checkpoints"):
        parse_stream_modes("messages,checkpoints")
    with pytest.raises(ValueError, match="none given"):
        parse_stream_modes(" , ")


def test_chat_rejects_an_unknown_stream_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "hi", "--stream-mode", "messages,bogus"]) == 2
    err = capsys.readouterr().err
    assert "unknown stream mode(s) bogus" in err
    assert "messages, updates, values, custom, tasks, debug" in err


def test_chat_with_a_vendor_but_no_key_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["chat", "hi", "--model", "anthropic:claude-sonnet-4-6"]) == 1
    captured = capsys.readouterr()
    assert "ANTHROPIC_API_KEY" in captured.err
    assert captured.out == ""


def _render(graph: object, inputs: object, modes: list[str], show: list[str]) -> tuple[str, Any]:
    out = io.StringIO()
    view = StreamView(Console(file=out, width=200, soft_wrap=True), show=show)
    for mode, payload in graph.stream(inputs, stream_mode=modes):  # type: ignore[attr-defined]
        view.handle(mode, payload)
    view.end_line()
    return out.getvalue(), view


def test_view_tags_tokens_by_node_and_prints_updates_and_custom_events() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("Why did the cat sit?", id="m1")]))
    text, view = _render(
        joke_graph(model),
        {"topic": "ice cream"},
        ["messages", "updates", "custom", "values"],
        ["messages", "updates", "custom"],
    )

    assert text.splitlines() == [
        "✓ refine_topic update {'topic': 'ice cream and cats'}",
        "• custom {'progress': 'asking the model', 'topic': 'ice cream and cats'}",
        "generate_joke ▸ Why did the cat sit?",
        "• custom {'progress': 'joke received', 'characters': 20}",
        "✓ generate_joke update {'joke': 'Why did the cat sit?'}",
    ]
    assert view.state == {"topic": "ice cream and cats", "joke": "Why did the cat sit?"}
    assert view.first_token is not None
    assert view.usage_line().startswith("usage: not reported · first token ")


class _Writes(io.StringIO):
    """Records each write and flush, to see tokens leave one by one."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def write(self, text: str) -> int:
        self.events.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.events.append("<flush>")


def test_view_writes_each_token_as_it_arrives() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("one two three", id="m3")]))
    out = _Writes()
    view = StreamView(Console(file=out, width=200, soft_wrap=True), show=["messages"])
    for mode, payload in chat_graph(model).stream(
        {"messages": [("user", "count")]}, stream_mode=["messages"]
    ):
        view.handle(mode, payload)

    tokens = [e for e in out.events if e in ("one", " ", "two", "three")]
    assert tokens == ["one", " ", "two", " ", "three"]
    for token in ("one", "two", "three"):
        assert out.events[out.events.index(token) + 1] == "<flush>", "flushed at once"


def test_view_without_messages_mode_still_finds_the_answer_for_usage() -> None:
    answer = AIMessage(
        "Hello!",
        id="m2",
        usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        response_metadata={"finish_reason": "stop", "model_name": "fake-1"},
    )
    model = GenericFakeChatModel(messages=iter([answer]))
    text, view = _render(
        chat_graph(model), {"messages": [("user", "hi")]}, ["updates", "values"], ["updates"]
    )

    assert text.splitlines() == ["✓ chat update {'messages': [ai: 'Hello!']}"]
    assert view.usage_line().startswith("usage: 3 in + 2 out = 5 tokens · finish stop · fake-1 · ")


# --------------------------------------------------------------------------- live


@pytest.mark.local_model
@pytest.mark.parametrize("wire", ["llamacpp", "llamacpp-anthropic"])
def test_chat_streams_an_answer_and_prints_usage(
    wire: str, local_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = local_server.anthropic_base_url if wire == "llamacpp-anthropic" else local_server.base_url
    prompt = "Name three colours."
    args = ["chat", prompt, "--model", f"{wire}:smollm2", "--base-url", url]
    args += ["--stream-mode", "messages,updates", "--max-tokens", str(ANSWER_TOKENS)]
    assert main([*args, "--temperature", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()

    expected = streamtap.chat_model(
        f"{wire}:smollm2", base_url=url, temperature=0, max_tokens=ANSWER_TOKENS
    ).invoke(prompt)
    answer_lines = expected.text.count("\n") + 1
    assert "\n".join(lines[:answer_lines]) == f"chat ▸ {expected.text}"
    assert lines[answer_lines].startswith("✓ chat update {'messages': [ai: ")
    usage = expected.usage_metadata
    assert usage is not None
    assert lines[-1].startswith(
        f"usage: {usage['input_tokens']} in + {usage['output_tokens']} out "
        f"= {usage['total_tokens']} tokens · finish "
        f"{expected.response_metadata['finish_reason']} · smollm2-135m · first token "
    )
    assert len(lines) == answer_lines + 2


@pytest.mark.local_model
def test_demo_runs_the_joke_graph_live(
    local_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo", "--base-url", local_server.base_url, "--max-tokens", str(ANSWER_TOKENS)]
    assert main([*args, "--temperature", "0"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()

    assert "streamtap demo" in lines[0]
    assert lines[1] == f"model llamacpp:smollm2 → llamacpp at {local_server.base_url}"
    body = lines[3:]
    assert body[0] == "✓ refine_topic update {'topic': 'ice cream and cats'}"
    assert body[1] == "• custom {'progress': 'asking the model', 'topic': 'ice cream and cats'}"
    assert body[2].startswith("generate_joke ▸ ")
    joke_start = 2
    joke_end = next(i for i in range(joke_start, len(body)) if body[i].startswith("• custom"))
    joke = "\n".join(body[joke_start:joke_end]).removeprefix("generate_joke ▸ ")
    assert joke.strip()
    assert body[joke_end] == f"• custom {{'progress': 'joke received', 'characters': {len(joke)}}}"
    assert body[joke_end + 1].startswith("✓ generate_joke update {'joke': ")
    assert "final state" in out
    assert any(line.split() == ["topic", "ice", "cream", "and", "cats"] for line in lines)
    assert lines[-1].startswith("usage: ") and " out = " in lines[-1]


@pytest.mark.local_model
def test_demo_starts_and_stops_its_own_server(
    empty_state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--max-tokens", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert "started for this command" in lines[1]
    stopped = lines[-1]
    assert stopped.startswith("stopped the local server (pid ")
    pid = int(stopped.removeprefix("stopped the local server (pid ").rstrip(")"))
    assert f"pid {pid}" in lines[1]
    assert not _pid_exists(pid)


@pytest.mark.local_model
def test_chat_starts_a_server_for_the_call(
    empty_state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "Say hi.", "--max-tokens", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith("local model: llama.cpp (smollm2-135m) at http://127.0.0.1:")
    assert "started for this command" in lines[0]
    pid = int(lines[0].rpartition("pid ")[2])
    assert lines[1].startswith("chat ▸ ")
    assert lines[-1].startswith("usage: ")
    assert not _pid_exists(pid), "the server started for the call is stopped after it"


@pytest.fixture
def background_server(empty_state_dir: Path) -> Iterator[LocalServer]:
    server = local.start()
    try:
        yield server
    finally:
        local.stop()


@pytest.mark.local_model
def test_chat_and_specs_use_the_background_server(
    background_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert streamtap.chat_model("llamacpp:smollm2").base_url == background_server.base_url
    assert main(["chat", "Say hi.", "--max-tokens", "8", "--temperature", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith("chat ▸ "), "no server started: nothing to announce"
    assert lines[-1].startswith("usage: ")
    assert local.status() == background_server, "the background server keeps running"
