"""The cross-vendor contract every wire's replay is checked against, written once.

A fixture's ``want`` (from ``scenarios.json``) is the logical answer; ``check_message``
compares a summed message (or a ``StreamInterrupted.partial``) with it, ``check_chunks``
checks the chunk-level rules: one id, usage and finish on the last chunk only, text as
plain ``str``. The per-wire differences are arguments, so a vendor that cannot report a
field says so at its call site instead of in a near-copy of these checks."""

from __future__ import annotations

import functools
import operator
from collections.abc import Container, Sequence
from typing import Any

from langchain_core.messages import AIMessageChunk

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "refusal", "pause")


def total(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    return functools.reduce(operator.add, chunks)


def text(message: AIMessageChunk) -> str:
    """The answer's text: ``str`` content, or its ``str`` and ``text`` parts."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        p if isinstance(p, str) else p.get("text", "")
        for p in content
        if isinstance(p, str) or p.get("type") == "text"
    )


def reasoning(message: AIMessageChunk) -> str:
    return "".join(
        b.get("reasoning", "") for b in message.content_blocks if b["type"] == "reasoning"
    )


def check_message(
    message: AIMessageChunk, want: dict[str, Any], *, reasoning_tokens: bool = True
) -> None:
    """The summed message is the logical answer.

    ``reasoning_tokens=False`` for a wire that reports no reasoning-token count (Bedrock
    Converse): the rest of its usage is still compared."""
    assert text(message) == want["text"] + want["refusal"]
    assert reasoning(message) == want["reasoning"]
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        (c["name"], c["args"]) for c in want["tool_calls"]
    ]
    assert message.invalid_tool_calls == []
    redacted = [
        b
        for b in message.content_blocks
        if b["type"] == "reasoning" and "redacted_data" in (b.get("extras") or {})
    ]
    assert bool(redacted) == want.get("redacted_thinking", False)
    if want["usage"] is None:
        return
    u, usage = want["usage"], message.usage_metadata
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (
        u["input_tokens"],
        u["output_tokens"],
        u["total_tokens"],
    )
    details = usage.get("input_token_details", {})
    assert details.get("cache_read", 0) == u["cache_read"]
    assert details.get("cache_creation", 0) == u["cache_creation"]
    if reasoning_tokens:
        assert usage.get("output_token_details", {}).get("reasoning", 0) == u["reasoning"]


def check_chunks(
    chunks: Sequence[AIMessageChunk],
    want: dict[str, Any],
    *,
    id_prefixes: tuple[str, ...] = ("chatcmpl-", "resp_", "msg_"),
    native_reasons: Container[str] | None = None,
    model_name: str | None = None,
    provider: str | None = None,
) -> None:
    """Every chunk keeps the contract: one vendor id; usage, finish reason and metadata on
    the last chunk only; text-only chunks as plain ``str`` so ``print(chunk.content)``
    works everywhere.

    ``native_reasons`` bounds the raw finish reason, ``model_name`` and ``provider`` pin
    the metadata, where the wire's fixtures fix them."""
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and None not in ids, ids
    (message_id,) = ids
    assert message_id is not None and message_id.startswith(id_prefixes), message_id
    for chunk in chunks[:-1]:
        assert chunk.usage_metadata is None
        assert chunk.chunk_position is None
        assert not chunk.response_metadata
        if not chunk.tool_call_chunks and isinstance(chunk.content, list):
            assert all(isinstance(b, dict) for b in chunk.content)
    for chunk in chunks:
        if not chunk.tool_call_chunks and chunk.content and not isinstance(chunk.content, list):
            assert isinstance(chunk.content, str)
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.usage_metadata is not None
    meta = last.response_metadata
    assert meta["finish_reason"] == want["finish_reason"]
    assert meta["finish_reason"] in FINISH_REASONS
    # the raw reason as sent; xAI ends a tool-call answer with "", which is kept
    xai_tools = meta["model_provider"] == "xai" and meta["finish_reason"] == "tool_calls"
    assert meta["native_finish_reason"] == "" if xai_tools else meta["native_finish_reason"]
    if native_reasons is not None:
        assert meta["native_finish_reason"] in native_reasons
    assert meta["model_name"] == model_name if model_name is not None else meta["model_name"]
    assert meta["model_provider"] == provider if provider is not None else meta["model_provider"]
