"""The one credential detector: error messages, server error events, cassettes and scans.

Every place where text leaves streamtap asks this module what looks like a
credential, so a key shape caught in one place is caught in all of them:
``streamtap.errors`` (every typed error's message, and the SDK exception kept as
its cause), the server's ``error`` events, cassette redaction and ``streamtap
cassette scan``. Only the replacement differs: messages keep a key's vendor
prefix and show ``***`` (``sk-proj-***`` says which key was wrong), cassettes
replace the whole credential with ``REDACTED``.

Each pattern finds one shape. Where the credential is only part of the match
(``Bearer <token>``, ``api_key=<value>``), the ``secret`` group marks it; a
``keep`` group marks a vendor prefix inside the credential that messages may show.
A span that already holds a placeholder (``REDACTED``, or only ``*``) is not a
finding, so redaction is idempotent. Values shorter than a real key of their kind are
prose ("a bearer of news", "api_key= or ...") and stay.

This is the bottom layer: it imports nothing from streamtap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MASK",
    "PATTERNS",
    "REDACTED",
    "Finding",
    "find_credentials",
    "is_secret_name",
    "redact_secrets",
]

MASK = "***"
"""What ``redact_secrets`` puts where a credential was."""
REDACTED = "REDACTED"
"""What cassettes put where a credential was."""

_KEYISH_WORDS = (
    r"api[-_]?key|secret|password|passwd|access[-_]?token|refresh[-_]?token|auth[-_]?token"
    r"|session[-_]?token|id[-_]?token|bearer[-_]?token|access[-_]?key|private[-_]?key|credentials?"
)
# Characters vendors use in keys, plus ``*`` and ``.`` of the truncated echoes in
# their error messages ("Incorrect API key provided: sk-proj-****...abcd").
_KEY_TAIL = r"[A-Za-z0-9_\-*.]{3,}"

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.ASCII))
    for kind, pattern in (
        ("Anthropic API key", rf"\b(?P<keep>sk-ant-(?:api\d+-)?){_KEY_TAIL}"),
        ("OpenAI-style API key", rf"\b(?P<keep>sk-(?!ant-)(?:proj-|or-v1-)?){_KEY_TAIL}"),
        ("bearer token", r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"),
        (
            "credential in an API key or authorization field",
            r"(?i)\b(?:api[_-]?key|x-api-key|authorization)\s*[=:]\s*['\"]?"
            r"(?P<secret>[^\s'\",}]{8,})",
        ),
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
"""``(kind, pattern)`` for every credential shape streamtap knows."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A credential-looking span of text."""

    kind: str
    start: int
    end: int


def _spans(match: re.Match[str]) -> tuple[int, int, int]:
    """``(start, masked_start, end)``: the credential, and the part after its vendor prefix."""
    start, end = match.span("secret") if "secret" in match.re.groupindex else match.span()
    masked_start = match.end("keep") if "keep" in match.re.groupindex else start
    return start, masked_start, end


_KEYISH_NAME = re.compile(rf"(?i)(?:{_KEYISH_WORDS}|authorization|(?:^|[_-])token$)")


def is_secret_name(name: str) -> bool:
    """Whether a field or config key carries a credential by its name alone (``api_key``,
    ``openai_api_key``, ``auth_token``...): its value is kept out of stored data."""
    return bool(_KEYISH_NAME.search(name))


def find_credentials(text: str) -> list[Finding]:
    """Credential-looking spans in ``text``, sorted and merged, placeholders excluded."""
    found: list[Finding] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            start, masked_start, end = _spans(match)
            value = text[masked_start:end]
            if REDACTED not in value and value.strip("*"):
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


def _mask(match: re.Match[str]) -> str:
    _, masked_start, end = _spans(match)
    text = match.string
    return text[match.start() : masked_start] + MASK + text[end : match.end()]


def redact_secrets(text: str, *secrets: str | None) -> str:
    """Mask anything credential-like, plus the exact ``secrets`` given, with ``***``.

    Vendors echo parts of a bad key back ("Incorrect API key provided: sk-te…"),
    so every message that leaves streamtap goes through here. A key's vendor
    prefix stays visible (``sk-proj-***``).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for _, pattern in PATTERNS:
        text = pattern.sub(_mask, text)
    return text
