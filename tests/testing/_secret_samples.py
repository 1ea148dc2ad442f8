"""One credential-shaped sample per pattern of streamtap's detector (``streamtap._secrets``).

Each sample is ``(text, secret)``: a line as it could appear in an error message,
a request or a response, and the part of it that must never come out again.
Values are assembled at run time so that no credential-shaped literal sits in
the sources (``streamtap cassette scan`` runs over the repository in CI).
"""

from __future__ import annotations

_TAIL = "A1b2C3d4E5f6G7h8I9j0"
_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"

SAMPLES: dict[str, tuple[str, str]] = {
    "Anthropic API key": ("rejected key " + "sk-" + "ant-" + "api03-" + _TAIL, _TAIL),
    "OpenAI-style API key": ("Incorrect API key provided: " + "sk-" + "proj-" + _TAIL, _TAIL),
    "bearer token": ("sent Bearer " + "eyJhbGciOi" + "J9.x-y_z", "eyJhbGciOi" + "J9.x-y_z"),
    "credential in an API key or authorization field": (
        "api_key=" + "h4nt3r" + "-22x",
        "h4nt3r" + "-22x",
    ),
    "AWS access key id": (
        "id " + "AKIA" + "IOSFODNN7EXAMPLE" + " end",
        "AKIA" + "IOSFODNN7EXAMPLE",
    ),
    "Google API key": (
        "g=" + "AIza" + "SyA1b2C3d4E5f6G7h8I9j0k1L2m3N4o5P6q",
        "AIza" + "SyA1b2C3d4",
    ),
    "GitHub token": ("token " + "ghp_" + _TAIL + "A1b2C3d4E5f6G7h8", "ghp_" + _TAIL),
    "Slack token": ("slack " + "xoxb-" + "1234567890-" + _TAIL, "xoxb-" + "1234567890"),
    "Hugging Face token": ("hf " + "hf_" + _TAIL + "A1b2C3d4E5f6", "hf_" + _TAIL),
    "private key": ("-----BEGIN RSA " + "PRIVATE KEY-----", "BEGIN RSA " + "PRIVATE KEY"),
    "credential in a key-like field": ('{"client_secret": "' + _HEX + '"}', _HEX),
    "Groq API key": ("key " + "gsk_" + _TAIL + " rejected", _TAIL),
    "xAI API key": ("key " + "xai-" + _TAIL + " rejected", _TAIL),
    "Fireworks API key": ("key " + "fw_" + _TAIL, _TAIL),
    "Together API key": ("key " + "tgp_" + "v1_" + _TAIL, _TAIL),
    "Google OAuth access token": ("adc " + "ya29" + "." + _TAIL, _TAIL),
    "JSON Web Token": (
        "jwt " + "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiIxMjM0In0." + _TAIL,
        "zdWIiOiIxMjM0In0." + _TAIL,
    ),
    "basic auth credentials": ("Authorization: " + "Basic " + "dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    "password in a URL": ("dsn https://" + "gw-user:" + "pw" + _TAIL + "@db.example/x", _TAIL),
    "credential in a URL query": ("GET /v1/m?alt=sse&" + "key=" + _TAIL + " 200", _TAIL),
    "AWS SigV4 signature": ("SignedHeaders=host, " + "Signature=" + _HEX + _HEX[:24], _HEX),
    "AWS secret access key": (
        "aws secret " + "wJalrXUtnFEMI" + "/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "credential in a logged header": ("[(b'x-auth-" + "key', b'" + "plain-value')]", "plain-value"),
    "credential in a key or token field": ('{"token": "' + "tok" + _TAIL + '"}', _TAIL),
}
"""Credential kind (as ``find_credentials`` names it) -> ``(text, secret)``."""
