"""Summing a chunk stream in linear time.

``functools.reduce(operator.add, chunks)`` is the definition of the
accumulated message, but each ``+`` copies the content so far, which makes a
long stream quadratic. :class:`Accumulator` gives the same message (tests
check equality against ``reduce``) while doing O(1) work per chunk: runs of
plain deltas (text, one tool call's argument fragments, one reasoning block's
text) are kept as string pieces and joined once; everything else is merged by
langchain-core itself when the result is asked for.
"""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks

__all__ = ["Accumulator"]

# run keys: ("text",), ("tool", index), ("reasoning", index)
_RunKey = tuple[object, ...]


def _run_key(chunk: AIMessageChunk) -> _RunKey | None:
    """The kind of plain delta this chunk is, or None when it must be merged as is."""
    if chunk.response_metadata or chunk.usage_metadata or chunk.chunk_position:
        return None
    if chunk.additional_kwargs or chunk.tool_calls or chunk.invalid_tool_calls:
        return None
    content = chunk.content
    tool_chunks = chunk.tool_call_chunks
    if isinstance(content, str):
        if not tool_chunks:
            return ("text",)
        if content == "" and len(tool_chunks) == 1:
            tc = tool_chunks[0]
            if tc.get("id") is None and tc.get("name") is None:
                return ("tool", tc.get("index"))
        return None
    if tool_chunks or len(content) != 1:
        return None
    block = content[0]
    if (
        isinstance(block, dict)
        and block.get("type") == "reasoning"
        and set(block) <= {"type", "index", "reasoning"}
    ):
        return ("reasoning", block.get("index"))
    return None


def _piece(key: _RunKey, chunk: AIMessageChunk) -> str:
    if key[0] == "text":
        return chunk.content  # type: ignore[return-value]
    if key[0] == "tool":
        return chunk.tool_call_chunks[0].get("args") or ""
    block = chunk.content[0]
    return str(block.get("reasoning", "")) if isinstance(block, dict) else ""


class Accumulator:
    """Folds chunks into the message their sum is, in linear time."""

    __slots__ = ("_chunks", "_id", "_key", "_pieces", "_template")

    def __init__(self) -> None:
        self._chunks: list[AIMessageChunk] = []
        self._key: _RunKey | None = None
        self._pieces: list[str] = []
        self._template: AIMessageChunk | None = None
        self._id: str | None = None

    def add(self, chunk: AIMessageChunk) -> None:
        key = _run_key(chunk)
        if key is not None and key == self._key and chunk.id == self._id:
            self._pieces.append(_piece(key, chunk))
            return
        self._flush()
        if key is None:
            self._chunks.append(chunk)
        else:
            self._key, self._id, self._template = key, chunk.id, chunk
            self._pieces = [_piece(key, chunk)]

    def _flush(self) -> None:
        template, key = self._template, self._key
        if template is None or key is None:
            return
        joined = "".join(self._pieces)
        if key[0] == "text":
            merged = template.model_copy(update={"content": joined})
        elif key[0] == "tool":
            tc = dict(template.tool_call_chunks[0])
            tc["args"] = joined
            merged = template.model_copy(update={"tool_call_chunks": [tc]})
        else:
            block = dict(template.content[0])  # type: ignore[arg-type]
            block["reasoning"] = joined
            merged = template.model_copy(update={"content": [block]})
        self._chunks.append(merged)
        self._template = self._key = None
        self._pieces = []

    @property
    def empty(self) -> bool:
        return not self._chunks and self._template is None

    @property
    def has_content(self) -> bool:
        """True once anything the user could see (text, reasoning, tool call) arrived."""
        if self._template is not None:
            return True
        return any(c.content or c.tool_call_chunks for c in self._chunks)

    def message(self, *extra: AIMessageChunk) -> AIMessageChunk | None:
        """The accumulated message (plus ``extra`` chunks), or None if nothing came."""
        self._flush()
        chunks = [*self._chunks, *extra]
        if not chunks:
            return None
        if len(chunks) == 1:
            return chunks[0]
        return add_ai_message_chunks(chunks[0], *chunks[1:])
