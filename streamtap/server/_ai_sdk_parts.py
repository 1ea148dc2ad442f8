"""The fold from a run's Agent Streaming Protocol events to Vercel AI SDK UI message stream
parts (``UIMessageChunk`` of the ``ai`` package, protocol ``v1``): pure, no I/O.

``UIParts(message_id).feed(event)`` returns the parts one event gives, ``close()`` the
ones a stream that ends without its terminal ``lifecycle`` owes. The mapping (docs/ai-sdk.md):

- the run → ``start`` (``messageId``) … ``finish`` (``finishReason`` of the last model
  message, ``messageMetadata.usage`` summed over the run's model messages);
- each AI message a model streams (any namespace but a ``tools:`` one) → one step:
  ``start-step`` at its ``message-start``; the step stays open for the tool results that
  follow and closes (``finish-step``) when the next model message starts or the run ends;
- its blocks, by kind: ``text-*``, ``reasoning-*``, ``tool-input-start`` / ``-delta`` /
  ``-available`` (``tool-input-error`` for an invalid call);
- ``tools`` ``tool-finished`` → ``tool-output-available`` (the tool message's content),
  ``tool-error`` → ``tool-output-error``; a tool started for a call no model streamed →
  its ``tool-input-available`` first;
- ``custom`` items → ``data-custom`` parts (the payload as ``data``);
- ``input.requested`` (an interrupt) → ``data-interrupt`` ``{interrupt_id, payload}``, and
  the run's ``interrupted`` end → ``finish`` with ``finishReason: "other"`` (AI SDK 7's
  ``"interrupted"`` fails the schema of AI SDK 5 and 6 clients);
- an ``interrupted`` end without an interrupt (stopped) → ``abort``;
- ``failed`` → ``error`` (``errorText``: the lifecycle's error, secrets already masked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamtap.server._serde import dumps

__all__ = ["FINISH_REASONS", "UIParts", "encode", "usage_metadata"]

Part = dict[str, Any]

#: the models' finish reasons (every vendor's, as LangChain reports them) → the SDK's
FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "STOP": "stop",
    "completed": "stop",
    "tool_calls": "tool-calls",
    "tool_use": "tool-calls",
    "function_call": "tool-calls",
    "length": "length",
    "max_tokens": "length",
    "MAX_TOKENS": "length",
    "content_filter": "content-filter",
    "SAFETY": "content-filter",
    "refusal": "content-filter",
}


def encode(part: Part) -> bytes:
    """One SSE event of the stream: ``data: <json>\\n\\n``."""
    return b"data: " + dumps(part) + b"\n\n"


def usage_metadata(usage: dict[str, Any]) -> dict[str, int]:
    """LangChain ``UsageMetadata`` → the SDK's ``LanguageModelUsage`` field names."""
    out = {
        "inputTokens": int(usage.get("input_tokens") or 0),
        "outputTokens": int(usage.get("output_tokens") or 0),
        "totalTokens": int(usage.get("total_tokens") or 0),
    }
    reasoning = (usage.get("output_token_details") or {}).get("reasoning")
    cached = (usage.get("input_token_details") or {}).get("cache_read")
    if reasoning:
        out["reasoningTokens"] = int(reasoning)
    if cached:
        out["cachedInputTokens"] = int(cached)
    return out


@dataclass
class _Block:
    kind: str  # "text" | "reasoning" | "tool"
    part_id: str
    name: str = ""
    ended: bool = False


@dataclass
class _Message:
    key: str
    blocks: dict[Any, _Block] = field(default_factory=dict)


