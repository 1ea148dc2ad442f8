"""OpenAI Responses: in-stream ``error`` events (both shapes) and ``response.failed``.

The fault server speaks Chat Completions and Anthropic; the Responses wire is
covered here by replaying the recorded fixtures through respx, cut so that the
error arrives before the first content event, or after two of them.
"""

from __future__ import annotations

import httpx
import pytest
import respx

import streamtap
from tests import _fixtures as F
from tests.resilience.conftest import API_KEY, FAST

SCENARIOS = ("error_nested", "error_flat", "failed")
CONTENT_EVENTS = (
    b"event: response.output_item.added",
    b"event: response.content_part.added",
    b"event: response.output_text.delta",
)


def _before_content(scenario: str) -> bytes:
    """The fixture with every content event removed: the error comes first."""
    body = F.load("openai-responses", scenario).body
    assert body is not None
    events = [e for e in body.split(b"\n\n") if e.strip()]
    return b"".join(e + b"\n\n" for e in events if not e.startswith(CONTENT_EVENTS))


def _sse(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def _model(recovery: str) -> streamtap.resilience.ResilientChatModel:
    inner = streamtap.chat_model(
        "openai-responses:gpt-5", api_key=API_KEY, base_url=F.BASE_URLS["openai-responses"]
    )
    return streamtap.resilient(inner, retry=FAST, recovery=recovery)  # type: ignore[arg-type]


def _text() -> bytes:
    body = F.load("openai-responses", "text").body
    assert body is not None
    return body


@pytest.mark.parametrize("scenario", SCENARIOS)
@respx.mock
def test_error_before_first_content_is_retried(scenario: str) -> None:
    route = respx.post(F.URLS["openai-responses"]).mock(
        side_effect=[_sse(_before_content(scenario)), _sse(_text())]
    )
    expected = F.expected("openai-responses", "text")["text"]
    chunks = list(_model("raise").stream("hi"))
    assert "".join(str(c.content) for c in chunks) == expected
    attempts = chunks[-1].response_metadata["attempts"]
    assert [a["error"] for a in attempts] == ["ServerError", None]
    assert route.call_count == 2


@pytest.mark.parametrize("scenario", SCENARIOS)
@respx.mock
async def test_error_after_content_cannot_be_continued_so_it_restarts(scenario: str) -> None:
    body = F.load("openai-responses", scenario).body
    assert body is not None
    respx.post(F.URLS["openai-responses"]).mock(side_effect=[_sse(body), _sse(_text())])
    chunks = [c async for c in _model("continue").astream("hi")]
    ids = list(dict.fromkeys(c.id for c in chunks))
    assert len(ids) == 2
    new_first = next(c for c in chunks if c.id == ids[1])
    assert new_first.response_metadata["stream_reset"]["discarded_id"] == ids[0]
    final = chunks[-1].response_metadata["attempts"]
    assert [(a["mode"], a["error"]) for a in final] == [("fresh", "ServerError"), ("restart", None)]
