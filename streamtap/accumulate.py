"""Summing a chunk stream in linear time.

``functools.reduce(operator.add, chunks)`` is the definition of the
accumulated message, but each ``+`` copies the content so far, which makes a
long stream quadratic. :class:`Accumulator` gives the same message (tests
check equality against ``reduce``) while doing O(1) work per chunk: runs of
plain deltas (``streamtap._delta``: text, one tool call's argument fragments,
one indexed block's text) are kept as string pieces and joined once; everything else is merged by
langchain-core itself when the result is asked for.
"""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks

from streamtap._delta import DeltaKind, delta_kind, delta_text, with_delta_text

__all__ = ["Accumulator"]


def _is_header(chunk: AIMessageChunk) -> bool:
    """A tool call's first fragment (its id or name): it may open a run, never join one."""
    tc = chunk.tool_call_chunks
    return bool(tc) and (tc[0].get("id") is not None or tc[0].get("name") is not None)


class Accumulator:
    """Folds chunks into the message their sum is, in linear time."""

    __slots__ = ("_chunks", "_id", "_key", "_pieces", "_template")

    def __init__(self) -> None:
        self._chunks: list[AIMessageChunk] = []
        self._key: DeltaKind | None = None
        self._pieces: list[str] = []
        self._template: AIMessageChunk | None = None
        self._id: str | None = None

    def add(self, chunk: AIMessageChunk) -> None:
        key = delta_kind(chunk)
        joins = key is not None and key == self._key and chunk.id == self._id
        if joins and (key[0] != "tool" or not _is_header(chunk)):  # type: ignore[index]
            self._pieces.append(delta_text(key, chunk))  # type: ignore[arg-type]
            return
        self._flush()
        if key is None:
            self._chunks.append(chunk)
        else:
            self._key, self._id, self._template = key, chunk.id, chunk
            self._pieces = [delta_text(key, chunk)]

    def _flush(self) -> None:
        template, key = self._template, self._key
        if template is None or key is None:
            return
        merged = with_delta_text(key, template, "".join(self._pieces))
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
