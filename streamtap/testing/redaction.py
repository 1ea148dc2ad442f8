"""Default redaction: secrets are removed before a cassette is written, not after.

Three layers, because a secret can hide in any of them: headers by name, query
parameters by name, and any text (bodies, header values, error messages) by the
shape of well-known credentials or by a key-like field name followed by a
token-like value. The same detector drives ``streamtap cassette scan``.

Redaction is idempotent and keeps chunk boundaries: a credential split across two
chunks is replaced where it starts and removed from where it continues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx2

from streamtap.testing.model import Chunk, Headers, Interaction, RecordedRequest

REDACTED = "REDACTED"

RedactHook = Callable[[Interaction], Interaction | None]
"""User hook: gets an already redacted interaction, returns it (or ``None`` after editing in place)."""

_KEYISH_WORDS = (
    r"api[-_]?key|secret|password|passwd|access[-_]?token|refresh[-_]?token|auth[-_]?token"
    r"|session[-_]?token|id[-_]?token|bearer[-_]?token|access[-_]?key|private[-_]?key|credentials?"
)
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.ASCII))
    for kind, pattern in (
        ("Anthropic API key", r"\bsk-ant-[A-Za-z0-9_-]{16,}"),
        ("OpenAI-style API key", r"\bsk-(?!ant-)[A-Za-z0-9_-]{16,}"),
        ("bearer token", r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/-]{12,}=*)"),
        ("AWS access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
        ("private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
        (
            "credential in a key-like field",
            rf"(?i)(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{{0,40}}?(?:{_KEYISH_WORDS})[A-Za-z0-9_-]{{0,40}}"
            r"[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?P<secret>[A-Za-z0-9+/=_.:~-]{16,})",
        ),
    )
)

_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",
    }
)
_SECRET_HEADER_SUFFIX = re.compile(
    r"(?i)(?:^|[-_])(?:api[-_]?key|secret|password|token|credentials?|signature)$"
)
_SECRET_QUERY_WORDS = ("key", "token", "secret", "password", "signature", "credential")


@dataclass(frozen=True, slots=True)
class Finding:
    """A credential-looking span of text."""

    kind: str
    start: int
    end: int


def find_credentials(text: str) -> list[Finding]:
    """Credential-looking spans in ``text``, sorted and merged, placeholders excluded."""
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            group = "secret" if "secret" in pattern.groupindex else 0
            start, end = match.span(group)
            if REDACTED not in text[start:end]:
                found.append(Finding(kind, start, end))
    found.sort(key=lambda finding: (finding.start, -finding.end))
    merged: list[Finding] = []
    for finding in found:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


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


def is_secret_header(name: str) -> bool:
    """Whether a header carries a credential by its name alone."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or bool(_SECRET_HEADER_SUFFIX.search(lowered))


def redact_headers(headers: Headers) -> Headers:
    """Secret headers blanked by name; other values scrubbed of credential shapes."""
    return [
        (name, REDACTED if is_secret_header(name) else redact_text(value))
        for name, value in headers
    ]


def _is_secret_query(name: str) -> bool:
    normalized = re.sub(r"[^a-z]", "", name.lower())
    return normalized in ("sig", "auth", "code") or any(
        word in normalized for word in _SECRET_QUERY_WORDS
    )


def redact_url(url: str) -> str:
    """Key-like query parameters and URL passwords replaced; other URLs returned unchanged."""
    parsed = httpx2.URL(url)
    params = parsed.params.multi_items()
    changed = False
    cleaned: list[tuple[str, str]] = []
    for name, value in params:
        if _is_secret_query(name) and value and value != REDACTED:
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
