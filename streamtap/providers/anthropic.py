"""Anthropic Messages (``POST /v1/messages``).

``MessagesMapper.feed`` folds one decoded event (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``,
``message_stop``, ``error``) into normalized chunks. Anthropic's content-block
index covers text, thinking and tool_use alike; the mapping re-numbers tool
calls by their own ordinal and reasoning blocks by theirs, so the summed
message matches the other vendors'.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._chunks import ChunkMapper, InStreamError, make_usage
from streamtap.providers._profiles import Continuation

__all__ = ["AnthropicChatModel", "MessagesMapper", "to_anthropic_messages"]

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "pause_turn": "pause",
    "refusal": "refusal",
}

DEFAULT_MAX_TOKENS = 4096


class MessagesMapper(ChunkMapper):
    """Anthropic Messages stream events -> normalized chunks."""

    provider = "anthropic"
    model_provider = "anthropic"

    def __init__(self, *, model_provider: str | None = None) -> None:
        super().__init__(model_provider=model_provider)
        # wire block index -> (kind, our index); kind: text|reasoning|tool|server_tool|citations
        self._blocks: dict[int, tuple[str, int]] = {}
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
            return self._block(
                {
                    "type": "server_tool_result",
                    "tool_call_id": block.get("tool_use_id"),
                    "status": "error" if _is_error_result(block) else "success",
                    "output": block.get("content"),
                    "extras": {"block_type": btype},
                }
            )
        return self.non_standard(block)

    def _delta(self, index: int, delta: dict[str, Any]) -> list[AIMessageChunk]:
        dtype = delta.get("type")
        if dtype == "text_delta":
            return self.text(delta.get("text") or "")
        kind, ours = self._blocks.get(index, ("", -1))
        if dtype == "input_json_delta":
            fragment = delta.get("partial_json") or ""
            if kind == "server_tool":
                self._server_tools[index]["partial_json"] += fragment
                return []
            return self.tool_call(ours, args=fragment) if kind == "tool" else []
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
        cache_read = raw.get("cache_read_input_tokens") or 0
        cache_creation = raw.get("cache_creation_input_tokens") or 0
        details = raw.get("output_tokens_details") or {}
        self.usage = make_usage(
            input_tokens=(raw.get("input_tokens") or 0) + cache_read + cache_creation,
            output_tokens=raw.get("output_tokens") or 0,
            cache_read=cache_read,
            cache_creation=cache_creation,
            reasoning=details.get("thinking_tokens") or details.get("reasoning_tokens") or 0,
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


def _image_block(block: dict[str, Any]) -> dict[str, Any] | None:
    """Standard (v1) or OpenAI-style image blocks -> Anthropic image source."""
    if block.get("type") == "image_url":
        url = (
            block["image_url"]["url"]
            if isinstance(block["image_url"], dict)
            else block["image_url"]
        )
    elif block.get("type") == "image":
        if block.get("source"):
            return block  # already Anthropic-shaped
        if block.get("base64"):
            return {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": block.get("mime_type", "image/png"),
                    "data": block["base64"],
                },
            }
        url = block.get("url")
    else:
        return None
    if not url:
        return None
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _user_blocks(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            if part:
                blocks.append({"type": "text", "text": part})
        elif part.get("type") == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif (image := _image_block(part)) is not None:
            blocks.append(image)
        else:
            blocks.append({k: v for k, v in part.items() if k != "index"})
    return blocks


def _assistant_blocks(message: AIMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    content = message.content
    parts: list[Any] = [content] if isinstance(content, str) else list(content)
    for part in parts:
        if isinstance(part, str):
            if part:
                blocks.append({"type": "text", "text": part})
            continue
        ptype = part.get("type")
        extras = part.get("extras") or {}
        if ptype == "reasoning":
            if "redacted_data" in extras:
                blocks.append({"type": "redacted_thinking", "data": extras["redacted_data"]})
            else:
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": part.get("reasoning", ""),
                        "signature": extras.get("signature", ""),
                    }
                )
        elif ptype == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif ptype == "server_tool_call":
            blocks.append(
                {
                    "type": "server_tool_use",
                    "id": part["id"],
                    "name": part["name"],
                    "input": part.get("args") or {},
                }
            )
        elif ptype == "server_tool_result":
            blocks.append(
                {
                    "type": (part.get("extras") or {}).get("block_type", "web_search_tool_result"),
                    "tool_use_id": part.get("tool_call_id"),
                    "content": part.get("output"),
                }
            )
        elif ptype == "non_standard":
            value = dict(part.get("value") or {})
            value.pop("index", None)
            blocks.append(value)
        elif ptype in ("thinking", "redacted_thinking", "tool_use"):
            blocks.append({k: v for k, v in part.items() if k != "index"})
    seen_tool_ids = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    for call in message.tool_calls:
        if call.get("id") not in seen_tool_ids:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": call["name"],
                    "input": call["args"],
                }
            )
    return blocks


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    content = message.content
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id,
        "content": content if isinstance(content, str) else _user_blocks(content),
    }
    if message.status == "error":
        block["is_error"] = True
    return block


def to_anthropic_messages(
    messages: Sequence[BaseMessage],
) -> tuple[str | None, list[dict[str, Any]]]:
    """LangChain messages -> (``system``, ``messages``) for the Messages API.

    System messages move to the separate ``system`` field, tool results become
    user-turn ``tool_result`` blocks, and consecutive turns of one role merge,
    because the API requires alternating roles.
    """
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": list(blocks)})

    for message in messages:
        if isinstance(message, SystemMessage):
            content = message.content
            system_parts.append(
                content
                if isinstance(content, str)
                else "".join(b if isinstance(b, str) else b.get("text", "") for b in content)
            )
        elif isinstance(message, AIMessage):
            add("assistant", _assistant_blocks(message))
        elif isinstance(message, ToolMessage):
            add("user", [_tool_result(message)])
        elif isinstance(message, HumanMessage) or message.type in ("human", "user"):
            add("user", _user_blocks(message.content))
        else:
            raise ValueError(
                f"cannot send a {type(message).__name__} to Anthropic: use System, Human, AI or "
                "Tool messages"
            )
    system = "\n\n".join(p for p in system_parts if p) or None
    return system, turns


def _anthropic_tool(tool: Any) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(tool, dict) and (
        "input_schema" in tool or ("type" in tool and tool["type"] != "function")
    ):
        return tool  # already Anthropic-shaped (or a server tool such as web_search)
    function = convert_to_openai_tool(tool)["function"]
    return {
        "name": function["name"],
        "description": function.get("description", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }


def _anthropic_tool_choice(choice: Any) -> dict[str, Any]:
    if isinstance(choice, dict):
        return choice
    if choice in ("any", "required", True):
        return {"type": "any"}
    if choice in ("auto", "none"):
        return {"type": choice}
    return {"type": "tool", "name": str(choice)}


class AnthropicChatModel(StreamtapChatModel):
    """Anthropic Messages through the official ``anthropic`` SDK."""

    wire: ClassVar[str] = "anthropic"
    provider_name: str = "anthropic"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_BASE_URL",)
    profile_source: ClassVar[str | None] = "anthropic"
    # A trailing assistant turn is continued, but it must not end in whitespace and
    # cannot follow thinking blocks; Claude 4.6 and later refuse it (data/continuation.toml).
    wire_continuation: ClassVar[Continuation] = "prefill"
    prefill_trailing_whitespace: ClassVar[bool] = False
    prefill_after_reasoning: ClassVar[bool] = False

    @property
    def _llm_type(self) -> str:
        return "streamtap-anthropic"

    def _client_class(self, *, is_async: bool) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic if is_async else anthropic.Anthropic

    def _new_mapper(self, stop: list[str] | None = None) -> MessagesMapper:
        return MessagesMapper(model_provider=self.provider_name)

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        system, turns = to_anthropic_messages(messages)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            "max_tokens": self.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            request["system"] = system
        if stop := (stop or self.stop):
            request["stop_sequences"] = stop
        kwargs.pop("response_format", None)  # structured output goes through tools here
        return self._finish_request(request, kwargs)

    def _tool(self, tool: Any) -> dict[str, Any]:
        return _anthropic_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return _anthropic_tool_choice(choice)

    def _create(self, client: Any, request: dict[str, Any]) -> Any:
        return client.messages.create(**_sdk_arguments(request))

    async def _acreate(self, client: Any, request: dict[str, Any]) -> Any:
        return await client.messages.create(**_sdk_arguments(request))


@functools.cache
def _create_parameters() -> frozenset[str]:
    import anthropic

    return frozenset(inspect.signature(anthropic.resources.messages.Messages.create).parameters)


def _sdk_arguments(request: dict[str, Any]) -> dict[str, Any]:
    """Request fields the SDK's ``create()`` has no argument for travel in ``extra_body``.

    anthropic 2.x dropped ``temperature`` / ``top_p`` / ``top_k`` from ``messages.create()``;
    the API (and compatible servers such as llama.cpp) still honour them in the body.
    """
    known = _create_parameters()
    extra = {k: v for k, v in request.items() if k not in known}
    if not extra:
        return request
    arguments = {k: v for k, v in request.items() if k in known}
    arguments["extra_body"] = {**extra, **(request.get("extra_body") or {})}
    return arguments
