"""The OpenAI-compatible chat completions fold: a run's Agent Streaming Protocol events
(``_chat_runs.ChatRuns.events``) to ``chat.completion.chunk`` objects (issue 23).

Pure, no HTTP: :class:`ChunkFold` takes one event at a time (``feed``) and returns the
chunks to send for it, with the field names of the ``openai`` SDK's
``ChatCompletionChunk`` / ``ChatCompletion`` types, the way the ``anthropic`` SDK's
``accumulate_event`` reads. What it sends (docs/openai-compatible.md):

- the text of the run's AI messages (every namespace: a subgraph's answer too) as
  ``content`` deltas, their reasoning as ``reasoning_content`` deltas, as they stream;
  an AI message a node returns without streaming it (no ``messages`` events) as one
  ``content`` delta when its node's update arrives;
- tool calls only when the run ends on an AI message whose tool calls nobody executed
  (the client's own tools): ``tool_calls`` deltas (index, id, name, then the argument
  fragments as the model streamed them), ``finish_reason: "tool_calls"``. A tool call
  the graph executes (a ``tools`` event, or a ``ToolMessage`` answering it, or the
  model speaking again) is not sent: the client would run it a second time;
- ``finish_reason`` from the last AI message's ``message-finish`` (``stop``,
  ``length``, ``tool_calls``, ``content_filter``; vendors' own reasons mapped);
- ``usage`` summed over the run's AI messages;
- an interrupt ends the answer: its payload as ``content`` (a string as is, anything
  else as JSON), ``finish_reason: "stop"``;
- a failed (or cancelled) run: an ``{"error": {...}}`` item after what was streamed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChunkFold", "finish_reason", "openai_error"]

#: a vendor's finish reasons (lowercased) -> OpenAI's
_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "complete": "stop",
    "eos": "stop",
    "length": "length",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "refusal": "content_filter",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def finish_reason(native: Any) -> str:
    """OpenAI's ``finish_reason`` for a message-finish's (``stop`` when unknown)."""
    if not isinstance(native, str):
        return "stop"
    return _FINISH.get(native.lower(), "stop")


def openai_error(
    message: str, status: int = 500, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class _Call:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)


@dataclass
class _Message:
    """An AI message streaming: its tool-call blocks by block index."""

    calls: dict[int, _Call] = field(default_factory=dict)


def _attr(message: Any, name: str) -> Any:
    if isinstance(message, Mapping):
        return message.get(name)
    return getattr(message, name, None)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text") or "")
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text")
        )
    return ""


def _role(message: Any) -> str | None:
    role = _attr(message, "type") or _attr(message, "role")
    return role if isinstance(role, str) else None


class ChunkFold:
    """One completion's chunks from its run's events (see the module docs).

    ``feed(event)`` takes anything with ``method``, ``namespace`` and ``data`` (a
    ``LoggedEvent``) and returns the items to send: ``chat.completion.chunk`` dicts, or
    one ``{"error": ...}`` dict when the run failed. ``done`` tells the run ended;
    ``completion()`` is the non-streamed ``chat.completion`` of everything folded.
    """

    def __init__(
        self, completion_id: str, created: int, model: str, *, include_usage: bool = False
    ) -> None:
        self.id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.done = False
        self.error: dict[str, Any] | None = None
        self.content = ""
        self.reasoning = ""
        self.tool_calls: list[dict[str, Any]] = []
        self.finish = "stop"
        self.usage = {"input": 0, "output": 0, "total": 0, "cached": 0, "reasoning": 0}
        self._role_sent = False
        self._streaming: dict[tuple[tuple[str, ...], str], _Message] = {}
        self._current: dict[tuple[str, ...], _Message] = {}
        self._streamed_ids: set[str] = set()
        self._pending: list[_Call] = []
        self._interrupts: list[Any] = []
        #: the run ended waiting on an interrupt (its thread is kept to answer it)
        self.interrupted = False

    # ------------------------------------------------------------------ chunks

    def _chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        out: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        items = out if out is not None else []
        if not self._role_sent:
            self._role_sent = True
            items.append(self._wrap({"role": "assistant", "content": ""}, None))
        items.append(self._wrap(delta, finish))
        return items

    def _wrap(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _content(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self.content += text
        return self._chunk({"content": text})

    def _reasoning(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self.reasoning += text
        return self._chunk({"reasoning_content": text})

    def usage_object(self) -> dict[str, Any]:
        """The run's usage as OpenAI's ``CompletionUsage``."""
        u = self.usage
        return {
            "prompt_tokens": u["input"],
            "completion_tokens": u["output"],
            "total_tokens": u["total"] or u["input"] + u["output"],
            "prompt_tokens_details": {"cached_tokens": u["cached"]},
            "completion_tokens_details": {"reasoning_tokens": u["reasoning"]},
        }

    # ------------------------------------------------------------------ events

    def feed(self, event: Any) -> list[dict[str, Any]]:
        """The items to send for one event of the run."""
        method: str = event.method
        namespace: tuple[str, ...] = tuple(event.namespace)
        data = event.data
        if self.done or not isinstance(data, Mapping):
            return []
        if method == "messages":
            return self._message_event(namespace, data)
        if method == "tools":
            if data.get("event") == "tool-started":
                self._executed(data.get("tool_call_id"))
            return []
        if method == "updates" and not namespace:
            return self._updates(data)
        if method == "input.requested":
            self._interrupts.append(data.get("payload"))
            return []
        if method == "lifecycle" and not namespace:
            return self._end(data)
        return []

    def _executed(self, call_id: Any) -> None:
        self._pending = [call for call in self._pending if call.id != call_id]

    def _message_event(self, ns: tuple[str, ...], data: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = data.get("event")
        if kind == "message-start":
            if data.get("role") != "ai":
                self._current.pop(ns, None)
                return []
            self._pending = []  # the model speaks again: earlier tool calls were handled
            self._current[ns] = _Message()
            if isinstance(data.get("id"), str):
                self._streamed_ids.add(data["id"])
            return []
        message = self._current.get(ns)
        if message is None:
            return []
        if kind == "content-block-start":
            content = data.get("content") or {}
            if content.get("type") in ("tool_call_chunk", "tool_call"):
                args = content.get("args")
                call = _Call(str(content.get("id") or ""), str(content.get("name") or ""))
                if isinstance(args, str) and args:
                    call.fragments.append(args)
                message.calls[int(data.get("index", 0))] = call
                return []
            if content.get("type") == "text":
                return self._content(str(content.get("text") or ""))
            if content.get("type") == "reasoning":
                return self._reasoning(str(content.get("reasoning") or ""))
            return []
        if kind == "content-block-delta":
            delta = data.get("delta") or {}
            kind = delta.get("type")
            if kind == "text-delta":
                return self._content(str(delta.get("text") or ""))
            if kind == "reasoning-delta":
                return self._reasoning(str(delta.get("reasoning") or ""))
            if kind == "tool-call-delta":
                growing = message.calls.get(int(data.get("index", 0)))
                if growing is not None and delta.get("args"):
                    growing.fragments.append(str(delta["args"]))
            return []
        if kind == "content-block-finish":
            content = data.get("content") or {}
            done = message.calls.get(int(data.get("index", 0)))
            if done is not None and content.get("type") in ("tool_call", "invalid_tool_call"):
                done.id = str(content.get("id") or done.id)
                done.name = str(content.get("name") or done.name)
                if not done.fragments and content.get("args") is not None:
                    done.fragments.append(_json_args(content["args"]))
            return []
        if kind == "message-finish":
            self._current.pop(ns, None)
            self._add_usage(data.get("usage"))
            metadata = data.get("metadata") or {}
            self.finish = finish_reason(metadata.get("finish_reason"))
            self._pending = [c for _, c in sorted(message.calls.items()) if c.name]
        return []

    def _add_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        u = self.usage
        u["input"] += int(usage.get("input_tokens") or 0)
        u["output"] += int(usage.get("output_tokens") or 0)
        u["total"] += int(usage.get("total_tokens") or 0)
        details = usage.get("input_token_details") or {}
        u["cached"] += int(details.get("cache_read") or 0)
        details = usage.get("output_token_details") or {}
        u["reasoning"] += int(details.get("reasoning") or 0)

    def _updates(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        """AI messages a node returned without streaming them, and tool results."""
        out: list[dict[str, Any]] = []
        for update in data.values():
            messages = update.get("messages") if isinstance(update, Mapping) else None
            if not isinstance(messages, list):
                continue
            for message in messages:
                role = _role(message)
                if role == "tool":
                    self._executed(_attr(message, "tool_call_id"))
                    continue
                if role not in ("ai", "assistant") or _attr(message, "id") in self._streamed_ids:
                    continue
                if isinstance(_attr(message, "id"), str):
                    self._streamed_ids.add(_attr(message, "id"))
                out += self._content(_text(_attr(message, "content")))
                self._pending = [
                    _Call(str(c.get("id") or ""), str(c.get("name")), [_json_args(c.get("args"))])
                    for c in _attr(message, "tool_calls") or ()
                    if isinstance(c, Mapping) and c.get("name")
                ]
                metadata = _attr(message, "response_metadata") or {}
                self.finish = finish_reason(metadata.get("finish_reason"))
        return out

    def _end(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        end = data.get("event")
        if end not in ("completed", "failed", "interrupted"):
            return []
        self.done = True
        out: list[dict[str, Any]] = []
        if end == "failed":
            self.error = openai_error(str(data.get("error") or "The run failed"), code="run_failed")
            return [self.error]
        if end == "interrupted":
            self.interrupted = bool(self._interrupts)
            if not self._interrupts:
                self.error = openai_error("The run was cancelled", code="run_cancelled")
                return [self.error]
            sep = "\n\n" if self.content else ""
            out += self._content(sep + "\n\n".join(_payload_text(p) for p in self._interrupts))
            self.finish = "stop"
            self._pending = []
        if self._pending:
            for index, call in enumerate(self._pending):
                head = {"index": index, "id": call.id, "type": "function"}
                head["function"] = {"name": call.name, "arguments": ""}
                self._chunk({"tool_calls": [head]}, out=out)
                for fragment in call.fragments:
                    part = {"index": index, "function": {"arguments": fragment}}
                    out.append(self._wrap({"tool_calls": [part]}, None))
                self.tool_calls.append(
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": "".join(call.fragments)},
                    }
                )
            self.finish = "tool_calls"
        elif self.finish == "tool_calls":
            self.finish = "stop"  # the graph ran them and said nothing more
        self._chunk({}, self.finish, out=out)
        if self.include_usage:
            last = self._wrap({}, None)
            last["choices"] = []
            last["usage"] = self.usage_object()
            out.append(last)
        return out

    # ------------------------------------------------------------------ non-streamed

    def completion(self) -> dict[str, Any]:
        """The ``chat.completion`` of everything folded (after the run's end)."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.content if self.content or not self.tool_calls else None,
            "refusal": None,
        }
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
            ],
            "usage": self.usage_object(),
        }


def _json_args(args: Any) -> str:
    if isinstance(args, str):
        return args
    return json.dumps(args if args is not None else {}, ensure_ascii=False, separators=(",", ":"))


def _payload_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=str)
