"""Bedrock Converse requests: langchain-core messages and tools in Converse's shapes.

Pure functions; the chat model (``_model``) assembles them into the keyword
arguments of ``converse_stream``. Converse is strict where other wires are
lenient, and the conversion absorbs it:

* roles must alternate, so consecutive turns of one role merge (the results of
  a parallel tool call travel in ONE user message);
* blank text blocks are rejected, so they are dropped;
* reasoning goes back as ``reasoningContent`` with its signature (or its
  ``redactedContent`` bytes), which Anthropic models need on the next turn of
  a tool-use loop with extended thinking;
* blobs (image bytes, redacted reasoning) are bytes: boto3 base64-encodes them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
)

from streamtap.providers._turns import alternating_turns

__all__ = [
    "NO_TOOLS",
    "TOP_LEVEL_FIELDS",
    "converse_tool",
    "converse_tool_choice",
    "has_tool_blocks",
    "split_extra",
    "to_converse_messages",
]

#: ``converse_stream`` arguments besides ``modelId`` / ``messages`` / ``system``.
TOP_LEVEL_FIELDS = frozenset(
    {
        "inferenceConfig",
        "toolConfig",
        "guardrailConfig",
        "additionalModelRequestFields",
        "promptVariables",
        "additionalModelResponseFieldPaths",
        "requestMetadata",
        "performanceConfig",
        "serviceTier",
        "outputConfig",
    }
)
#: ``inferenceConfig`` members, and the snake_case spellings users bring from other wires.
_INFERENCE = {
    "maxTokens": "maxTokens",
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "topP": "topP",
    "top_p": "topP",
    "stopSequences": "stopSequences",
    "stop_sequences": "stopSequences",
}

#: Converse refuses a history with toolUse / toolResult blocks unless the request has a
#: toolConfig ("The toolConfig field must be defined when using toolUse and toolResult
#: content blocks"). A request without tools (a summary after an agent loop, a
#: ``tool_choice="none"`` turn) gets this inert tool, so the history stays sendable
#: and the model has nothing real to call.
NO_TOOLS: dict[str, Any] = {
    "toolSpec": {
        "name": "no_tools_available",
        "description": "No tools are available in this turn: answer directly, never call this.",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }
}

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def split_extra(extra: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``model_kwargs`` / call kwargs -> (top-level fields, inferenceConfig, model fields).

    Converse has a fixed argument list: what is neither a Converse argument nor
    an ``inferenceConfig`` member is a model-specific field
    (``additionalModelRequestFields``: Anthropic's ``thinking``, ``top_k``...).
    """
    top: dict[str, Any] = {}
    inference: dict[str, Any] = {}
    model_fields: dict[str, Any] = {}
    for key, value in extra.items():
        if key in TOP_LEVEL_FIELDS:
            top[key] = value
        elif key in _INFERENCE:
            inference[_INFERENCE[key]] = value
        else:
            model_fields[key] = value
    return top, inference, model_fields


def _image(block: Mapping[str, Any]) -> dict[str, Any]:
    """Standard (v1) or OpenAI-style image blocks -> a Converse ``image`` block (bytes)."""
    mime = block.get("mime_type") or "image/png"
    data: str | None = block.get("base64")
    url: str | None = None
    if block.get("type") == "image_url":
        raw = block["image_url"]
        url = raw["url"] if isinstance(raw, Mapping) else raw
    elif data is None:
        url = block.get("url")
    if url and url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header[5:].split(";")[0] or mime
    elif url and url.startswith("s3://"):
        fmt = _IMAGE_FORMATS.get(mime, mime.rpartition("/")[2])
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    elif url:
        raise ValueError(
            "Bedrock Converse takes images as bytes or s3:// locations, not URLs: "
            f"download {url[:60]!r} and pass it as base64"
        )
    fmt = _IMAGE_FORMATS.get(mime, mime.rpartition("/")[2])
    return {"image": {"format": fmt, "source": {"bytes": base64.b64decode(data or "")}}}


