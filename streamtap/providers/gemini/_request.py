"""Gemini requests: langchain-core messages and tools in the wire's own JSON (camelCase).

Pure functions; the chat model (``_model``) assembles them into the body of
``streamGenerateContent``. The body is the wire format itself, not the SDK's typed
parameters: signatures then travel as the exact base64 text Gemini sent (the
typed ``bytes`` round trip would be a decode and a re-encode).
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
from streamtap.providers.gemini._events import SIGNATURE_TOOL_CALL_KEY, SYNTHETIC_ID_PREFIX

__all__ = ["gemini_tool", "gemini_tool_config", "to_gemini_contents"]


def _text_of(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        b if isinstance(b, str) else str(b.get("text", ""))
        for b in content
        if isinstance(b, str) or b.get("type") == "text"
    )


def _media_part(block: dict[str, Any]) -> dict[str, Any] | None:
    """Standard (v1) or OpenAI-style image/file blocks -> ``inlineData`` / ``fileData``."""
    btype = block.get("type")
    if btype == "image_url":
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
    elif btype in ("image", "file", "audio", "video"):
        mime = block.get("mime_type") or ("image/png" if btype == "image" else None)
        if block.get("base64"):
            return {
                "inlineData": {
                    "mimeType": mime or "application/octet-stream",
                    "data": block["base64"],
                }
            }
        url = block.get("url")
        if url and not str(url).startswith("data:"):
            return {"fileData": {"mimeType": mime or "application/octet-stream", "fileUri": url}}
    else:
        return None
    if not url:
        return None
    url = str(url)
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"inlineData": {"mimeType": header[5:].split(";")[0] or "image/png", "data": data}}
    return {"fileData": {"mimeType": "image/*", "fileUri": url}}


def _user_parts(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            if block:
                parts.append({"text": block})
        elif block.get("type") == "text":
            if block.get("text"):
                parts.append({"text": block["text"]})
        elif (media := _media_part(block)) is not None:
            parts.append(media)
        elif block.get("type") == "non_standard":
            parts.append(dict(block.get("value") or {}))
        elif "type" not in block:
            parts.append(dict(block))  # already a Gemini part
    return parts


def _signatures(blocks: list[Any]) -> tuple[dict[int, list[tuple[str, str]]], dict[str, str]]:
    """Text signatures by the text offset of the part they sign, call signatures by call id."""
    by_offset: dict[int, list[tuple[str, str]]] = {}
    by_call: dict[str, str] = {}
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "reasoning":
            continue
        for entry in (block.get("extras") or {}).get("signatures") or ():
            on, signature = entry.get("on"), entry.get("signature")
            if not signature:
                continue
            if on == "function_call":
                by_call[str(entry.get("tool_call_id"))] = signature
            elif on in ("text", "empty_text"):
                by_offset.setdefault(int(entry.get("offset") or 0), []).append((on, signature))
    return by_offset, by_call


def _thought_parts(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A reasoning block as thought parts, split where a signed thought part began."""
    text = str(block.get("reasoning") or "")
    extras = block.get("extras") or {}
    entries = [e for e in extras.get("signatures") or () if e.get("on") == "thought"]
    if not entries and extras.get("signature"):  # a block made elsewhere: one signature
        entries = [{"offset": 0, "signature": extras["signature"]}]
    if not text and not entries:
        return []
    cuts = sorted({int(e.get("offset") or 0) for e in entries} | {0})
    signed = {int(e.get("offset") or 0): e["signature"] for e in entries}
    parts = []
    for start, end in zip(cuts, [*cuts[1:], len(text)], strict=True):
        part: dict[str, Any] = {"text": text[start:end], "thought": True}
        if start in signed:
            part["thoughtSignature"] = signed[start]
        parts.append(part)
    return parts


