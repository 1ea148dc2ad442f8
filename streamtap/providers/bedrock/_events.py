"""Bedrock ConverseStream: the event fold and the wire's facts.

boto3 / aiobotocore decode the AWS event-stream frames; iterating the
response's ``stream`` yields one dict per event, keyed by the event's name:
``{"messageStart": {...}}``, ``{"contentBlockStart": {...}}``,
``{"contentBlockDelta": {...}}``, ``{"contentBlockStop": {...}}``,
``{"messageStop": {...}}``, ``{"metadata": {...}}``. :class:`ConverseMapper`
folds those dicts (or the same events as JSON, where ``redactedContent`` is
base64 text instead of bytes) into normalized chunks. Nothing here imports an
SDK, so ``_wires.py`` can import :data:`WIRE` eagerly.

Converse differs from Anthropic's own wire in ways the fold absorbs:

* no message id and no model name on the wire: one id is synthesized per
  message, ``msg_bedrock_`` + the request id AWS gave the response when the chat
  model knows it (:data:`REQUEST_ID_KEY` in ``messageStart``), else a random one;
  the model comes from the caller;
* text and reasoning blocks have no ``contentBlockStart``: a block's kind is
  known from its first delta;
* usage arrives in ``metadata`` *after* ``messageStop``, so the closing chunk
  goes out with ``metadata`` (or at the end of the body when it never came);
* ``inputTokens`` leaves cache reads and writes out (as Anthropic's
  ``input_tokens`` does), so they are added back.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessageChunk

from streamtap.providers._chunks import ChunkMapper, WireViolation
from streamtap.providers._wire import Wire

__all__ = [
    "EVENT_KEYS",
    "REQUEST_ID_KEY",
    "WIRE",
    "ConverseMapper",
    "redacted_text",
    "sdk_events",
]

#: Added by the chat model to (a copy of) ``messageStart``: the response's
#: ``x-amzn-RequestId``, which becomes the message id, so a message can be traced in
#: AWS's logs and support cases. Never on the wire itself.
REQUEST_ID_KEY = "streamtapRequestId"

#: Converse ``stopReason`` -> normalized finish reason (unknown ones count as "stop").
FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

#: The event names of a ConverseStream body (the keys of the SDK's event dicts).
EVENT_KEYS = frozenset(
    {
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    }
)

#: ``metadata`` fields kept in ``response_metadata`` besides usage, by their snake_case name.
_METADATA_KEEP = {
    "metrics": "metrics",
    "trace": "trace",
    "performanceConfig": "performance_config",
    "serviceTier": "service_tier",
}

#: Which block kinds each delta member belongs to; a member sent to a block of
#: another kind breaks the protocol. Members not listed are newer than this code.
_DELTA_KINDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "toolUse": frozenset({"tool", "server_tool"}),
    "toolResult": frozenset({"result"}),
    "reasoningContent": frozenset({"reasoning"}),
}


def redacted_text(value: Any) -> str:
    """``redactedContent`` as text: boto3 hands it over as bytes, JSON as base64 already."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value or "")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _jsonable(value: Any) -> Any:
    """A copy of an SDK value with bytes (blobs) as base64 text, so metadata stays JSON."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return redacted_text(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class ConverseMapper(ChunkMapper):
    """Bedrock ConverseStream event dicts -> normalized chunks."""

    provider = "bedrock"
    model_provider = "bedrock"

    def __init__(self, *, model_provider: str | None = None, model: str | None = None) -> None:
        super().__init__(model_provider=model_provider)
        # Converse names no model: the caller's model id is the best there is.
        self.model_name = model
        # wire contentBlockIndex -> (kind, our index); kind: text|reasoning|tool|
        # server_tool|result (a server tool's result)|other (a block newer than this code)
        self._blocks: dict[int, tuple[str, int]] = {}
        # server tool calls and their results are not token streams: buffered whole
        self._pending: dict[int, dict[str, Any]] = {}
        self._citation_index: dict[int, int] = {}
        self._stopped = False  # messageStop seen (usage may still follow in metadata)
        self._closed = False  # the closing chunk went out

    def _new_id(self, event: Mapping[str, Any]) -> str:
        """The message's id, fixed at its first event: the request id if the chat model
        tagged ``messageStart`` with it, else random (a stream fed by ``normalize()``)."""
        start = event.get("messageStart")
        rid = start.get(REQUEST_ID_KEY) if isinstance(start, Mapping) else None
        return "msg_bedrock_" + (rid if isinstance(rid, str) and rid else uuid.uuid4().hex)

    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        if self.message_id is None:
            self.message_id = self._new_id(event)
        delta = event.get("contentBlockDelta")
        if delta is not None:
            return self._delta(delta)
        start = event.get("contentBlockStart")
        if start is not None:
            return self._start(start)
        if (stop_event := event.get("contentBlockStop")) is not None:
            index = stop_event.get("contentBlockIndex", 0) if isinstance(stop_event, Mapping) else 0
            return self._stop(index)
        if (message := event.get("messageStart")) is not None:
            if isinstance(message, Mapping) and message.get("role") not in (None, "assistant"):
                self.extra_metadata["role"] = message.get("role")
            return []
        if (stop := event.get("messageStop")) is not None:
            stop = stop if isinstance(stop, Mapping) else {}
            native = stop.get("stopReason")
            if isinstance(native, str):
                self.finish(native, FINISH.get(native, "stop"))
            if fields := stop.get("additionalModelResponseFields"):
                self.extra_metadata["additional_model_response_fields"] = _jsonable(fields)
            self._stopped = True
            self.terminated = True
            return []
        if (metadata := event.get("metadata")) is not None:
            self._metadata(metadata if isinstance(metadata, Mapping) else {})
            return self._close() if self._stopped else []
        return []  # an event newer than this code

    def eof(self, *, strict: bool) -> list[AIMessageChunk] | None:
        """messageStop came but metadata (usage) did not: still a complete answer."""
        if not self._stopped:
            return None
        return self._close()

    def _close(self) -> list[AIMessageChunk]:
        if self._closed:
            return []
        self._closed = True
        return self.last()

    # -- content blocks --------------------------------------------------------
    def _start(self, start: Mapping[str, Any]) -> list[AIMessageChunk]:
        index = start.get("contentBlockIndex", 0)
        block = start.get("start") or {}
        tool = block.get("toolUse")
        if tool is not None and tool.get("type") == "server_tool_use":
            # run by Bedrock itself (web search...): not a call for the client to make
            self._blocks[index] = ("server_tool", -1)
            self._pending[index] = {**tool, "input": ""}
            return []
        if tool is not None:
            ordinal = self.new_tool_call()
            self._blocks[index] = ("tool", ordinal)
            return self.tool_call(ordinal, id=tool.get("toolUseId"), name=tool.get("name"))
        result = block.get("toolResult")
        if result is not None:
            self._blocks[index] = ("result", -1)
            self._pending[index] = {**result, "content": []}
            return []
        if not block:  # some models announce text blocks with an empty start
            return []
        # A block kind newer than this code (toolResult, image...): passed through whole.
        self._blocks[index] = ("other", -1)
        return self.non_standard({"type": "bedrock_block_start", **_jsonable(block)})

    def _delta(self, event: Mapping[str, Any]) -> list[AIMessageChunk]:
        index = event.get("contentBlockIndex", 0)
        delta = event.get("delta") or {}
        found = self._blocks.get(index)
        text = delta.get("text")
        if text is not None and (found is None or found[0] == "text"):  # the hot path
            if found is None:
                self._blocks[index] = ("text", -1)
            return self.text(text)
        kind = found[0] if found is not None else None
        if kind == "other":
            # a block of a kind newer than this code (passed through at its start):
            # its deltas too, whole, with the block they belong to
            return self.non_standard(
                {"type": "bedrock_delta", "contentBlockIndex": index, **_jsonable(delta)}
            )
        for member, homes in _DELTA_KINDS.items():
            if member in delta and kind is not None and kind not in homes:
                raise WireViolation(
                    "contentBlockDelta",
                    f"a {member} delta for content block {index}, a {kind} block, "
                    f"which takes no {member}",
                )
        if kind == "server_tool" and "toolUse" in delta:
            self._pending[index]["input"] += (delta["toolUse"] or {}).get("input") or ""
            return []
        if kind == "result" and "toolResult" in delta:
            self._pending[index]["content"].extend(_as_list(delta["toolResult"]))
            return []
        if "citation" in delta:
            return self._citation(index, delta["citation"] or {})
        if "toolUse" in delta:
            if found is None:
                raise WireViolation(
                    "contentBlockDelta",
                    f"a toolUse delta for content block {index}, which never started "
                    "(no contentBlockStart with its toolUseId and name)",
                )
            return self.tool_call(found[1], args=(delta["toolUse"] or {}).get("input") or "")
        if "reasoningContent" in delta:
            if found is None:
                found = ("reasoning", self.new_block())
                self._blocks[index] = found
            return self._reasoning(found[1], delta["reasoningContent"] or {})
        # citations, images and members newer than this code: nothing dropped
        return self.non_standard({"type": "bedrock_delta", **_jsonable(delta)})

    def _stop(self, index: int) -> list[AIMessageChunk]:
        """A buffered server tool call or result goes out whole at its block's stop."""
        pending = self._pending.pop(index, None)
        if pending is None:
            return []
        if self._blocks[index][0] == "server_tool":
            raw = pending.get("input") or ""
            try:
                args = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                args = {"__raw__": raw}
            return self._whole(
                {
                    "type": "server_tool_call",
                    "id": pending.get("toolUseId"),
                    "name": pending.get("name"),
                    "args": args,
                }
            )
        block: dict[str, Any] = {
            "type": "server_tool_result",
            "tool_call_id": pending.get("toolUseId"),
            "status": "error" if pending.get("status") == "error" else "success",
            "output": _jsonable(pending["content"]),
        }
        if pending.get("type"):
            block["extras"] = {"block_type": pending["type"]}
        return self._whole(block)

    def _whole(self, block: dict[str, Any]) -> list[AIMessageChunk]:
        block["index"] = self.new_block()
        return [AIMessageChunk(content=[block], id=self.message_id)]

    def _citation(self, index: int, citation: Mapping[str, Any]) -> list[AIMessageChunk]:
        """A citation of text block ``index``: a standard ``citation`` annotation, one
        annotations block per cited text block (as Anthropic's wire gives them)."""
        if index not in self._citation_index:
            self._citation_index[index] = self.new_block()
        annotation: dict[str, Any] = {"type": "citation"}
        if citation.get("title"):
            annotation["title"] = citation["title"]
        cited = "".join(
            part.get("text") or ""
            for part in citation.get("sourceContent") or ()
            if isinstance(part, Mapping)
        )
        if cited:
            annotation["cited_text"] = cited
        location = citation.get("location") or {}
        web = location.get("web") if isinstance(location, Mapping) else None
        if isinstance(web, Mapping) and web.get("url"):
            annotation["url"] = web["url"]
        extras = {k: v for k, v in citation.items() if k not in ("title", "sourceContent")}
        if extras:
            annotation["extras"] = _jsonable(extras)
        block = {
            "type": "text",
            "text": "",
            "annotations": [annotation],
            "index": self._citation_index[index],
        }
        return [AIMessageChunk(content=[block], id=self.message_id)]

    def _reasoning(self, ours: int, content: Mapping[str, Any]) -> list[AIMessageChunk]:
        extras: dict[str, Any] = {}
        if content.get("signature"):
            extras["signature"] = content["signature"]
        if content.get("redactedContent") is not None:
            extras["redacted_data"] = redacted_text(content["redactedContent"])
        return self.reasoning(ours, content.get("text") or "", extras or None)

    # -- metadata ---------------------------------------------------------------
    def _metadata(self, metadata: Mapping[str, Any]) -> None:
        usage = metadata.get("usage")
        if isinstance(usage, Mapping):
            self.set_usage(
                usage,
                input_tokens=usage.get("inputTokens"),
                output_tokens=usage.get("outputTokens"),
                cache_read=usage.get("cacheReadInputTokens"),
                cache_creation=usage.get("cacheWriteInputTokens"),
                # Bedrock's inputTokens excludes cache reads and writes (its totalTokens
                # is their sum with outputTokens), as Anthropic's own input_tokens does.
                input_includes_cache=False,
            )
        for key, name in _METADATA_KEEP.items():
            if metadata.get(key) is not None:
                self.extra_metadata[name] = _jsonable(metadata[key])


