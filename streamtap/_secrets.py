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

import functools
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MASK",
    "PATTERNS",
    "REDACTED",
    "Finding",
    "find_credentials",
    "is_secret_header",
    "is_secret_name",
    "is_secret_query",
    "known_secrets",
    "redact_headers",
    "redact_secrets",
    "remember_secret_headers",
    "remember_secrets",
]

MASK = "***"
"""What ``redact_secrets`` puts where a credential was."""
REDACTED = "REDACTED"
"""What cassettes put where a credential was."""

_KEYISH_WORDS = (
    r"api[-_]?key|secret|password|passwd|access[-_]?token|refresh[-_]?token|auth[-_]?token"
    r"|session[-_]?token|id[-_]?token|bearer[-_]?token|access[-_]?key|private[-_]?key|credentials?"
    r"|security[-_]?token|auth[-_]?key|subscription[-_]?key"
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
        ("Groq API key", r"\b(?P<keep>gsk_)[A-Za-z0-9]{20,}"),
        ("xAI API key", r"\b(?P<keep>xai-)[A-Za-z0-9]{20,}"),
        ("Fireworks API key", r"\b(?P<keep>fw_)[A-Za-z0-9]{20,}"),
        ("Together API key", r"\b(?P<keep>tgp_v1_)[A-Za-z0-9_-]{20,}"),
        ("Google OAuth access token", r"\b(?P<keep>ya29\.)[A-Za-z0-9_-]{20,}"),
        ("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        (
            # The encoded ``user:password`` has capitals and small letters (or digits);
            # "basic understanding" is prose.
            "basic auth credentials",
            r"\b[Bb][Aa][Ss][Ii][Cc]\s+(?P<secret>(?=[A-Za-z0-9+/]*[A-Z])"
            r"(?=[A-Za-z0-9+/]*[a-z0-9])[A-Za-z0-9+/]{8,}={0,2})",
        ),
        ("password in a URL", r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@?#]*:(?P<secret>[^\s/@?#]+)@"),
        (
            # ?key=, &access_token=, X-Amz-Signature=...; a value with a letter in it
            # (``max_tokens=1024`` is not a credential).
            "credential in a URL query",
            r"(?i)[?&;](?:[A-Za-z0-9_.-]*(?:key|token|secret|password|passwd|signature"
            r"|credential|auth)[A-Za-z0-9_.-]*|sig)=(?P<secret>(?=[^&\s#\"'<>]*[A-Za-z])"
            r"[^&\s#\"'<>]{4,})",
        ),
        ("AWS SigV4 signature", r"(?i)\bsignature=(?P<secret>[0-9a-f]{64})\b"),
        (
            "AWS secret access key",
            r"(?i)aws.{0,40}?(?<![A-Za-z0-9+/])(?P<secret>[A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])",
        ),
        (
            # A header as httpcore logs it: (b'set-cookie', b'session=...')
            "credential in a logged header",
            r"(?i)\(b'(?:[a-z0-9]+-)*(?:auth|authorization|key|apikey|token|secret|signature"
            r"|password|passwd|credentials?|cookie)(?:-[a-z0-9]+)*',\s*b'(?P<secret>[^']{4,})'\)",
        ),
        (
            # A bare ``key`` / ``token`` field or header (``"token": "...``, ``X-Auth-Key:``,
            # ``key=...``) whose value looks generated: letters and digits, 16 or more.
            # Words ("token": "antidisestablishmentarianism") and counts stay.
            "credential in a key or token field",
            r"(?i)(?<![A-Za-z0-9_.-])(?:[A-Za-z0-9_.-]{0,40}[-_])?(?:key|token)[\"']?[ \t]*[:=]"
            r"[ \t]*[\"']?(?P<secret>(?=[^\s\"',}]*[0-9])(?=[^\s\"',}]*[A-Za-z])"
            r"[A-Za-z0-9+/=_.:~-]{16,})",
        ),
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


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field or config key carries a credential by its name alone (``api_key``,
    ``openai_api_key``, ``auth_token``...): its value is kept out of stored data."""
    return bool(_KEYISH_NAME.search(name))


# -- what the user configured as a credential ------------------------------------------
# A key with no vendor shape (Azure's 32 hex digits, a gateway's X-Auth-Key, a Mistral key)
# is only recognizable because the user handed it over as one. Chat models remember the
# values of their credentials here (api_key, secret headers, a base_url password), and
# every redaction masks them wherever they show up. Values are only ever added: masking
# another model's key in this process hides nothing anyone should see.
_KNOWN_SECRETS: set[str] = set()
_SECRET_HEADER_NAMES: set[str] = set()
_MIN_KNOWN = 8  # shorter values would mask ordinary words


def remember_secrets(*values: str | None) -> None:
    """Mask these exact values (8 characters or more) everywhere from now on."""
    _KNOWN_SECRETS.update(v for v in values if v and len(v) >= _MIN_KNOWN)


def known_secrets() -> frozenset[str]:
    """The exact values :func:`remember_secrets` was given."""
    return frozenset(_KNOWN_SECRETS)


def remember_secret_headers(*names: str) -> None:
    """Treat these header names as credentials (a model's ``secret_headers=``)."""
    _SECRET_HEADER_NAMES.update(n.lower() for n in names if n)


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
# A header is a credential when one word of its name says so: X-Auth-Key, X-Amz-Security-Token,
# X-Signature, X-Client-Secret. Plurals are counts (x-ratelimit-remaining-tokens).
_SECRET_HEADER_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "authentication",
        "key",
        "apikey",
        "token",
        "secret",
        "signature",
        "password",
        "passwd",
        "credential",
        "credentials",
        "cookie",
    }
)


def is_secret_header(name: str) -> bool:
    """Whether a header carries a credential by its name alone (``Authorization``,
    ``api-key``, ``X-Auth-Key``, ``X-Amz-Security-Token``, a model's ``secret_headers=``)."""
    lowered = name.lower()
    if lowered in _SECRET_HEADERS or lowered in _SECRET_HEADER_NAMES:
        return True
    return any(word in _SECRET_HEADER_WORDS for word in re.split(r"[-_ .]", lowered))


_SECRET_QUERY_WORDS = ("key", "token", "secret", "password", "signature", "credential")


def is_secret_query(name: str) -> bool:
    """Whether a URL query parameter carries a credential by its name alone (``key``,
    ``api-key``, ``access_token``, ``X-Amz-Signature``, ``sig``, ``code``...)."""
    normalized = re.sub(r"[^a-z]", "", name.lower())
    return normalized in ("sig", "auth", "code") or any(
        word in normalized for word in _SECRET_QUERY_WORDS
    )


def redact_headers(headers: Any, *, mask: str = MASK) -> dict[str, str]:
    """A copy of ``headers`` (a mapping or pairs) with secret headers' values replaced by
    ``mask`` and every other value passed through :func:`redact_secrets`."""
    items = headers.items() if hasattr(headers, "items") else headers
    return {
        str(name): mask if is_secret_header(str(name)) else redact_secrets(str(value))
        for name, value in items
    }


def find_credentials(text: str) -> list[Finding]:
    """Credential-looking spans in ``text``, sorted and merged, placeholders excluded."""
    found: list[Finding] = []
    for secret in _KNOWN_SECRETS:
        start = text.find(secret)
        while start != -1:
            found.append(Finding("configured credential", start, start + len(secret)))
            start = text.find(secret, start + len(secret))
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
    if MASK in text[masked_start:end]:  # masked already, by a narrower shape (``sk-proj-***``)
        return match.group(0)
    return text[match.start() : masked_start] + MASK + text[end : match.end()]


def redact_secrets(text: str, *secrets: str | None) -> str:
    """Mask anything credential-like, plus the exact ``secrets`` given, with ``***``.

    Vendors echo parts of a bad key back ("Incorrect API key provided: sk-te…"),
    so every message that leaves streamtap goes through here. A key's vendor
    prefix stays visible (``sk-proj-***``).
    """
    for secret in (*secrets, *_KNOWN_SECRETS):
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for _, pattern in PATTERNS:
        text = pattern.sub(_mask, text)
    return text
