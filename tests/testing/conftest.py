"""Fixtures for the cassette tests: a loopback SSE server and planted secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testing.sse_server import SSEServer, serve_sse

# Built at run time so that no credential-shaped literal sits in the sources.
OPENAI_KEY = "sk-" + "test-planted-secret-" + "openai0123456789"
ANTHROPIC_KEY = "sk-" + "ant-api03-planted-" + "secret0123456789"
QUERY_SECRET = "qs" + "-planted-0123456789abcdef"
HEADER_SECRET = "hs" + "-planted-0123456789abcdef"
BODY_SECRET = "bs" + "-planted-0123456789abcdef"
COOKIE_SECRET = "cookie" + "-planted-0123456789abcdef"
ORG_SECRET = "org-" + "planted-0123456789abcdef"
ALL_SECRETS = (
    OPENAI_KEY,
    ANTHROPIC_KEY,
    QUERY_SECRET,
    HEADER_SECRET,
    BODY_SECRET,
    COOKIE_SECRET,
    ORG_SECRET,
)


@pytest.fixture
def sse_server() -> Iterator[SSEServer]:
    with serve_sse(
        {"set-cookie": f"session={COOKIE_SECRET}; Path=/", "openai-organization": ORG_SECRET}
    ) as server:
        yield server
