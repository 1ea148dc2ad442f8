"""How ``llamacpp:`` / ``llamacpp-anthropic:`` specs find the local server (no server needed).

Order: an explicit ``base_url``, else the server ``streamtap local start`` recorded, else
llama.cpp's default port. The Anthropic wire gets the URL without ``/v1`` (the SDK adds
it) and its sampling parameters in the body, because anthropic 2.x's ``create()`` has
no ``temperature`` argument.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx

import streamtap
from streamtap import local
from streamtap.local import LocalServer
from streamtap.providers import AnthropicChatModel, OpenAICompatibleModel
from streamtap.providers._registry import AnthropicCompatibleModel
from tests import _fixtures as F


@pytest.fixture(autouse=True)
def _empty_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's background server leaks into these tests."""
    monkeypatch.setenv("STREAMTAP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    # A record whose pid is alive and runs the recorded binary: this test process.
    server = LocalServer(
        model="smollm2",
        alias="smollm2-135m",
        port=43210,
        pid=os.getpid(),
        log_path=Path("server.log"),
        model_path=Path("model.gguf"),
    )
    state = local.default_state_dir()
    state.mkdir(parents=True)
    record = {
        "model": server.model,
        "alias": server.alias,
        "port": server.port,
        "pid": server.pid,
        "log_path": str(server.log_path),
        "model_path": str(server.model_path),
        "host": server.host,
        "binary": os.path.realpath(sys.executable),
    }
    (state / "server.json").write_text(json.dumps(record))
    assert local.status() == server
    yield server


def test_without_a_running_server_the_default_port_is_used() -> None:
    openai_wire = streamtap.chat_model("llamacpp:smollm2")
    anthropic_wire = streamtap.chat_model("llamacpp-anthropic:smollm2")

    assert type(openai_wire) is OpenAICompatibleModel
    assert openai_wire.base_url == "http://127.0.0.1:8080/v1"
    assert type(anthropic_wire) is AnthropicCompatibleModel
    assert isinstance(anthropic_wire, AnthropicChatModel)
    assert anthropic_wire.base_url == "http://127.0.0.1:8080"
    assert openai_wire.provider_name == anthropic_wire.provider_name == "llamacpp"
    assert anthropic_wire._get_ls_params()["ls_provider"] == "llamacpp"


def test_the_running_local_server_is_found(running: LocalServer) -> None:
    assert streamtap.chat_model("llamacpp:smollm2").base_url == running.base_url
    assert (
        streamtap.chat_model("llamacpp-anthropic:smollm2").base_url
        == running.anthropic_base_url
        == "http://127.0.0.1:43210"
    )


def test_an_explicit_base_url_wins(running: LocalServer) -> None:
    model = streamtap.chat_model("llamacpp:smollm2", base_url="http://127.0.0.1:9/v1")
    assert model.base_url == "http://127.0.0.1:9/v1"


def test_other_presets_ignore_the_local_server(running: LocalServer) -> None:
    assert streamtap.chat_model("vllm:qwen3").base_url == "http://127.0.0.1:8000/v1"


def test_a_stale_state_file_falls_back_to_the_default_port(tmp_path: Path) -> None:
    state = local.default_state_dir()
    state.mkdir(parents=True)
    record = {
        "model": "smollm2",
        "alias": "smollm2-135m",
        "port": 43210,
        "pid": 2**22 + 7,  # above pid_max's default: no such process
        "log_path": "x.log",
        "model_path": "x.gguf",
        "host": "127.0.0.1",
        "binary": "/nonexistent/llama-server",
    }
    (state / "server.json").write_text(json.dumps(record))

    assert streamtap.chat_model("llamacpp:smollm2").base_url == "http://127.0.0.1:8080/v1"
    assert not (state / "server.json").exists(), "the stale record is removed"


def test_anthropic_wire_sends_sampling_parameters_in_the_body() -> None:
    fixture = F.load("anthropic", "text_then_tool_call")
    url = "http://127.0.0.1:8080/v1/messages"
    with respx.mock(assert_all_called=True) as router:
        route = router.post(url).respond(
            200, headers={"content-type": "text/event-stream"}, content=fixture.body
        )
        model = streamtap.chat_model(
            "llamacpp-anthropic:smollm2", temperature=0, max_tokens=7, max_retries=0
        )
        message = model.invoke("hi", seed=42)

    body = json.loads(route.calls.last.request.content)
    assert body["temperature"] == 0
    assert body["seed"] == 42
    assert body["max_tokens"] == 7
    assert message.response_metadata["model_provider"] == "llamacpp"
    assert message.text


def test_normalize_reads_the_anthropic_wire_for_llamacpp_anthropic() -> None:
    fixture = F.load("anthropic", "text_then_tool_call")
    assert fixture.body is not None
    events = [
        json.loads(line.removeprefix(b"data: "))
        for line in fixture.body.splitlines()
        if line.startswith(b"data: ")
    ]
    chunks = list(streamtap.normalize("llamacpp-anthropic", events))

    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["model_provider"] == "llamacpp"
    assert any(chunk.tool_call_chunks for chunk in chunks)


@pytest.mark.parametrize("is_async", [False, True])
def test_anthropic_wire_opens_a_connection_per_request(is_async: bool) -> None:
    """llama.cpp closes the socket after a streamed /v1/messages answer: never pool it."""
    model = streamtap.chat_model("llamacpp-anthropic:smollm2")
    client = model._client_kwargs(is_async=is_async)["http_client"]
    try:
        assert client._transport._pool._max_keepalive_connections == 0
    finally:
        if is_async:
            import asyncio

            asyncio.run(client.aclose())
        else:
            client.close()


def test_anthropic_wire_keeps_a_client_it_is_given() -> None:
    import httpx

    with httpx.Client() as given:
        model = streamtap.chat_model("llamacpp-anthropic:smollm2", http_client=given)
        assert model._client_kwargs(is_async=False)["http_client"] is given