def _model_parts(message: AIMessage) -> list[dict[str, Any]]:
    """An assistant turn's parts, each signature back on the part that carried it."""
    content = message.content
    blocks: list[Any] = [content] if isinstance(content, str) else list(content)
    by_offset, call_signatures = _signatures(blocks)
    parts: list[dict[str, Any]] = []
    offset = 0  # chars of text sent so far: where text signatures point

    def empties_at(at: int) -> None:
        """Signed empty text parts recorded at this point of the text."""
        entries = by_offset.get(at, [])
        for _, signature in [e for e in entries if e[0] == "empty_text"]:
            parts.append({"text": "", "thoughtSignature": signature})
        kept = [e for e in entries if e[0] != "empty_text"]
        if kept:
            by_offset[at] = kept
        else:
            by_offset.pop(at, None)

    def add_text(text: str) -> None:
        nonlocal offset
        if not text:
            return
        end = offset + len(text)
        starts = [offset, *sorted(k for k in by_offset if offset < k < end)]
        for start, stop in zip(starts, [*starts[1:], end], strict=True):
            empties_at(start)
            signature = next((s for _, s in by_offset.pop(start, [])), None)
            piece = text[start - offset : stop - offset]
            last = parts[-1] if parts else None
            if signature is None and last is not None and _plain_text(last):
                last["text"] += piece  # one part per run of text, as Gemini itself merges
            else:
                new: dict[str, Any] = {"text": piece}
                if signature is not None:
                    new["thoughtSignature"] = signature
                parts.append(new)
        offset = end

    for block in blocks:
        if isinstance(block, str):
            add_text(block)
            continue
        btype = block.get("type")
        if btype == "text":
            add_text(str(block.get("text") or ""))
        elif btype == "reasoning":
            empties_at(offset)
            parts.extend(_thought_parts(block))
        elif btype == "non_standard":
            value = dict(block.get("value") or {})
            value.pop("index", None)
            parts.append(value)
    for at in sorted(by_offset):  # signatures after the last text: empty parts, in order
        for _, signature in by_offset.pop(at):
            parts.append({"text": "", "thoughtSignature": signature})
    legacy = message.additional_kwargs.get(SIGNATURE_TOOL_CALL_KEY)
    if isinstance(legacy, dict):
        for key, value in legacy.items():
            call_signatures.setdefault(str(key), value)
    for call in message.tool_calls:
        call_id = call.get("id")
        function: dict[str, Any] = {"name": call["name"], "args": call.get("args") or {}}
        if call_id and not call_id.startswith(SYNTHETIC_ID_PREFIX):
            function["id"] = call_id
        part: dict[str, Any] = {"functionCall": function}
        if call_id and call_id in call_signatures:
            part["thoughtSignature"] = call_signatures[call_id]
        parts.append(part)
    return parts


def _plain_text(part: dict[str, Any]) -> bool:
    return set(part) == {"text"}


def _function_response(message: ToolMessage, names: dict[str, str]) -> dict[str, Any]:
    content = message.content
    text = content if isinstance(content, str) else _text_of(content)
    key = "error" if message.status == "error" else "result"
    response: dict[str, Any] = {
        "name": message.name or names.get(message.tool_call_id) or "",
        "response": {key: text},
    }
    if message.tool_call_id and not message.tool_call_id.startswith(SYNTHETIC_ID_PREFIX):
        response["id"] = message.tool_call_id
    return {"functionResponse": response}


def to_gemini_contents(
    messages: Sequence[BaseMessage],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """LangChain messages -> (``systemInstruction``, ``contents``).

    System messages move to ``systemInstruction``; tool results become user-turn
    ``functionResponse`` parts named after the call they answer; consecutive
    turns of one role merge (Gemini alternates user and model).
    """
    names: dict[str, str] = {}  # tool-call id -> function name, for the results that follow

    def model_parts(message: AIMessage) -> list[dict[str, Any]]:
        for call in message.tool_calls:
            if call.get("id"):
                names[str(call["id"])] = call["name"]
        return _model_parts(message)

    system_messages, contents = alternating_turns(
        messages,
        vendor="Gemini",
        assistant=model_parts,
        tool_result=lambda message: _function_response(message, names),
        user=_user_parts,
        assistant_role="model",
        key="parts",
    )
    system = [text for m in system_messages if (text := _text_of(m.content))]
    instruction = {"parts": [{"text": "\n\n".join(system)}]} if system else None
    return instruction, contents


#: JSON-schema keywords Gemini's function ``parameters`` (an OpenAPI subset) rejects.
_DROPPED_KEYS = frozenset({"additionalProperties", "$schema", "title", "default", "examples"})


def _schema(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema in Gemini's subset: ``$ref`` inlined, unsupported keywords dropped."""
    if isinstance(node, list):
        return [_schema(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        return _schema({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or key in ("$defs", "definitions"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _schema(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _schema(value, defs)
    return out


def gemini_tool(tool: Any) -> dict[str, Any]:
    """One tool as a ``functionDeclarations`` entry (a ready Gemini tool dict passes as is)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(tool, dict) and (
        "functionDeclarations" in tool
        or "function_declarations" in tool
        or "googleSearch" in tool
        or "google_search" in tool
        or "codeExecution" in tool
        or "code_execution" in tool
        or "urlContext" in tool
    ):
        return tool
    function = convert_to_openai_tool(tool)["function"]
    declaration: dict[str, Any] = {
        "name": function["name"],
        "description": function.get("description", ""),
    }
    parameters = function.get("parameters")
    if parameters and parameters.get("properties"):
        defs = {**parameters.get("definitions", {}), **parameters.get("$defs", {})}
        declaration["parameters"] = _schema(parameters, defs)
    return declaration


def gemini_tool_config(choice: Any, names: Sequence[str] = ()) -> dict[str, Any]:
    """``tool_choice`` -> ``toolConfig``: auto / any (``required``, True) / none / a tool name."""
    if isinstance(choice, dict):
        if "functionCallingConfig" in choice or "function_calling_config" in choice:
            return choice
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            choice = name
    if choice in ("auto", None):
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice in ("any", "required", True):
        return {"functionCallingConfig": {"mode": "ANY"}}
    if choice in ("none", False):
        return {"functionCallingConfig": {"mode": "NONE"}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [str(choice)]}}