class UIParts:
    """One run's events → its UI message stream parts (without the ``[DONE]`` end)."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.started = False
        self.step_open = False
        self.done = False
        self.finish_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.interrupted_by_input = False
        self._messages: dict[tuple[str, ...], _Message] = {}
        self._skipped: set[tuple[str, ...]] = set()
        self._calls: set[str] = set()
        self._count = 0

    def feed(self, method: str, namespace: tuple[str, ...], data: Any) -> list[Part]:
        """The parts one event gives (``[]`` for the ones this protocol leaves out)."""
        if self.done:
            return []
        out: list[Part] = []
        if not self.started:
            self.started = True
            out.append({"type": "start", "messageId": self.message_id})
        if not isinstance(data, dict):
            data = {"value": data} if method == "custom" else {}
        if method == "messages":
            out += self._message(namespace, data)
        elif method == "tools":
            out += self._tool(data)
        elif method == "custom":
            out.append({"type": "data-custom", "data": data.get("value", data)})
        elif method == "input.requested":
            self.interrupted_by_input = True
            item = {"interrupt_id": data.get("interrupt_id"), "payload": data.get("payload")}
            out.append({"type": "data-interrupt", "id": item["interrupt_id"], "data": item})
        elif method == "lifecycle" and not namespace:
            out += self._end(data)
        return out

    def close(self) -> list[Part]:
        """What a stream that ends here owes (nothing once the run's end was fed)."""
        if self.done:
            return []
        out = [] if self.started else [{"type": "start", "messageId": self.message_id}]
        self.started = True
        return out + self._finish("other")

    # -- messages --------------------------------------------------------------------

    def _message(self, namespace: tuple[str, ...], data: dict[str, Any]) -> list[Part]:
        event = data.get("event")
        if any(ns.startswith("tools:") for ns in namespace):
            return []  # a tool result's mirror: the tools channel has it
        if event == "message-start":
            if data.get("role") != "ai":
                self._skipped.add(namespace)
                return []
            self._skipped.discard(namespace)
            out = [{"type": "finish-step"}] if self.step_open else []
            out.append({"type": "start-step"})
            self.step_open = True
            self._count += 1
            self._messages[namespace] = _Message(f"m{self._count}")
            return out
        if namespace in self._skipped:
            return []
        message = self._messages.get(namespace)
        if message is None:
            return []
        if event == "content-block-start":
            return self._block_start(message, data.get("index"), data.get("content") or {})
        if event == "content-block-delta":
            return self._block_delta(message, data.get("index"), data.get("delta") or {})
        if event == "content-block-finish":
            return self._block_finish(message, data.get("index"), data.get("content") or {})
        if event == "message-finish":
            return self._message_finish(namespace, message, data)
        return []

    def _block_start(self, message: _Message, index: Any, content: dict[str, Any]) -> list[Part]:
        kind = content.get("type")
        part_id = f"{message.key}:{index}"
        if kind in ("text", "reasoning"):
            message.blocks[index] = _Block(kind, part_id)
            out: list[Part] = [{"type": f"{kind}-start", "id": part_id}]
            initial = content.get(kind)
            if initial:
                out.append({"type": f"{kind}-delta", "id": part_id, "delta": initial})
            return out
        if kind in ("tool_call_chunk", "tool_call"):
            call_id = str(content.get("id") or part_id)
            name = str(content.get("name") or "")
            message.blocks[index] = _Block("tool", call_id, name)
            self._calls.add(call_id)
            out = [{"type": "tool-input-start", "toolCallId": call_id, "toolName": name}]
            args = content.get("args")
            if isinstance(args, str) and args:
                out.append(
                    {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": args}
                )
            return out
        return []

    def _block_delta(self, message: _Message, index: Any, delta: dict[str, Any]) -> list[Part]:
        block = message.blocks.get(index)
        if block is None or block.ended:
            return []
        kind = delta.get("type")
        if block.kind == "text" and kind == "text-delta" and delta.get("text"):
            return [{"type": "text-delta", "id": block.part_id, "delta": delta["text"]}]
        if block.kind == "reasoning" and kind == "reasoning-delta" and delta.get("reasoning"):
            return [{"type": "reasoning-delta", "id": block.part_id, "delta": delta["reasoning"]}]
        if block.kind == "tool" and kind == "tool-call-delta" and delta.get("args"):
            return [
                {
                    "type": "tool-input-delta",
                    "toolCallId": block.part_id,
                    "inputTextDelta": delta["args"],
                }
            ]
        return []

    def _block_finish(self, message: _Message, index: Any, content: dict[str, Any]) -> list[Part]:
        block = message.blocks.get(index)
        out: list[Part] = []
        kind = content.get("type")
        if block is None:  # a block that was never streamed: all of it at once
            start = dict(content)
            if kind in ("text", "reasoning"):
                start[kind] = ""
            elif kind in ("tool_call", "invalid_tool_call"):
                start = {"type": "tool_call", "id": content.get("id"), "name": content.get("name")}
            out = self._block_start(message, index, start)
            block = message.blocks.get(index)
            if block is not None and kind in ("text", "reasoning") and content.get(kind):
                out.append({"type": f"{kind}-delta", "id": block.part_id, "delta": content[kind]})
        if block is None or block.ended:
            return out
        block.ended = True
        if block.kind in ("text", "reasoning"):
            out.append({"type": f"{block.kind}-end", "id": block.part_id})
        elif kind == "tool_call":
            name = str(content.get("name") or block.name)
            out.append(
                {
                    "type": "tool-input-available",
                    "toolCallId": block.part_id,
                    "toolName": name,
                    "input": content.get("args") or {},
                }
            )
        else:  # invalid_tool_call: its arguments did not parse
            out.append(
                {
                    "type": "tool-input-error",
                    "toolCallId": block.part_id,
                    "toolName": str(content.get("name") or block.name),
                    "input": content.get("args"),
                    "errorText": str(content.get("error") or "invalid tool call"),
                }
            )
        return out

    def _message_finish(
        self, namespace: tuple[str, ...], message: _Message, data: dict[str, Any]
    ) -> list[Part]:
        out: list[Part] = []
        for block in message.blocks.values():  # blocks a model left open
            if not block.ended and block.kind != "tool":
                block.ended = True
                out.append({"type": f"{block.kind}-end", "id": block.part_id})
        usage = data.get("usage")
        if isinstance(usage, dict):
            for name, value in usage_metadata(usage).items():
                self.usage[name] = self.usage.get(name, 0) + value
        reason = (data.get("metadata") or {}).get("finish_reason")
        if reason is not None:
            self.finish_reason = FINISH_REASONS.get(str(reason), "other")
        del self._messages[namespace]
        return out

    # -- tools, the end ---------------------------------------------------------------

    def _tool(self, data: dict[str, Any]) -> list[Part]:
        event = data.get("event")
        call_id = str(data.get("tool_call_id") or "")
        out: list[Part] = []
        if event == "tool-started" and call_id not in self._calls:
            self._calls.add(call_id)  # a call no model streamed (a node's own AIMessage)
            name = str(data.get("tool_name") or "")
            out.append({"type": "tool-input-start", "toolCallId": call_id, "toolName": name})
            out.append(
                {
                    "type": "tool-input-available",
                    "toolCallId": call_id,
                    "toolName": name,
                    "input": data.get("input") or {},
                }
            )
        elif event == "tool-finished":
            output = data.get("output")
            dump = getattr(output, "model_dump", None)
            if callable(dump):  # the ToolMessage itself (in-process logs keep objects)
                output = dump()
            if isinstance(output, dict) and output.get("type") == "tool" and "content" in output:
                output = output["content"]
            out.append({"type": "tool-output-available", "toolCallId": call_id, "output": output})
        elif event == "tool-error":
            text = str(data.get("message") or data.get("error") or "tool failed")
            out.append({"type": "tool-output-error", "toolCallId": call_id, "errorText": text})
        return out

    def _end(self, data: dict[str, Any]) -> list[Part]:
        event = data.get("event")
        if event == "completed":
            return self._finish(self.finish_reason or "stop")
        if event == "interrupted":
            if self.interrupted_by_input:
                return self._finish("other")
            self.done = True
            return [{"type": "abort", "reason": "stopped"}]
        if event == "failed":
            self.done = True
            return [{"type": "error", "errorText": str(data.get("error") or "run failed")}]
        return []

    def _finish(self, reason: str) -> list[Part]:
        self.done = True
        out: list[Part] = [{"type": "finish-step"}] if self.step_open else []
        self.step_open = False
        finish: Part = {"type": "finish", "finishReason": reason}
        if self.usage:
            finish["messageMetadata"] = {"usage": dict(self.usage)}
        return [*out, finish]
