"""Anthropic Messages (``POST /v1/messages``): the event fold and the wire's facts.

``MessagesMapper.feed`` folds one decoded event (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``,
``message_stop``, ``error``) into normalized chunks. Anthropic's content-block
index covers text, thinking and tool_use alike; the mapping re-numbers tool
calls by their own ordinal and reasoning blocks by theirs, so the summed
message matches the other vendors'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
)

from streamtap.providers._chunks import ChunkMapper, InStreamError, WireViolation
from streamtap.providers._wire import Wire

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "pause_turn": "pause",
    "refusal": "refusal",
}

#: Which block kinds (``MessagesMapper._blocks``) each delta type belongs to. A delta
#: of a type listed here sent to any other kind of block breaks the protocol; delta
#: types not listed are newer than this code and are ignored, as are deltas to
#: blocks of types newer than this code (passed through whole at their start).
_DELTA_KINDS: dict[str, frozenset[str]] = {
    "text_delta": frozenset({"text", "other"}),
    "citations_delta": frozenset({"text", "other"}),
    "input_json_delta": frozenset({"tool", "server_tool", "other"}),
    "thinking_delta": frozenset({"reasoning", "other"}),
    "signature_delta": frozenset({"reasoning", "other"}),
}


class MessagesMapper(ChunkMapper):
    """Anthropic Messages stream events -> normalized chunks."""

    provider = "anthropic"
    model_provider = "anthropic"

    def __init__(self, *, model_provider: str | None = None) -> None:
        super().__init__(model_provider=model_provider)
        # wire block index -> (kind, our index); kind: text|reasoning|tool|server_tool|
        # result (a *_tool_result block)|other (a block type newer than this code)
        self._blocks: dict[int, tuple[str, int]] = {}
        self._block_types: dict[int, Any] = {}
        self._server_tools: dict[int, dict[str, Any]] = {}
        self._citation_index: dict[int, int] = {}
        self._usage_raw: dict[str, Any] = {}

    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event.get("index", 0), event.get("delta") or {})
        if kind == "content_block_start":
            return self._start(event.get("index", 0), event.get("content_block") or {})
        if kind == "content_block_stop":
            return self._stop(event.get("index", 0))
        if kind == "message_start":
            message = event.get("message") or {}
            self.message_id = message.get("id")
            self.model_name = message.get("model")
            self._update_usage(message.get("usage") or {})
            return []
        if kind == "message_delta":
            delta = event.get("delta") or {}
            if stop_reason := delta.get("stop_reason"):
                self.finish(stop_reason, _FINISH.get(stop_reason, "stop"))
            for key in ("stop_sequence", "stop_details", "container"):
                if delta.get(key) is not None:
                    self.extra_metadata[key] = delta[key]
            self._update_usage(event.get("usage") or {})
            return []
        if kind == "message_stop":
            self.terminated = True
            return self.last()
        if kind == "error":
            error = event.get("error")
            raise InStreamError(error if isinstance(error, dict) else {"message": str(error)})
        return []  # ping and event types newer than this code

    def _start(self, index: int, block: dict[str, Any]) -> list[AIMessageChunk]:
        btype = block.get("type")
        self._block_types[index] = btype
        if btype == "text":
            self._blocks[index] = ("text", -1)
            return self.text(block.get("text") or "")
        if btype == "thinking":
            ours = self.new_block()
            self._blocks[index] = ("reasoning", ours)
            extras = {"signature": block["signature"]} if block.get("signature") else None
            return self.reasoning(ours, block.get("thinking") or "", extras)
        if btype == "redacted_thinking":
            ours = self.new_block()
            self._blocks[index] = ("reasoning", ours)
            return self.reasoning(ours, "", {"redacted_data": block.get("data", "")})
        if btype == "tool_use":
            ordinal = self.new_tool_call()
            self._blocks[index] = ("tool", ordinal)
            initial = block.get("input")
            args = json.dumps(initial) if initial else ""
            return self.tool_call(ordinal, id=block.get("id"), name=block.get("name"), args=args)
        if btype == "server_tool_use":
            # Not a user-visible token stream: buffered and emitted whole at its stop.
            self._blocks[index] = ("server_tool", index)
            self._server_tools[index] = {**block, "partial_json": ""}
            return []
        if isinstance(btype, str) and btype.endswith("_tool_result"):
            self._blocks[index] = ("result", -1)
            return self._block(
                {
                    "type": "server_tool_result",
                    "tool_call_id": block.get("tool_use_id"),
                    "status": "error" if _is_error_result(block) else "success",
                    "output": block.get("content"),
                    "extras": {"block_type": btype},
                }
            )
        self._blocks[index] = ("other", -1)
        return self.non_standard(block)

    def _delta(self, index: int, delta: dict[str, Any]) -> list[AIMessageChunk]:
        dtype = delta.get("type")
        found = self._blocks.get(index)
        if dtype == "text_delta" and found is not None and found[0] == "text":  # the hot path
            return self.text(delta.get("text") or "")
        if found is None:
            raise WireViolation(
                "content_block_delta",
                f"a {dtype} for content block {index}, which never started "
                "(no content_block_start for that index)",
            )
        kind, ours = found
        homes = _DELTA_KINDS.get(dtype) if isinstance(dtype, str) else None
        if homes is not None and kind not in homes:
            raise WireViolation(
                "content_block_delta",
                f"a {dtype} for content block {index}, "
                f"a {self._block_types.get(index)} block, which takes no {dtype}",
            )
        if kind == "other":
            return []  # a block type newer than this code: passed through at its start
        if dtype == "text_delta":
            return self.text(delta.get("text") or "")
        if dtype == "input_json_delta":
            fragment = delta.get("partial_json") or ""
            if kind == "server_tool":
                self._server_tools[index]["partial_json"] += fragment
                return []
            return self.tool_call(ours, args=fragment)
        if dtype == "thinking_delta":
            return self.reasoning(ours, delta.get("thinking") or "")
        if dtype == "signature_delta":
            return self.reasoning(ours, "", {"signature": delta.get("signature") or ""})
        if dtype == "citations_delta":
            if index not in self._citation_index:
                self._citation_index[index] = self.new_block()
            annotation = _citation(delta.get("citation") or {})
            block = {
                "type": "text",
                "text": "",
                "annotations": [annotation],
                "index": self._citation_index[index],
            }
            return [AIMessageChunk(content=[block], id=self.message_id)]
        return []

    def _stop(self, index: int) -> list[AIMessageChunk]:
        pending = self._server_tools.pop(index, None)
        if pending is None:
            return []
        raw = pending.get("partial_json") or ""
        try:
            args = json.loads(raw) if raw else (pending.get("input") or {})
        except json.JSONDecodeError:
            args = {"__raw__": raw}
        return self._block(
            {
                "type": "server_tool_call",
                "id": pending.get("id"),
                "name": pending.get("name"),
                "args": args,
            }
        )

    def _block(self, block: dict[str, Any]) -> list[AIMessageChunk]:
        block["index"] = self.new_block()
        return [AIMessageChunk(content=[block], id=self.message_id)]

    def _update_usage(self, usage: dict[str, Any]) -> None:
        # Counts are cumulative: the latest non-null value of each field wins.
        for key, value in usage.items():
            if value is not None:
                self._usage_raw[key] = value
        raw = self._usage_raw
        details = raw.get("output_tokens_details") or {}
        thinking = details.get("thinking_tokens")
        self.set_usage(
            raw,
            input_tokens=raw.get("input_tokens"),
            output_tokens=raw.get("output_tokens"),
            cache_read=raw.get("cache_read_input_tokens"),
            cache_creation=raw.get("cache_creation_input_tokens"),
            reasoning=details.get("reasoning_tokens") if thinking is None else thinking,
            input_includes_cache=False,  # Anthropic's input_tokens leaves the cache out
        )
        if server := raw.get("server_tool_use"):
            self.extra_metadata["server_tool_use"] = server


def _is_error_result(block: dict[str, Any]) -> bool:
    content = block.get("content")
    return bool(block.get("is_error")) or (isinstance(content, dict) and "error_code" in content)


def _citation(citation: dict[str, Any]) -> dict[str, Any]:
    """Anthropic citation -> langchain-core standard ``citation`` annotation."""
    out: dict[str, Any] = {"type": "citation"}
    if "cited_text" in citation:
        out["cited_text"] = citation["cited_text"]
    if "url" in citation:
        out["url"] = citation["url"]
    title = citation.get("title") or citation.get("document_title")
    if title:
        out["title"] = title
    if "start_char_index" in citation:
        out["start_index"] = citation["start_char_index"]
    if "end_char_index" in citation:
        out["end_index"] = citation["end_char_index"]
    extras = {
        k: v
        for k, v in citation.items()
        if k
        not in (
            "cited_text",
            "url",
            "title",
            "document_title",
            "start_char_index",
            "end_char_index",
        )
    }
    if extras:
        out["extras"] = extras
    return out


# --------------------------------------------------------------------------- input side


_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    }
)


def _owns_event(event: Mapping[str, Any]) -> bool:
    return event.get("type") in _EVENTS


def _owns_module(module: str) -> bool:
    return module.partition(".")[0] == "anthropic"


def _owns_sdk_stream(stream: Any) -> bool:
    return _owns_module(type(stream).__module__)


WIRE = Wire(
    name="anthropic",
    mapper=MessagesMapper,
    terminal="message_stop",
    named_events_only=True,  # the anthropic SDK drops events without an `event:` line
    owns_event=_owns_event,
    owns_event_module=_owns_module,
    owns_sdk_stream=_owns_sdk_stream,
    # A trailing assistant turn is continued, but it must not end in whitespace and
    # cannot follow thinking blocks; Claude 4.6 and later refuse it (data/continuation.toml).
    continuation="prefill",
    prefill_trailing_whitespace=False,
    prefill_after_reasoning=False,
)
