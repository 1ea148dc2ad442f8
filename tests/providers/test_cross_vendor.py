"""The normalization contract: the same logical answer sums to the same message whatever
the vendor (ids and vendor-only metadata aside)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
import respx

from tests import _fixtures as F
from tests.providers.conftest import make_model, sse_cases, total


def _comparable(wire: str, scenario: str) -> dict[str, Any]:
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        message = total(list(make_model(wire).stream("hi")))
    content = message.content
    if isinstance(content, list):
        content = [
            {k: v for k, v in part.items() if k != "extras"} if isinstance(part, dict) else part
            for part in content
        ]
    return {
        "content": content,
        "tool_calls": [(c["name"], c["args"]) for c in message.tool_calls],
        "tool_call_chunks": [(c["index"], c["name"], c["args"]) for c in message.tool_call_chunks],
        "invalid_tool_calls": message.invalid_tool_calls,
        "usage": message.usage_metadata,
        "finish_reason": message.response_metadata["finish_reason"],
        "chunk_position": message.chunk_position,
        "additional_kwargs": message.additional_kwargs,
    }


def _groups() -> dict[str, list[tuple[str, str]]]:
    """Fixtures grouped by the logical answer they encode."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for wire, scenario in sse_cases():
        want = F.expected(wire, scenario)
        if want["ending"] == "complete" and not want["redacted_thinking"]:
            groups[json.dumps(want, sort_keys=True)].append((wire, scenario))
    return {members[0][1]: members for members in groups.values() if len(members) > 1}


GROUPS = _groups()


def test_the_main_scenarios_span_every_vendor() -> None:
    spans = {name: {w for w, _ in members} for name, members in GROUPS.items()}
    for name in (
        "text",
        "unicode",
        "tool_call",
        "parallel_tool_calls",
        "text_then_tool_call",
        "usage_cache",
        "length",
    ):
        assert {"openai", "openai-responses", "anthropic"} <= spans[name], (name, spans.get(name))
    assert {"openai-responses", "anthropic", "openai-compatible"} <= spans["reasoning"]


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_same_answer_same_message(name: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": _comparable(w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
