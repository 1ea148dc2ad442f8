"""Chat Completions requests: langchain-core messages and tools in OpenAI's shapes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.utils import convert_to_openai_messages


def _assistant_text(message: AIMessage) -> AIMessage:
    """Chat Completions cannot take reasoning back: keep the visible text only."""
    if isinstance(message.content, str):
        return message
    texts = [
        part if isinstance(part, str) else part.get("text", "")
        for part in message.content
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
    ]
    return message.model_copy(update={"content": "".join(texts)})


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages -> Chat Completions ``messages`` (langchain-core does the work)."""
    prepared = [_assistant_text(m) if isinstance(m, AIMessage) else m for m in messages]
    converted = convert_to_openai_messages(prepared)
    out: list[dict[str, Any]] = []
    for item in converted:
        if item.get("role") == "assistant" and item.get("tool_calls") and not item.get("content"):
            item["content"] = None
        out.append(item)
    return out


def _chat_tool(tool: Any) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice not in ("auto", "none", "required", "any"):
        return {"type": "function", "function": {"name": choice}}
    if choice == "any":
        return "required"
    if choice is True:
        return "required"
    return choice


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _fitted_id(call_id: str, length: int) -> str:
    """``call_id`` as ``length`` letters and digits: itself when it already is, else a
    stable digest, so a call and its result (and every later replay) agree."""
    if re.fullmatch(rf"[A-Za-z0-9]{{{length}}}", call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:length])


def fit_tool_call_ids(messages: list[dict[str, Any]], length: int) -> None:
    """Rewrite, in place, tool-call ids another vendor made into the shape this server
    demands (Mistral: exactly 9 letters and digits), in the calls and their results."""
    for message in messages:
        for call in message.get("tool_calls") or ():
            if isinstance(call.get("id"), str):
                call["id"] = _fitted_id(call["id"], length)
        if message.get("role") == "tool" and isinstance(message.get("tool_call_id"), str):
            message["tool_call_id"] = _fitted_id(message["tool_call_id"], length)
