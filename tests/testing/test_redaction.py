"""Default redaction and credential detection."""

from __future__ import annotations

import pytest

from streamtap.testing import REDACTED, Chunk, Interaction, RecordedRequest, RecordedResponse
from streamtap.testing.redaction import (
    find_credentials,
    redact_bytes_chunks,
    redact_headers,
    redact_interaction,
    redact_text,
    redact_url,
)

# Credential-shaped test values, assembled so the sources hold no literal key.
OPENAI = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0"
ANTHROPIC = "sk-" + "ant-" + "api03-" + "A1b2C3d4E5f6G7h8I9j0"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0k1L2m3N4o5P6q"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6G7h8"
HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key={OPENAI}", f"key={REDACTED}"),
        (f"using {ANTHROPIC} now", f"using {REDACTED} now"),
        ("Authorization: Bearer abcdef123456789xyz", f"Authorization: Bearer {REDACTED}"),
        (f"id {AWS} end", f"id {REDACTED} end"),
        (f"g={GOOGLE}", f"g={REDACTED}"),
        (f"token {GITHUB}", f"token {REDACTED}"),
        (f'{{"aws_secret_access_key": "{HEX}"}}', f'{{"aws_secret_access_key": "{REDACTED}"}}'),
        (f"client_secret = '{HEX}'", f"client_secret = '{REDACTED}'"),
        ("-----BEGIN RSA PRIVATE KEY-----", REDACTED),
    ],
)
def test_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert find_credentials(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"usage": {"input_tokens": 12, "output_tokens": 9}}',
        '"max_tokens": 1024, "token": "antidisestablishmentarianism"',
        "task-abcdefghijklmnopqrstuvwxyz",
        f'{{"api_key": "{REDACTED}", "authorization": "Bearer {REDACTED}"}}',
        '"id": "chatcmpl-hnqCkAO9VYr5f5UcVJ3eODHkrqAa8", "system_fingerprint": "fp_cbf1785567"',
        '"signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxHwCxMaB6m2kYqBnRCkQ"',
    ],
)
def test_ordinary_content_and_placeholders_are_left_alone(text: str) -> None:
    assert find_credentials(text) == []
    assert redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    text = f'{{"k": "{OPENAI}", "h": "Bearer abcdef123456789xyz", "password": "{HEX}"}}'
    once = redact_text(text)
    assert redact_text(once) == once
    assert find_credentials(once) == []


def test_a_secret_split_across_chunks_is_removed_and_boundaries_kept() -> None:
    pieces = [b'data: {"k": "', OPENAI[:10].encode(), OPENAI[10:].encode() + b'"}\n\n', b"tail"]
    redacted = redact_bytes_chunks(pieces)
    assert len(redacted) == len(pieces)
    assert b"".join(redacted) == f'data: {{"k": "{REDACTED}"}}\n\ntail'.encode()
    assert redacted[0] == b'data: {"k": "'
    assert redacted[3] == b"tail"


def test_non_utf8_bytes_survive_redaction() -> None:
    pieces = [b"\xff\xfe binary " + OPENAI.encode() + b" \x80"]
    assert redact_bytes_chunks(pieces) == [b"\xff\xfe binary " + REDACTED.encode() + b" \x80"]


def test_headers_by_name_and_by_value() -> None:
    headers = [
        ("authorization", "Basic dXNlcjpwYXNz"),
        ("x-api-key", "short"),
        ("api-key", "whatever"),
        ("openai-organization", "org-123"),
        ("openai-project", "proj_123"),
        ("cookie", "a=b"),
        ("set-cookie", "s=1"),
        ("x-goog-api-key", "x"),
        ("x-amz-security-token", "x"),
        ("x-custom", f"carries {OPENAI}"),
        ("x-ratelimit-remaining-tokens", "1000"),
        ("content-type", "application/json"),
    ]
    redacted = dict(redact_headers(headers))
    for name in list(redacted)[:9]:
        assert redacted[name] == REDACTED, name
    assert redacted["x-custom"] == f"carries {REDACTED}"
    assert redacted["x-ratelimit-remaining-tokens"] == "1000"
    assert redacted["content-type"] == "application/json"


def test_key_like_query_parameters_and_url_passwords() -> None:
    url = "https://x.example/v1/chat?api-version=2024-10-21&api-key=abc&key=k&sig=s&x=1"
    assert redact_url(url) == (
        "https://x.example/v1/chat?api-version=2024-10-21&api-key=REDACTED&key=REDACTED"
        "&sig=REDACTED&x=1"
    )
    assert redact_url("https://user:pw@x.example/a") == "https://user:REDACTED@x.example/a"
    plain = "https://api.openai.com/v1/chat/completions"
    assert redact_url(plain) == plain


def test_whole_interaction_including_error_message() -> None:
    from streamtap.testing import StreamError

    interaction = Interaction(
        request=RecordedRequest(
            "POST",
            f"https://x.example/v1?token={HEX}",
            [("authorization", f"Bearer {OPENAI}")],
            f'{{"api_key": "{HEX}"}}'.encode(),
        ),
        response=RecordedResponse(
            200,
            [("set-cookie", "a")],
            chunks=[Chunk(0.1, f"data: {OPENAI}\n\n".encode())],
            error=StreamError("RemoteProtocolError", f"failed for {OPENAI}", 0.2),
        ),
    )
    clean = redact_interaction(interaction)
    text = repr(clean)
    assert OPENAI not in text
    assert HEX not in text
    assert clean.response.chunks[0].offset == 0.1
    assert interaction.request.body == f'{{"api_key": "{HEX}"}}'.encode()  # input untouched
