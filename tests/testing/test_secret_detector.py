"""One credential detector: errors, cassette redaction and ``cassette scan`` catch the same shapes.

The server's error events are checked against the same samples in
``tests/server/test_error_secrets.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamtap import errors
from streamtap._secrets import PATTERNS, find_credentials, redact_secrets
from streamtap.cli import main
from streamtap.testing import (
    Chunk,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamError,
    redact_interaction,
)
from streamtap.testing.scan import scan_text
from tests.testing._secret_samples import SAMPLES

KINDS = [kind for kind, _ in PATTERNS]


def test_every_pattern_has_a_sample_and_the_sample_is_its_shape() -> None:
    assert sorted(SAMPLES) == sorted(KINDS)
    for kind, pattern in PATTERNS:
        text, secret = SAMPLES[kind]
        assert pattern.search(text), kind
        assert secret in text


@pytest.mark.parametrize("kind", KINDS)
def test_errors_mask_every_shape(kind: str) -> None:
    text, secret = SAMPLES[kind]
    assert errors.redact_secrets is redact_secrets
    assert secret not in redact_secrets(text)
    error = errors.ServerError(f"upstream said: {text}", provider="openai", model="m")
    for shown in (str(error), repr(error), error.detail):
        assert secret not in shown
    mapped = errors.from_stream_error(
        {"type": "server_error", "message": text}, provider="anthropic", model="m"
    )
    assert secret not in str(mapped)


@pytest.mark.parametrize("kind", KINDS)
def test_cassette_redaction_removes_every_shape(kind: str) -> None:
    text, secret = SAMPLES[kind]
    interaction = Interaction(
        RecordedRequest(
            method="POST",
            url="https://api.example/v1/chat",
            headers=[("x-note", text)],
            body=f'{{"q": "{text}"}}'.encode(),
        ),
        RecordedResponse(
            status=200,
            headers=[("x-note", text)],
            chunks=[Chunk(offset=0.1, data=f"data: {text}\n\n".encode())],
            error=StreamError(type="RemoteProtocolError", message=text, offset=0.2),
        ),
    )
    redacted = redact_interaction(interaction)
    request, response = redacted.request, redacted.response
    assert response.error is not None
    stored = [
        request.body.decode(),
        *(value for _, value in request.headers),
        *(value for _, value in response.headers),
        *(chunk.data.decode() for chunk in response.chunks),
        response.error.message,
    ]
    for value in stored:
        assert secret not in value
        assert find_credentials(value) == []


@pytest.mark.parametrize("kind", KINDS)
def test_scan_reports_every_shape(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, secret = SAMPLES[kind]
    (finding,) = scan_text(Path("notes.txt"), f"first line\n{text}\n")
    assert finding.line == 2
    assert secret not in finding.preview
    path = tmp_path / "notes.txt"
    path.write_text(f"{text}\n", encoding="utf-8")
    assert main(["cassette", "scan", str(path)]) == 1
    assert secret not in capsys.readouterr().err
