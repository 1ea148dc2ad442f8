"""Responses requests: langchain-core messages and tools as Responses input items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)


def _content_parts(content: str | list[Any], *, role: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    text_type = "output_text" if role == "assistant" else "input_text"
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append({"type": text_type, "text": part})
        elif part.get("type") == "text":
            parts.append({"type": text_type, "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (
                part["image_url"]["url"]
                if isinstance(part["image_url"], dict)
                else part["image_url"]
            )
            parts.append({"type": "input_image", "image_url": url})
        elif part.get("type") == "image":
            if part.get("base64"):
                url = f"data:{part.get('mime_type', 'image/png')};base64,{part['base64']}"
            else:
                url = part.get("url", "")
            parts.append({"type": "input_image", "image_url": url})
        elif part.get("type") in ("input_text", "input_image", "input_file", "output_text"):
            parts.append(part)
    return parts


def to_responses_input(
    messages: Sequence[BaseMessage],
) -> tuple[str | None, list[dict[str, Any]]]:
    """LangChain messages -> (``instructions``, ``input`` items) for the Responses API."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            content = message.content
            instructions.append(
                content
                if isinstance(content, str)
                else "".join(b if isinstance(b, str) else b.get("text", "") for b in content)
            )
        elif isinstance(message, HumanMessage):
            items.append({"role": "user", "content": _content_parts(message.content, role="user")})
        elif isinstance(message, AIMessage):
            items.extend(_assistant_items(message))
        elif isinstance(message, ToolMessage):
            output = (
                message.content if isinstance(message.content, str) else json.dumps(message.content)
            )
            items.append(
                {"type": "function_call_output", "call_id": message.tool_call_id, "output": output}
            )
        else:
            raise ValueError(
                f"cannot send a {type(message).__name__} to the Responses API: use System, "
                "Human, AI or Tool messages"
            )
    return ("\n\n".join(instructions) or None), items


def _assistant_items(message: AIMessage) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[str] = []
    parts = [message.content] if isinstance(message.content, str) else message.content
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif part.get("type") == "reasoning":
            extras = part.get("extras") or {}
            if extras.get("item_id") and extras.get("encrypted_content"):
                summary = (
                    [{"type": "summary_text", "text": part["reasoning"]}]
                    if part.get("reasoning")
                    else []
                )
                items.append(
                    {
                        "type": "reasoning",
                        "id": extras["item_id"],
                        "summary": summary,
                        "encrypted_content": extras["encrypted_content"],
                    }
                )
    text = "".join(texts)
    if text:
        items.append({"role": "assistant", "content": text})
    for call in message.tool_calls:
        items.append(
            {
                "type": "function_call",
                "call_id": call.get("id"),
                "name": call["name"],
                "arguments": json.dumps(call["args"]),
            }
        )
    return items


def _responses_tool(tool: Any) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(tool, dict) and tool.get("type") not in (None, "function"):
        return tool  # built-in tool such as {"type": "web_search"}
    function = convert_to_openai_tool(tool)["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function.get("description", ""),
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
    }


def _responses_tool_choice(choice: Any) -> Any:
    if choice in ("any", True):
        return "required"
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "name": choice}
    return choice
