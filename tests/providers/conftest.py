"""Shared helpers for the adapter tests: models pointed at respx-replayed fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import respx

import streamtap
from streamtap.providers import StreamtapChatModel
from tests import _fixtures as F

SPECS = {
    "openai": "openai:gpt-4o",
    "openai-responses": "openai-responses:gpt-5",
    "anthropic": "anthropic:claude-sonnet-4-6",
    "openai-compatible": "openai-compatible:qwen3",
    "azure": "azure:gpt-4o",
    "mistral": "mistral:mistral-small-latest",
    "xai": "xai:grok-4",
}
#: Planted key: tests assert it never appears in errors.
API_KEY = "sk-test-PLANTEDsecret0123456789abcdef"


def make_model(wire: str, **kwargs: Any) -> StreamtapChatModel:
    kw: dict[str, Any] = {"api_key": API_KEY, "max_retries": 0, **kwargs}
    if wire == "openai-compatible":
        kw.setdefault("base_url", F.BASE_URLS[wire])
    if wire == "azure":
        kw.setdefault("azure_endpoint", "https://res.openai.azure.com")
    return streamtap.chat_model(SPECS[wire], **kw)


def sse_cases() -> list[tuple[str, str]]:
    return [
        (wire, scenario)
        for wire in F.WIRES
        for scenario in F.scenarios(wire)
        if F.load(wire, scenario).is_sse
    ]


def error_cases() -> list[tuple[str, str]]:
    return [
        (wire, scenario)
        for wire in F.WIRES
        for scenario in F.scenarios(wire)
        if not F.load(wire, scenario).is_sse
    ]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _no_local_server_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Spec defaults must not depend on a `streamtap local start` server on the developer's machine."""
    monkeypatch.setenv("STREAMTAP_CACHE_DIR", str(tmp_path / "cache"))
