"""A stream that fails after it opened names its request: the id the vendor's support asks
for is on the ``StreamInterrupted`` (and in its message) whatever cut the stream, a reset
mid-body, a body that ends early, an in-stream error, including through ``normalize()``.

The id is read once, when the stream opens, from the host's own spelling of the header
(``x-request-id``, ``request-id``, ``x-amzn-requestid``, ``apim-request-id``); an error
that names its own request (Anthropic's in-stream errors) keeps that one."""

from __future__ import annotations

import dataclasses
from typing import Any

import openai
import pytest
import respx

import streamtap
from streamtap.errors import StreamInterrupted
from tests import _fixtures as F
from tests.providers import _anthropic_clouds_replay as CR
from tests.providers.conftest import API_KEY, make_model

RID = "req_0123456789abcdefRID"
#: (wire, scenario, the header its host names the request with)
CASES = [
    ("openai", "reset", "x-request-id"),
    ("openai", "truncated", "x-request-id"),
    ("openai", "overloaded_midstream", "x-request-id"),
    ("openai-responses", "reset", "x-request-id"),
    ("openai-responses", "truncated", "x-request-id"),
    ("anthropic", "reset", "request-id"),
    ("anthropic", "truncated", "request-id"),
    ("anthropic", "overloaded_midstream", "request-id"),
    ("openai-compatible", "truncated", "x-request-id"),
    ("azure", "reset", "apim-request-id"),
    ("azure", "truncated", "apim-request-id"),
]


def _with_header(fixture: F.Fixture, name: str, value: str) -> F.Fixture:
    return dataclasses.replace(fixture, headers={**fixture.headers, name: value})


def _check(error: StreamInterrupted, rid: str) -> None:
    assert error.request_id == rid
    assert f"[request id {rid}]" in str(error)
    assert error.partial is not None  # what was read is still there


@pytest.mark.parametrize(("wire", "scenario", "header"), CASES)
async def test_an_interrupted_stream_names_its_request(
    wire: str, scenario: str, header: str
) -> None:
    fixture = _with_header(F.load(wire, scenario), header, RID)
    for is_async in (False, True):
        with respx.mock() as router:
            router.post(F.URLS[wire]).mock(side_effect=F.Replay(fixture))
            model = make_model(wire)
            with pytest.raises(StreamInterrupted) as info:
                if is_async:
                    async for _ in model.astream("hi"):
                        pass
                else:
                    list(model.stream("hi"))
        _check(info.value, RID)


def test_without_a_request_id_header_there_is_none() -> None:
    with respx.mock() as router:
        router.post(F.URLS["openai"]).mock(side_effect=F.Replay(F.load("openai", "reset")))
        with pytest.raises(StreamInterrupted) as info:
            list(make_model("openai").stream("hi"))
    assert info.value.request_id is None
    assert "request id" not in str(info.value)


def test_the_first_of_the_hosts_headers_wins() -> None:
    """Azure sends both its gateway's ``apim-request-id`` and ``x-request-id``."""
    fixture = _with_header(F.load("azure", "reset"), "apim-request-id", "apim-1")
    fixture = _with_header(fixture, "x-request-id", "xreq-1")
    with respx.mock() as router:
        router.post(F.URLS["azure"]).mock(side_effect=F.Replay(fixture))
        with pytest.raises(StreamInterrupted) as info:
            list(make_model("azure").stream("hi"))
    assert info.value.request_id == "xreq-1"


@pytest.mark.parametrize("scenario", ["reset", "truncated"])
def test_claude_on_bedrock_names_its_aws_request(scenario: str) -> None:
    fixture = _with_header(CR.load(CR.BEDROCK, scenario), "x-amzn-RequestId", RID)
    with respx.mock() as router:
        router.post(CR.URLS[CR.BEDROCK]).mock(side_effect=F.Replay(fixture))
        with pytest.raises(StreamInterrupted) as info:
            list(CR.make_model(CR.BEDROCK).stream("hi"))
    _check(info.value, RID)


@pytest.mark.parametrize("is_async", [False, True])
async def test_normalize_reads_the_raw_streams_request_id(is_async: bool) -> None:
    fixture = _with_header(F.load("openai", "reset"), "x-request-id", RID)
    with respx.mock() as router:
        router.post(F.URLS["openai"]).mock(side_effect=F.Replay(fixture))
        kw: dict[str, Any] = {"api_key": API_KEY, "base_url": F.BASE_URLS["openai"]}
        request: dict[str, Any] = {"model": "gpt-4o", "messages": [], "stream": True}
        with pytest.raises(StreamInterrupted) as info:
            if is_async:
                raw = await openai.AsyncOpenAI(**kw).chat.completions.create(**request)
                async for _ in streamtap.anormalize("openai", raw):
                    pass
            else:
                raw = openai.OpenAI(**kw).chat.completions.create(**request)
                list(streamtap.normalize("openai", raw))
    _check(info.value, RID)
