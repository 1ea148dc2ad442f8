"""Default redaction: secrets are removed before a cassette is written, not after.

Three layers, because a secret can hide in any of them: headers by name, query
parameters by name, and any text (bodies, header values, error messages) by the
shape of well-known credentials or by a key-like field name followed by a
token-like value. The detector is streamtap's one (``streamtap._secrets``): the
same shapes are masked in error messages and the server's error events, and
``streamtap cassette scan`` reports them. Which headers are credentials by name
(``is_secret_header``: ``Authorization``, ``api-key``, ``X-Auth-Key``, a model's
``secret_headers=``...) is decided there too.

Redaction is idempotent and keeps chunk boundaries: a credential split across two
chunks is replaced where it starts and removed from where it continues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx2

from streamtap._secrets import (
    REDACTED,
    Finding,
    find_credentials,
    is_secret_header,
    is_secret_query,
)
from streamtap.testing.model import Chunk, Headers, Interaction, RecordedRequest

__all__ = [
    "REDACTED",
    "Finding",
    "RedactHook",
    "apply_hook",
    "find_credentials",
    "is_secret_header",
    "redact_bytes_chunks",
    "redact_headers",
    "redact_interaction",
    "redact_request",
    "redact_text",
    "redact_url",
]

RedactHook = Callable[[Interaction], Interaction | None]
"""User hook: gets an already redacted interaction, returns it (or ``None`` after editing in place)."""


def redact_text(text: str) -> str:
    """``text`` with every credential-looking span replaced by ``REDACTED``."""
    return _rewrite([text], text, find_credentials(text))[0]


def redact_bytes_chunks(pieces: list[bytes]) -> list[bytes]:
    """Redact a body given as pieces, keeping one output piece per input piece.

    Latin-1 maps bytes one to one onto code points, so spans found in the decoded
    text are byte spans, and bodies that are not UTF-8 survive unchanged.
    """
    texts = [piece.decode("latin-1") for piece in pieces]
    joined = "".join(texts)
    findings = find_credentials(joined)
    if not findings:
        return list(pieces)
    return [text.encode("latin-1") for text in _rewrite(texts, joined, findings)]


def _rewrite(texts: list[str], joined: str, findings: list[Finding]) -> list[str]:
    output: list[str] = []
    index = 0
    skip_until = 0
    start = 0
    for text in texts:
        end = start + len(text)
        parts: list[str] = []
        cursor = max(start, skip_until)
        while index < len(findings) and findings[index].start < end:
            finding = findings[index]
            if cursor < finding.start:
                parts.append(joined[cursor : finding.start])
            parts.append(REDACTED)
            cursor = max(cursor, finding.end)
            skip_until = finding.end
            index += 1
        if cursor < end:
            parts.append(joined[cursor:end])
        output.append("".join(parts))
        start = end
    return output


def redact_headers(headers: Headers) -> Headers:
    """Secret headers blanked by name; other values scrubbed of credential shapes."""
    return [
        (name, REDACTED if is_secret_header(name) else redact_text(value))
        for name, value in headers
    ]


def redact_url(url: str) -> str:
    """Key-like query parameters and URL passwords replaced; other URLs returned unchanged."""
    parsed = httpx2.URL(url)
    params = parsed.params.multi_items()
    changed = False
    cleaned: list[tuple[str, str]] = []
    for name, value in params:
        if is_secret_query(name) and value and value != REDACTED:
            cleaned.append((name, REDACTED))
            changed = True
        else:
            redacted_value = redact_text(value)
            changed = changed or redacted_value != value
            cleaned.append((name, redacted_value))
    if changed:
        parsed = parsed.copy_with(params=cleaned)
    if parsed.password and parsed.password != REDACTED:
        parsed = parsed.copy_with(username=parsed.username, password=REDACTED)
        changed = True
    return str(parsed) if changed else url


def redact_request(request: RecordedRequest) -> RecordedRequest:
    """The default redaction of a request (used for storage and for matching)."""
    return replace(
        request,
        url=redact_url(request.url),
        headers=redact_headers(request.headers),
        body=redact_bytes_chunks([request.body])[0],
    )


def redact_interaction(interaction: Interaction) -> Interaction:
    """The default redaction of a whole interaction."""
    response = interaction.response
    pieces = redact_bytes_chunks([chunk.data for chunk in response.chunks])
    error = response.error
    return Interaction(
        request=redact_request(interaction.request),
        response=replace(
            response,
            headers=redact_headers(response.headers),
            chunks=[
                Chunk(offset=chunk.offset, data=data)
                for chunk, data in zip(response.chunks, pieces, strict=True)
            ],
            error=None if error is None else replace(error, message=redact_text(error.message)),
        ),
    )


def apply_hook(interaction: Interaction, hook: RedactHook | None) -> Interaction:
    """Run the user's hook on a copy-safe interaction, accepting in-place edits."""
    if hook is None:
        return interaction
    result = hook(interaction)
    if result is None:
        return interaction
    if not isinstance(result, Interaction):
        raise TypeError(
            f"redact hook must return an Interaction or None, got {type(result).__name__}"
        )
    return result
