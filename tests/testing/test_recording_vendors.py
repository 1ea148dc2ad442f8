"""Cassettes of the vendors of issue 24 whose SDKs speak httpx: Gemini (google-genai, on
streamtap's httpx client), Azure OpenAI (the openai SDK's Azure client) and Claude on Bedrock
(the anthropic SDK's Bedrock client, SigV4-signed). Each is recorded against the loopback
server through streamtap's chat model, with every credential the vendor uses planted, then
replayed without the server. Bedrock Converse (boto3, aiobotocore) is in
test_recording_bedrock.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import streamtap
from streamtap.testing import REDACTED, load_interactions, use_cassette
from tests.testing.sse_server import SSEServer

GOOGLE_KEY = "AIza" + "SyPLANTEDcassette0123456789abcdefghi"
AZURE_KEY = "azure" + "planted0123456789abcdef0123456789"
AWS_KEY_ID = "AKIA" + "PLANTED012345678"
AWS_SECRET = "planted" + "AWSsecret0123456789abcdefghijklmnopq"
AWS_TOKEN = "IQoJb3JpZ2luX2VjE" + "PLANTEDsessiontoken0123456789abcdefghij"
TEXT = "Hello! How can I help you today?"


def _model(vendor: str, server: SSEServer) -> Any:
    if vendor == "gemini":
        return streamtap.chat_model(
            "gemini:gemini-2.5-flash", api_key=GOOGLE_KEY, base_url=server.base_url, max_retries=0
        )
    if vendor == "azure":
        return streamtap.chat_model(
            "azure:gpt-4o", api_key=AZURE_KEY, azure_endpoint=server.base_url, max_retries=0
        )
    return streamtap.chat_model(
        "anthropic-bedrock:anthropic.claude-sonnet-4-6-v1:0",
        base_url=server.base_url,
        aws_region="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
        aws_session_token=AWS_TOKEN,
        max_retries=0,
    )


#: What the live request must carry (the real credential reached the server) and where the
#: cassette must hold REDACTED instead.
SENT = {
    "gemini": ("x-goog-api-key", GOOGLE_KEY),
    "azure": ("api-key", AZURE_KEY),
    "anthropic-bedrock": ("x-amz-security-token", AWS_TOKEN),
}


@pytest.mark.parametrize("vendor", ["gemini", "azure", "anthropic-bedrock"])
def test_record_redacts_the_vendors_credentials_then_replays(
    vendor: str, sse_server: SSEServer, tmp_path: Path
) -> None:
    path = tmp_path / f"{vendor}.json"
    with use_cassette(path, record_mode="once") as cassette:
        live = list(_model(vendor, sse_server).stream("hi"))
    assert len(cassette.recorded) == 1
    assert "".join(c.content for c in live if isinstance(c.content, str)) == TEXT
    header, secret = SENT[vendor]
    sent = sse_server.received[-1]
    assert sent.headers[header] == secret  # the live request carried the real credential

    raw = path.read_text(encoding="utf-8")
    for planted in (GOOGLE_KEY, AZURE_KEY, AWS_KEY_ID, AWS_SECRET, AWS_TOKEN):
        assert planted not in raw
    (interaction,) = load_interactions(path)
    assert interaction.request.header(header) == REDACTED
    if vendor == "anthropic-bedrock":
        # the SigV4 Authorization header names the key id and carries the signature
        assert re.match(r"AWS4-HMAC-SHA256 ", sent.headers["authorization"])
        assert interaction.request.header("authorization") == REDACTED

    received = len(sse_server.received)
    with use_cassette(path) as replay:
        replayed = list(_model(vendor, sse_server).stream("hi"))
    assert replay.play_count == 1 and len(sse_server.received) == received
    assert [(c.content, c.tool_call_chunks, c.usage_metadata) for c in replayed] == [
        (c.content, c.tool_call_chunks, c.usage_metadata) for c in live
    ]