# --------------------------------------------------------------------------- the wire


def _owns_event(event: Mapping[str, Any]) -> bool:
    return len(event) == 1 and next(iter(event)) in EVENT_KEYS


def _owns_module(module: str) -> bool:
    return False  # boto3 hands out plain dicts, never event objects


def sdk_events(stream: Any) -> Any:
    """The events of a raw boto3 / aiobotocore stream: the ``converse_stream`` response's
    ``"stream"`` (botocore's ``EventStream``), or that ``EventStream`` itself."""
    return stream.get("stream") if isinstance(stream, Mapping) else stream


def _owns_sdk_stream(stream: Any) -> bool:
    """botocore's ``EventStream`` (aiobotocore's subclass too), or the whole response dict."""
    for cls in type(sdk_events(stream)).__mro__:
        if cls.__name__ == "EventStream" and cls.__module__.startswith("botocore."):
            return True
    return False


WIRE = Wire(
    name="bedrock",
    mapper=ConverseMapper,
    terminal="messageStop",
    named_events_only=False,  # not SSE: every frame names its event
    owns_event=_owns_event,
    owns_event_module=_owns_module,
    owns_sdk_stream=_owns_sdk_stream,
    # Converse takes a trailing assistant message as prefill for Anthropic models
    # (AWS's Converse docs; langchain-aws relies on it), with Anthropic's own rules:
    # no trailing whitespace, not after reasoning blocks. Models that refuse it are
    # data (continuation.toml) or learned at run time.
    continuation="prefill",
    prefill_trailing_whitespace=False,
    prefill_after_reasoning=False,
    # boto3 hands out the whole response; its events are its "stream"
    sdk_events=sdk_events,
)
