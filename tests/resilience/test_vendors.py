"""Resilience into and out of each vendor added in issue 24: fallback both ways, and
recovery after a mid-stream failure with the continuation capability each wire has.

The vendors are replayed from their recorded fixtures through their real SDKs: respx for
the httpx-based SDKs (openai on Azure / Mistral / xAI, google-genai, the anthropic SDK's
Bedrock and Vertex clients) and the loopback event-stream server for boto3 (Bedrock
Converse), so each attempt is the vendor's own wire.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from langchain_core.messages import AIMessageChunk

import streamtap
from streamtap.providers import StreamtapChatModel
from tests import _fixtures as F
from tests.providers import _anthropic_clouds_replay as CLOUDS
from tests.providers import _bedrock_replay as BEDROCK
from tests.providers import _gemini_replay as GEMINI
from tests.providers._contract import total
from tests.providers.conftest import make_model

NEW = ("gemini", "bedrock", "anthropic-bedrock", "anthropic-vertex", "azure", "mistral", "xai")
#: A retryable failure before the first byte, per vendor (Mistral and xAI answer in OpenAI's
#: error shape, so OpenAI's recorded 500 stands for theirs).
SERVER_ERROR = {
    "gemini": "http_503",
    "bedrock": "http_503",
    "anthropic-bedrock": "http_500",
    "anthropic-vertex": "http_529",
    "azure": "http_500",
    "mistral": "http_500",
    "xai": "http_500",
}
TEXT = "Hello! How can I help you today?"
ONE_ATTEMPT = streamtap.RetryPolicy(max_attempts=1)


class Served:
    """A vendor model and a way to read the request bodies its server received."""

    def __init__(self, model: StreamtapChatModel, bodies: Any) -> None:
        self.model = model
        self.bodies = bodies


def _bodies_of(router: Any, host: str) -> Any:
    return lambda: [
        json.loads(call.request.content) for call in router.calls if call.request.url.host == host
    ]


@contextlib.contextmanager
def serving(router: Any, wire: str, scenario: str) -> Iterator[Served]:
    """A model of ``wire`` whose requests get ``scenario`` (routes added to ``router``)."""
    if wire == "gemini":
        with GEMINI.serving(scenario, router=router) as kwargs:
            model = streamtap.chat_model(GEMINI.SPEC, **kwargs)
            yield Served(model, _bodies_of(router, httpx.URL(GEMINI.BASE_URL).host))
    elif wire == "bedrock":
        with BEDROCK.serving(scenario) as served:
            model = streamtap.chat_model(BEDROCK.SPEC, **served)
            yield Served(model, lambda: [seen.body for seen in served.server.requests])
    elif wire in ("anthropic-bedrock", "anthropic-vertex"):
        route = CLOUDS.mock(router, wire, scenario)
        model = streamtap.chat_model(CLOUDS.SPECS[wire], **CLOUDS.kwargs_for(wire))
        yield Served(model, lambda: [json.loads(c.request.content) for c in route.calls])
    else:
        if scenario.startswith("http_") and wire in ("mistral", "xai", "azure"):
            fixture = F.load("openai", scenario)
            route = router.post(F.URLS[wire]).mock(side_effect=F.Replay(fixture))
        else:
            route = F.mock(router, wire, scenario)
        yield Served(make_model(wire), lambda: [json.loads(c.request.content) for c in route.calls])


def _attempts(chunks: list[AIMessageChunk]) -> list[tuple[str, str | None]]:
    final = total(chunks)
    return [(a["provider"], a["error"]) for a in final.response_metadata["attempts"]]


@pytest.mark.parametrize("wire", NEW)
def test_fallback_out_of_the_vendor(wire: str) -> None:
    with (
        respx.mock(assert_all_called=False) as router,
        serving(router, wire, SERVER_ERROR[wire]) as primary,
    ):
        F.mock(router, "openai", "text")
        model = streamtap.resilient(primary.model, make_model("openai"), retry=ONE_ATTEMPT)
        chunks = list(model.stream("hi"))
    message = total(chunks)
    assert message.content == TEXT
    attempts = _attempts(chunks)
    assert attempts[-1] == ("openai", None) and len(attempts) == 2
    assert attempts[0][1] in ("ServerError", "OverloadedError")
    assert message.response_metadata["model_provider"] == "openai"


@pytest.mark.parametrize("wire", NEW)
async def test_fallback_into_the_vendor(wire: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        F.mock(router, "anthropic", "http_500")
        with serving(router, wire, "text") as fallback:
            model = streamtap.resilient(make_model("anthropic"), fallback.model, retry=ONE_ATTEMPT)
            chunks = [c async for c in model.astream("hi")]
    message = total(chunks)
    assert message.content == TEXT
    assert _attempts(chunks) == [("anthropic", "ServerError"), (fallback.model.provider_name, None)]


@pytest.mark.parametrize("wire", [w for w in NEW if w not in ("mistral", "xai")])
def test_a_failure_mid_stream_falls_back_with_the_partial_kept(wire: str) -> None:
    """The vendor dies after three text deltas: the fallback's answer replaces it, and what
    the user already saw is accounted for (a stream reset names the discarded message)."""
    with (
        respx.mock(assert_all_called=False) as router,
        serving(router, wire, "reset") as primary,
    ):
        F.mock(router, "openai", "text")
        model = streamtap.resilient(
            primary.model, make_model("openai"), retry=ONE_ATTEMPT, recovery="restart"
        )
        chunks = list(model.stream("hi"))
    seen = "".join(c.content for c in chunks if isinstance(c.content, str))
    assert seen.startswith("Hello! How") and seen.endswith(TEXT)
    resets = [
        c.response_metadata["stream_reset"] for c in chunks if "stream_reset" in c.response_metadata
    ]
    assert len(resets) == 1
    assert _attempts(chunks)[-1] == ("openai", None)


@pytest.mark.parametrize("continuation", [None, "prefill"])
@pytest.mark.parametrize("wire", NEW)
def test_recovery_continues_on_the_vendor_only_when_its_wire_can(
    wire: str, continuation: str | None
) -> None:
    """OpenAI dies mid-answer; the vendor takes over with ``recovery="continue"``: a wire
    that can continue a partial answer is sent it as a trailing assistant turn in its own
    request format, one that cannot restarts the answer."""
    with respx.mock(assert_all_called=False) as router:
        F.mock(router, "openai", "reset")
        with serving(router, wire, "text") as fallback:
            vendor = fallback.model.fresh_copy(continuation=continuation)
            style = vendor.continuation_style()
            assert style == (continuation or "none")  # what streamtap knows of these models
            model = streamtap.resilient(
                make_model("openai"), vendor, retry=ONE_ATTEMPT, recovery="continue"
            )
            chunks = list(model.stream("hi"))
            requests = fallback.bodies()
    final = total(chunks).response_metadata
    modes = [a["mode"] for a in final["attempts"]]
    assert modes[0] == "fresh"
    (body,) = requests
    turns = body.get("contents") or body["messages"]  # Gemini's contents, everyone else's messages
    roles = [turn["role"] for turn in turns]
    if style == "none":
        assert modes[1] != "continue"
        assert roles == ["user"]
    else:
        assert modes[1] == "continue"
        assert roles == ["user", "model" if wire == "gemini" else "assistant"]
        assert "Hello! How" in json.dumps(turns[-1])  # the three deltas the user saw
