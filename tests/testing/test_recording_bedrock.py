"""Cassettes of Bedrock Converse: boto3 (urllib3) and aiobotocore (aiohttp) requests go
through the active cassette like httpx2 ones. Recorded against the loopback Bedrock
(real SDKs, SigV4-signed with planted credentials) through streamtap's chat model, then
replayed with the server answering something else: the same chunks, nothing sent, no
credential in the file, the recorded chunk boundaries kept."""

from __future__ import annotations

import asyncio
import functools
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("aiobotocore")

import streamtap
from streamtap.errors import ProviderConnectionError, RateLimitError, StreamInterrupted
from streamtap.testing import REDACTED, CassetteMismatchError, load_interactions, use_cassette
from tests._bedrock_server import BedrockServer, running
from tests.providers import _bedrock_replay as R

PLANTED = (R.ACCESS_KEY_ID, R.SECRET_ACCESS_KEY, R.SESSION_TOKEN)


@pytest.fixture(scope="module")
def server() -> Iterator[BedrockServer]:
    with R.isolated_aws(), running() as srv:
        yield srv


def _serve(server: BedrockServer, scenario: str, **kwargs: Any) -> None:
    server.serve(R.reply(scenario, **kwargs))
    server.requests.clear()


def _model(server: BedrockServer) -> Any:
    return streamtap.chat_model(R.SPEC, **R.model_kwargs(server))


def _seen(chunks: list[Any]) -> list[Any]:
    return [(c.id, c.content, c.tool_call_chunks, c.usage_metadata) for c in chunks]


async def _astream(model: Any) -> list[Any]:
    try:
        return [c async for c in model.astream("hi")]
    finally:
        await model.aclose()


@pytest.mark.parametrize("is_async", [False, True], ids=["boto3", "aiobotocore"])
def test_record_redacts_sigv4_then_replays_chunk_for_chunk(
    server: BedrockServer, tmp_path: Path, is_async: bool
) -> None:
    path = tmp_path / "bedrock.json"
    _serve(server, "parallel_tool_calls", piece_size=97)
    with use_cassette(path, record_mode="once") as cassette:
        live = (
            asyncio.run(_astream(_model(server))) if is_async else list(_model(server).stream("hi"))
        )
    assert len(cassette.recorded) == 1 and len(server.requests) == 1
    sent = server.requests[-1].headers
    assert sent["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert sent["X-Amz-Security-Token"] == R.SESSION_TOKEN  # the live request was signed

    text = path.read_text(encoding="utf-8")
    assert not [secret for secret in PLANTED if secret in text]
    (interaction,) = load_interactions(path)
    assert interaction.request.header("authorization") == REDACTED
    assert interaction.request.header("x-amz-security-token") == REDACTED
    assert interaction.request.json()["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert interaction.response.complete
    body = R.reply("parallel_tool_calls").body
    assert b"".join(c.data for c in interaction.response.chunks) == body
    assert len(interaction.response.chunks) > 1  # the boundaries as they arrived, kept

    _serve(server, "http_500")  # whatever the server says now, the cassette answers
    with use_cassette(path) as replay:
        again = (
            asyncio.run(_astream(_model(server))) if is_async else list(_model(server).stream("hi"))
        )
    assert replay.play_count == 1 and server.requests == []
    assert _seen(again) == _seen(live)
    message = functools.reduce(operator.add, again)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        (c["name"], c["args"]) for c in R.expected("parallel_tool_calls")["tool_calls"]
    ]


@pytest.mark.parametrize("is_async", [False, True], ids=["boto3", "aiobotocore"])
def test_an_error_and_a_cut_stream_replay_as_they_happened(
    server: BedrockServer, tmp_path: Path, is_async: bool
) -> None:
    async def run(model: Any) -> None:
        try:
            async for _ in model.astream("hi"):
                pass
        finally:
            await model.aclose()

    def call(model: Any) -> None:
        asyncio.run(run(model)) if is_async else list(model.stream("hi"))

    for scenario, error in (("http_429", RateLimitError), ("reset", StreamInterrupted)):
        path = tmp_path / f"{scenario}.json"
        _serve(server, scenario, **({"piece_size": 64} if scenario == "reset" else {}))
        with use_cassette(path, record_mode="once"), pytest.raises(error) as recorded:
            call(_model(server))
        _serve(server, "text")
        with use_cassette(path), pytest.raises(error) as replayed:
            call(_model(server))
        assert server.requests == []
        if scenario == "reset":
            assert isinstance(replayed.value.__cause__, ProviderConnectionError)
            assert replayed.value.partial is not None and recorded.value.partial is not None
            assert replayed.value.partial.content == recorded.value.partial.content
        else:
            assert (replayed.value.status_code, replayed.value.error_type) == (
                recorded.value.status_code,
                recorded.value.error_type,
            )


def test_an_unmatched_request_fails_and_the_sdk_is_restored(
    server: BedrockServer, tmp_path: Path
) -> None:
    from botocore.endpoint import Endpoint  # type: ignore[import-untyped]

    original = Endpoint.__dict__["_send"]
    path = tmp_path / "text.json"
    _serve(server, "text")
    with use_cassette(path, record_mode="once"):
        list(_model(server).stream("hi"))
    assert Endpoint.__dict__["_send"] is original
    server.requests.clear()
    with (
        pytest.raises(CassetteMismatchError, match="no recorded interaction matches"),
        use_cassette(path),
    ):
        list(_model(server).stream("something else"))
    assert server.requests == []  # replay only: nothing reached the server
    assert Endpoint.__dict__["_send"] is original
