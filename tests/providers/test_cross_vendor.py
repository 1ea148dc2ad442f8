"""The normalization contract: the same logical answer sums to the same message whatever
the vendor (ids and vendor-only metadata aside).

Every wire is here: the SSE wires replayed through respx (OpenAI Chat Completions and
Responses, Anthropic Messages, the compatible servers, Azure, Mistral, xAI), Gemini's SSE,
Claude on Bedrock (event-stream frames) and Vertex through the anthropic SDK, and Bedrock
Converse through boto3 against a loopback server.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import respx

import streamtap
from streamtap.providers import StreamtapChatModel
from tests import _fixtures as F
from tests.providers import _anthropic_clouds_replay as CLOUDS
from tests.providers import _bedrock_replay as BEDROCK
from tests.providers import _gemini_replay as GEMINI
from tests.providers._contract import total
from tests.providers.conftest import make_model, sse_cases

#: Wires served otherwise than by ``F.mock``: spec, and a context manager serving a fixture
#: that yields the spec's keyword arguments.
SERVED: dict[str, tuple[str, Callable[[str], Any]]] = {
    "gemini": (GEMINI.SPEC, GEMINI.serving),
    "bedrock": (BEDROCK.SPEC, BEDROCK.serving),
    **{
        wire: (CLOUDS.SPECS[wire], lambda scenario, wire=wire: CLOUDS.serving(wire, scenario))
        for wire in ("anthropic-bedrock", "anthropic-vertex")
    },
}


@contextlib.contextmanager
def vendor_model(wire: str, scenario: str) -> Iterator[StreamtapChatModel]:
    """A model of ``wire`` whose next request streams ``fixtures/<wire>/<scenario>``."""
    if wire in SERVED:
        spec, serving = SERVED[wire]
        with serving(scenario) as kwargs:
            yield streamtap.chat_model(spec, **kwargs)
        return
    with respx.mock() as router:
        F.mock(router, wire, scenario)
        yield make_model(wire)


def _cases() -> list[tuple[str, str]]:
    table: dict[str, Any] = json.loads((F.FIXTURES / "scenarios.json").read_text("utf-8"))
    served = [(w, s) for w in SERVED for s in table[w]]
    return [*sse_cases(), *served]


def _comparable(wire: str, scenario: str) -> dict[str, Any]:
    with vendor_model(wire, scenario) as model:
        message = total(list(model.stream("hi")))
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
    for wire, scenario in _cases():
        want = F.expected(wire, scenario)
        if want["ending"] == "complete" and not want["redacted_thinking"]:
            groups[json.dumps(want, sort_keys=True)].append((wire, scenario))
    return {members[0][1]: members for members in groups.values() if len(members) > 1}


GROUPS = _groups()

#: Vendors that send a tool call's arguments whole, in one event (Gemini, Mistral, xAI).
#: The summed message is the same as everyone's; the frames a server writes per delta are not.
WHOLE_TOOL_ARGUMENTS = frozenset({"gemini", "mistral", "xai"})


def _frame_groups() -> dict[str, list[tuple[str, str]]]:
    """GROUPS for a frame-for-frame comparison (the servers' wire formats): a tool-call
    answer's members split by how finely their vendor cuts the arguments."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, members in GROUPS.items():
        whole = [m for m in members if m[0] in WHOLE_TOOL_ARGUMENTS]
        if not F.expected(*members[0])["tool_calls"] or not whole:
            out[name] = members
            continue
        streamed = [m for m in members if m[0] not in WHOLE_TOOL_ARGUMENTS]
        for label, part in ((name, streamed), (f"{name}/whole-arguments", whole)):
            if len(part) > 1:
                out[label] = part
    return out


FRAME_GROUPS = _frame_groups()


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
    every_wire = {*F.WIRES, *SERVED}
    for name in ("text", "tool_call", "parallel_tool_calls"):
        assert spans[name] == every_wire, (name, every_wire - spans[name])
    new_wires = {"gemini", "bedrock", "anthropic-bedrock", "anthropic-vertex", "azure"}
    for name in ("unicode", "text_then_tool_call", "usage_cache", "length"):
        assert new_wires <= spans[name], (name, new_wires - spans[name])
    assert {"gemini", "anthropic-bedrock", "anthropic-vertex"} <= spans["reasoning"]


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_same_answer_same_message(name: str) -> None:
    members = GROUPS[name]
    results = {f"{w}/{s}": _comparable(w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"


#: What a vendor adds beyond the logical answer: the run's and the calls' ids, a block's
#: ``extras`` (Anthropic's thinking signature, the Responses item id), and the metadata
#: other than the finish reason (model name, native finish reason, fingerprints, tiers).
_VENDOR_ONLY = ("id", "extras")


def _logical_event(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["event"]
    if kind == "message-start":
        return {k: v for k, v in event.items() if k not in ("id", "metadata")}
    if kind == "message-finish":
        metadata = event.get("metadata") or {}
        return {**event, "metadata": {"finish_reason": metadata.get("finish_reason")}}
    if kind in ("content-block-start", "content-block-finish"):
        content = {k: v for k, v in event["content"].items() if k not in _VENDOR_ONLY}
        return {**event, "content": content}
    return event


def _merged(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive deltas of one block as one: how finely a vendor cuts a block is its own
    (Mistral and xAI send a tool call's arguments whole), what the deltas add up to is not."""
    out: list[dict[str, Any]] = []
    for event in events:
        previous = out[-1] if out else None
        if (
            previous is not None
            and event["event"] == previous["event"] == "content-block-delta"
            and event["index"] == previous["index"]
            and event["delta"]["type"] == previous["delta"]["type"]
        ):
            joined = {
                k: previous["delta"][k] + v if isinstance(v, str) and k != "type" else v
                for k, v in event["delta"].items()
            }
            out[-1] = {**previous, "delta": {**previous["delta"], **joined}}
        else:
            out.append(event)
    return out


def _protocol_events(wire: str, scenario: str) -> list[dict[str, Any]]:
    with vendor_model(wire, scenario) as model:
        events = list(model.stream_events("hi", version="v3"))
    return _merged([_logical_event(e) for e in events])


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize("name", sorted(GROUPS))
def test_same_answer_same_protocol_events(name: str) -> None:
    """``stream_events(version="v3")``: the same logical answer gives the same ``messages``
    protocol events from every vendor, block for block (vendor-only fields aside, a
    block's consecutive deltas joined)."""
    members = GROUPS[name]
    results = {f"{w}/{s}": _protocol_events(w, s) for w, s in members}
    first_key, first = next(iter(results.items()))
    assert first[0] == {"event": "message-start", "role": "ai"}
    assert first[-1]["event"] == "message-finish" and len(first) > 3
    for key, result in results.items():
        assert result == first, f"{key} differs from {first_key}"
