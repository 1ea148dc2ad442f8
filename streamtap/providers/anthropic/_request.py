"""Anthropic Messages requests: langchain-core messages and tools in Anthropic's shapes.

Pure functions; the chat model (``_model``) assembles them into one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
)

from streamtap.providers._turns import alternating_turns


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
    system_messages, turns = alternating_turns(
        messages,
        vendor="Anthropic",
        assistant=_assistant_blocks,
        tool_result=_tool_result,
        user=_user_blocks,
    )
    system_parts = [
        m.content
        if isinstance(m.content, str)
        else "".join(b if isinstance(b, str) else b.get("text", "") for b in m.content)
        for m in system_messages
    ]
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
