"""Which chunks are plain deltas: the one rule the accumulator and the transforms share.

A plain delta adds text to exactly one thing and carries nothing else: text
content, one tool call's argument fragment, or one indexed text / reasoning /
thinking block. Runs of them can be joined as strings (``Accumulator``) or
re-cut (``coalesce``, ``redact``) without changing the summed message. Anything
else (usage, ``chunk_position``, ``response_metadata``, ``additional_kwargs``,
several tool calls, whole tool calls) must pass as it came.
"""

from __future__ import annotations

from typing import Any, Final

from langchain_core.messages import AIMessageChunk

__all__ = ["BLOCK_FIELDS", "DeltaKind", "delta_kind", "delta_text", "with_delta_text"]

#: ``("text",)``, ``("tool", index)`` or ``("block", type, index)``.
DeltaKind = tuple[Any, ...]

#: Block types whose one text field a delta extends.
BLOCK_FIELDS: Final = {"text": "text", "reasoning": "reasoning", "thinking": "thinking"}


def delta_kind(chunk: AIMessageChunk) -> DeltaKind | None:
    """What plain delta ``chunk`` is, or None when it must be merged (or passed) as is."""
    if chunk.response_metadata or chunk.usage_metadata or chunk.chunk_position:
        return None
    if chunk.additional_kwargs:
        return None
    content = chunk.content
    tool_chunks = chunk.tool_call_chunks
    if isinstance(content, str):
        if not tool_chunks:
            return None if chunk.tool_calls or chunk.invalid_tool_calls else ("text",)
        # tool_calls / invalid_tool_calls are derived from the one fragment: not extra.
        if content == "" and len(tool_chunks) == 1:
            index = tool_chunks[0].get("index")
            return ("tool", index) if index is not None else None
        return None
    if tool_chunks or chunk.tool_calls or len(content) != 1:
        return None
    block = content[0]
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    field = BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
    index = block.get("index")
    # langchain-core merges content blocks by index; an unindexed block is a whole block.
    if field is None or index is None or not set(block) <= {"type", "index", field}:
        return None
    return ("block", kind, index)


def delta_text(kind: DeltaKind, chunk: AIMessageChunk) -> str:
    """The text a plain delta of ``kind`` adds."""
    if kind[0] == "text":
        return chunk.content  # type: ignore[return-value]
    if kind[0] == "tool":
        return chunk.tool_call_chunks[0].get("args") or ""
    block = chunk.content[0]
    assert isinstance(block, dict)
    return str(block.get(BLOCK_FIELDS[kind[1]]) or "")


def with_delta_text(kind: DeltaKind, chunk: AIMessageChunk, text: str) -> AIMessageChunk:
    """``chunk`` (a plain delta of ``kind``) carrying ``text`` instead."""
    if kind[0] == "text":
        return chunk.model_copy(update={"content": text})
    if kind[0] == "tool":
        tool_chunk = dict(chunk.tool_call_chunks[0])
        tool_chunk["args"] = text
        # Built through validation so tool_calls / invalid_tool_calls are re-derived.
        return AIMessageChunk(
            content=chunk.content,
            id=chunk.id,
            name=chunk.name,
            tool_call_chunks=[tool_chunk],
        )
    block = dict(chunk.content[0])  # type: ignore[arg-type]
    block[BLOCK_FIELDS[kind[1]]] = text
    return chunk.model_copy(update={"content": [block]})