def _user_blocks(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            if part.strip():
                blocks.append({"text": part})
            continue
        ptype = part.get("type")
        if ptype == "text":
            if (part.get("text") or "").strip():
                blocks.append({"text": part["text"]})
        elif ptype in ("image", "image_url"):
            blocks.append(_image(part))
        elif ptype is None and len(part) == 1:
            blocks.append(
                dict(part)
            )  # already Converse-shaped ({"document": ...}, {"cachePoint": ...})
        elif ptype == "non_standard":
            blocks.append(dict(part.get("value") or {}))
        else:
            raise ValueError(f"cannot send a {ptype!r} content block to Bedrock Converse")
    return blocks


def _reasoning(part: Mapping[str, Any]) -> dict[str, Any] | None:
    extras = part.get("extras") or {}
    if extras.get("redacted_data"):
        return {"reasoningContent": {"redactedContent": base64.b64decode(extras["redacted_data"])}}
    text = part.get("reasoning") or ""
    signature = extras.get("signature")
    if not text and not signature:
        return None
    reasoning_text: dict[str, Any] = {"text": text}
    if signature:
        reasoning_text["signature"] = signature
    return {"reasoningContent": {"reasoningText": reasoning_text}}


def _assistant_blocks(message: AIMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    content = message.content
    parts: list[Any] = [content] if isinstance(content, str) else list(content)
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                blocks.append({"text": part})
            continue
        ptype = part.get("type")
        if ptype == "text":
            if (part.get("text") or "").strip():
                blocks.append({"text": part["text"]})
        elif ptype == "reasoning":
            if (block := _reasoning(part)) is not None:
                blocks.append(block)
        elif ptype == "server_tool_call":
            blocks.append(
                {
                    "toolUse": {
                        "toolUseId": part.get("id"),
                        "name": part.get("name"),
                        "input": part.get("args") or {},
                        "type": "server_tool_use",
                    }
                }
            )
        elif ptype == "server_tool_result":
            result: dict[str, Any] = {
                "toolUseId": part.get("tool_call_id"),
                "content": _as_result_content(part.get("output")),
            }
            if part.get("status") == "error":
                result["status"] = "error"
            if block_type := (part.get("extras") or {}).get("block_type"):
                result["type"] = block_type
            blocks.append({"toolResult": result})
        elif ptype == "non_standard":
            value = dict(part.get("value") or {})
            value.pop("index", None)
            if value.get("type") in ("bedrock_delta", "bedrock_block_start"):
                continue  # a streamed fragment of a block newer than this code
            blocks.append(value)
        elif ptype is None and len(part) == 1:
            blocks.append(dict(part))  # already Converse-shaped
    for call in message.tool_calls:
        blocks.append(
            {"toolUse": {"toolUseId": call.get("id"), "name": call["name"], "input": call["args"]}}
        )
    return blocks


def _as_result_content(output: Any) -> list[dict[str, Any]]:
    """A server tool result's ``output`` (its streamed content blocks) as Converse content."""
    items = output if isinstance(output, list) else [output]
    return [
        dict(i) if isinstance(i, Mapping) else {"text": str(i)} for i in items if i is not None
    ] or [{"text": ""}]


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    content = message.content
    items: list[dict[str, Any]] = []
    if isinstance(content, str):
        items.append(_result_item(content))
    else:
        for part in content:
            if isinstance(part, str):
                items.append(_result_item(part))
            elif part.get("type") == "text":
                items.append(_result_item(part.get("text") or ""))
            elif part.get("type") in ("image", "image_url"):
                items.append(_image(part))
            elif part.get("type") == "json" and "json" in part:
                items.append({"json": part["json"]})
            else:
                items.append({"json": dict(part)})
    result: dict[str, Any] = {
        "toolUseId": message.tool_call_id,
        "content": items or [{"text": ""}],
    }
    if message.status == "error":
        result["status"] = "error"
    return {"toolResult": result}


def _result_item(text: str) -> dict[str, Any]:
    """A JSON object result travels as ``json`` (the model sees structure); other text as text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return {"json": value}
    return {"text": text}


def to_converse_messages(
    messages: Sequence[BaseMessage],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """LangChain messages -> (``system``, ``messages``) for Converse.

    System messages become the ``system`` list; tool results become user-turn
    ``toolResult`` blocks; consecutive turns of one role merge, because
    Converse rejects two user (or two assistant) messages in a row.
    """
    system_messages, turns = alternating_turns(
        messages,
        vendor="Bedrock",
        assistant=_assistant_blocks,
        tool_result=_tool_result,
        user=_user_blocks,
    )
    system = [block for m in system_messages for block in _user_blocks(m.content)]
    return system, turns


def has_tool_blocks(turns: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a Converse history holds toolUse / toolResult blocks (it then needs a toolConfig)."""
    return any(
        "toolUse" in block or "toolResult" in block
        for turn in turns
        for block in turn.get("content") or ()
    )


def converse_tool(tool: Any) -> dict[str, Any]:
    """One tool (pydantic class, function, BaseTool, dict) as a Converse ``toolSpec``."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(tool, Mapping) and ("toolSpec" in tool or "cachePoint" in tool):
        return dict(tool)  # already Converse-shaped
    function = convert_to_openai_tool(tool)["function"]
    spec: dict[str, Any] = {
        "name": function["name"],
        "inputSchema": {"json": function.get("parameters") or {"type": "object", "properties": {}}},
    }
    if function.get("description"):
        spec["description"] = function["description"]
    return {"toolSpec": spec}


def converse_tool_choice(choice: Any) -> dict[str, Any] | None:
    """``"auto"`` / ``"any"`` / a tool name -> Converse ``toolChoice``; ``"none"`` -> None.

    Converse has no "none" member: the chat model withholds the tools instead.
    """
    if isinstance(choice, Mapping):
        if choice.get("type") == "function":  # OpenAI's {"type": "function", "function": {name}}
            return {"tool": {"name": choice["function"]["name"]}}
        return dict(choice)
    if choice in ("any", "required", True):
        return {"any": {}}
    if choice == "auto":
        return {"auto": {}}
    if choice in ("none", False, None):
        return None
    return {"tool": {"name": str(choice)}}
