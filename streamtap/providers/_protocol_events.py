"""streamtap's normalized chunks -> the Agent Streaming Protocol's ``messages`` events.

langchain-core's ``stream_events(version="v3")`` (and LangGraph's v3 runs, through
``_V2StreamingCallbackHandler``) read a chat model's answer as protocol events:
``message-start``, per block ``content-block-start`` / ``-delta`` / ``-finish``, then
``message-finish`` with usage and the response metadata. A model without its own
``_stream_chat_model_events`` goes through core's compat bridge
(``langchain_core.language_models._compat_bridge.chunks_to_events``), which reads
every chunk through ``AIMessageChunk.content_blocks`` (a translator lookup and a
best-effort parse per token) and copies each block twice.

:class:`ProtocolEventFold` is the same fold, reading the normalized chunk
vocabulary (``_chunks.py``) directly: plain ``str`` text, ``reasoning`` blocks,
``tool_call_chunks``; anything else (citations, server tools, non-standard blocks,
the closing chunk) is read through ``content_blocks`` as the bridge reads it. The
events are built with core's own bridge helpers (start skeletons, block
finalization, usage, the message events), so a stream gives the bridge's events,
event for event (``tests/providers/test_protocol_events.py`` holds every recorded
fixture to it), except where the bridge is wrong for streamtap's chunks:

* **Block identity.** The bridge keys blocks by their ``index`` alone, but
  streamtap numbers tool calls (``tool_call_chunks``) and the other non-text blocks
  (reasoning, citations, server tools) in two separate ordinal spaces, as
  langchain-core's own message merging does. When both occur in one message the
  bridge folds tool call 0 into reasoning block 0: the tool call gets no
  ``content-block-start``, its argument deltas land in the reasoning block, and
  the reasoning is lost from its ``content-block-finish``. Here each space is its
  own, so every block gets its own wire index.
* **Several citations on one text block** arrive as several chunks of the same
  block; the bridge keeps only the last one's ``annotations``, here they are
  concatenated, as summing the chunks does.
* **A restarted answer** (``resilient(recovery=...)`` starting over after content was
  shown: its first chunk carries ``response_metadata["stream_reset"]``) gets blocks of
  its own: the abandoned answer's blocks finish where it was dropped, the new one's open
  after them. The bridge folds the new answer into the old blocks (the text doubled in
  one block, a restarted tool call's arguments appended to the abandoned ones). A delta
  cannot be taken back, so the assembled message keeps the abandoned blocks either way.

Gateway metadata (``lc_gateway_metadata``) is dropped from ``message-finish`` as
the bridge drops it; the bridge also hands it to the stream's tracing-only
``generation_info``, which a native producer cannot reach (streamtap's wires never
carry it).

When the bridge helpers are not importable (a langchain-core that moved them), the
fold defers to the public ``chunks_to_events`` itself: the same events, at the
bridge's cost.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from contextlib import aclosing, closing
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessageChunk

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
    from langchain_core.messages import BaseMessage
    from langchain_protocol.protocol import MessagesData, UsageInfo

__all__ = [
    "RESTART_KEY",
    "EmitsProtocolEvents",
    "ProtocolEventFold",
    "aprotocol_events",
    "native_events_available",
    "protocol_events",
    "run_message_id",
]

try:  # langchain-core >= 1.8: the compat bridge's builders, reused rather than rewritten
    from langchain_core.language_models._compat_bridge import (
        _accumulate,
        _accumulate_usage,
        _build_message_finish,
        _build_message_start,
        _finalize_block,
        _start_skeleton,
        _to_content_delta,
    )
    from langchain_core.utils._gateway import GATEWAY_METADATA_RESPONSE_KEY
    from langchain_core.utils._merge import merge_dicts

    _HELPERS = True
except ImportError:  # pragma: no cover - exercised by the fallback test (monkeypatched)
    _HELPERS = False

try:
    from langchain_core.utils.utils import LC_ID_PREFIX
except ImportError:  # pragma: no cover
    LC_ID_PREFIX = "lc_run-"

#: The key the bridge gives a chunk's plain text (a block with no ``index``, first in
#: its chunk): kept, so text read here and text read through ``content_blocks`` agree.
_TEXT_KEY = ("__lc_no_index__", "text", 0)
#: The field a deltaable block streams, by block type.
_STREAMED = {
    "text": "text",
    "reasoning": "reasoning",
    "tool_call_chunk": "args",
    "server_tool_call_chunk": "args",
}
_TOOL_CHUNKS = frozenset({"tool_call_chunk", "server_tool_call_chunk"})
#: The ``response_metadata`` key of a chunk that starts an answer over (resilience's
#: restart): the blocks so far are finished, the answer's own open after them.
RESTART_KEY = "stream_reset"


def native_events_available() -> bool:
    """Whether the fold runs on its own (else it defers to core's bridge)."""
    return _HELPERS


def run_message_id(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> str | None:
    """The message id langchain-core gives a run's events: ``lc_run--<run id>``."""
    if run_manager is None:
        return None
    return f"{LC_ID_PREFIX}-{run_manager.run_id}"


class _Block:
    """One wire block: its index, its accumulated fields, and the streamed field's parts
    (joined once at the finish instead of concatenated per token)."""

    __slots__ = ("field", "index", "keyed", "parts", "state")

    def __init__(self, index: int, block: dict[str, Any]) -> None:
        self.index = index
        state = dict(block)
        field = _STREAMED.get(state.get("type"))  # type: ignore[arg-type]
        self.field = field
        self.keyed = field is not None and field in state
        first = state.pop(field, None) if field is not None else None
        self.parts: list[str] = [first] if first else []
        self.state = state

    def merge(self, block: dict[str, Any]) -> None:
        """Fold a later slice of the same block in, as the bridge's ``_accumulate`` does."""
        field = self.field
        state = self.state
        btype = block.get("type")
        if field is not None and btype == state.get("type"):
            value = block.get(field)
            if value:
                self.parts.append(value)
            self.keyed = True
            if btype in _TOOL_CHUNKS:
                if block.get("id") is not None:
                    state["id"] = block["id"]
                if block.get("name") is not None:
                    state["name"] = block["name"]
                return
            if any(k not in ("type", "index", field) for k in block):  # extras, annotations...
                rest = {k: v for k, v in block.items() if k != field}
                if "annotations" in rest and "annotations" in state:
                    rest["annotations"] = [*state["annotations"], *rest["annotations"]]
                _accumulate(state, rest)
                state.pop(field, None)
            return
        self._materialize()
        if (
            btype == "text"
            and state.get("type") == "text"
            and "annotations" in block
            and "annotations" in state
        ):
            block = {**block, "annotations": [*state["annotations"], *block["annotations"]]}
        _accumulate(state, dict(block))

    def _materialize(self) -> None:
        """Put the streamed field back into ``state``: the block is accumulated generically."""
        if self.field is not None:
            if self.keyed:
                self.state[self.field] = "".join(self.parts)
            self.field = None
            self.parts = []

    def finished(self) -> MessagesData:
        self._materialize()
        return {
            "event": "content-block-finish",
            "index": self.index,
            "content": _finalize_block(self.state),
        }


class ProtocolEventFold:
    """Normalized chunks in (:meth:`feed`), protocol ``messages`` events out.

    Pure: no I/O, no callbacks. ``message_id`` is the id ``message-start`` carries
    (``run_message_id(run_manager)``); ``None`` takes the first chunk's own id.
    :meth:`finish` closes every block and the message; a stream that ends with no
    chunk at all gives no events (as the bridge: core reports it as an error).
    """

    __slots__ = (
        "_additional_kwargs",
        "_blocks",
        "_message_id",
        "_metadata",
        "_offset",
        "_started",
        "_text",
        "_usage",
    )

    def __init__(self, message_id: str | None = None) -> None:
        self._message_id = message_id
        self._started = False
        self._blocks: dict[Any, _Block] = {}
        self._offset = 0  # blocks finished by a restart
        self._text: _Block | None = None
        self._usage: UsageInfo | None = None
        self._metadata: dict[str, Any] = {}
        self._additional_kwargs: dict[str, Any] = {}

    def feed(self, chunk: AIMessageChunk) -> list[MessagesData]:
        """The events one chunk adds."""
        out: list[MessagesData] = []
        if not self._started:
            self._started = True
            out.append(_build_message_start(chunk, self._message_id))
        content = chunk.content
        calls = chunk.tool_call_chunks
        if chunk.response_metadata or chunk.additional_kwargs:
            if RESTART_KEY in chunk.response_metadata and self._blocks:
                out.extend(self._restart())
            self._message_fields(chunk)
            self._read_blocks(chunk, out)
        elif isinstance(content, str):
            if content and not calls:  # the hot path: one token of text
                text = self._text
                if text is None:
                    text = self._open(_TEXT_KEY, {"type": "text", "text": content}, out)
                elif text.field == "text":
                    text.parts.append(content)
                    text.keyed = True
                else:  # pragma: no cover - a text block read generically before
                    text.merge({"type": "text", "text": content})
                out.append(
                    {
                        "event": "content-block-delta",
                        "index": text.index,
                        "delta": {"type": "text-delta", "text": content},
                    }
                )
            elif not content and calls and chunk.chunk_position != "last":
                for position, call in enumerate(calls):
                    block: dict[str, Any] = {
                        "type": "tool_call_chunk",
                        "id": call.get("id"),
                        "name": call.get("name"),
                        "args": call.get("args"),
                    }
                    if (index := call.get("index")) is not None:
                        block["index"] = index
                    self._place(block, position, out)
            elif content or calls:  # pragma: no cover - no streamtap wire sends both
                self._read_blocks(chunk, out)
        elif not calls and _all_reasoning(content):
            for position, part in enumerate(content):
                self._place(part, position, out)  # type: ignore[arg-type]
        else:
            self._read_blocks(chunk, out)
        if chunk.usage_metadata:
            self._usage = _accumulate_usage(self._usage, chunk.usage_metadata)
        return out

    def finish(self) -> list[MessagesData]:
        """Every block's ``content-block-finish`` in wire order, then ``message-finish``."""
        if not self._started:
            return []
        out = [block.finished() for block in self._blocks.values()]
        out.append(
            _build_message_finish(
                usage=self._usage,
                response_metadata=self._metadata,
                additional_kwargs=self._additional_kwargs,
            )
        )
        return out

    def _restart(self) -> list[MessagesData]:
        """The answer starts over: finish its blocks; the next ones open after them."""
        out = [block.finished() for block in self._blocks.values()]
        self._offset += len(self._blocks)
        self._blocks = {}
        self._text = None
        return out

    # -- the fast paths: streamtap's own chunk shapes ---------------------------------
    def _open(self, key: Any, block: dict[str, Any], out: list[MessagesData]) -> _Block:
        opened = _Block(self._offset + len(self._blocks), block)
        self._blocks[key] = opened
        if key == _TEXT_KEY:
            self._text = opened
        out.append(
            {
                "event": "content-block-start",
                "index": opened.index,
                "content": _start_skeleton(block),
            }
        )
        return opened

    def _place(self, block: dict[str, Any], position: int, out: list[MessagesData]) -> None:
        """A reasoning or tool-call slice: opened or merged, and its delta."""
        key = _key(block, block.get("index"), position)
        found = self._blocks.get(key)
        if found is None:
            found = self._open(key, block, out)
        else:
            found.merge(block)
        delta = _fast_delta(block)
        if delta is not None:
            out.append({"event": "content-block-delta", "index": found.index, "delta": delta})

    # -- everything else: read as the bridge reads it ----------------------------------
    def _message_fields(self, chunk: AIMessageChunk) -> None:
        if chunk.response_metadata:
            metadata = dict(chunk.response_metadata)
            metadata.pop(GATEWAY_METADATA_RESPONSE_KEY, None)
            self._metadata.update(metadata)
        if chunk.additional_kwargs:
            self._additional_kwargs = merge_dicts(self._additional_kwargs, chunk.additional_kwargs)

    def _read_blocks(self, chunk: AIMessageChunk, out: list[MessagesData]) -> None:
        try:
            blocks: list[Any] = chunk.content_blocks
        except Exception:
            return
        for position, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            key = _key(block, block.get("index"), position)
            found = self._blocks.get(key)
            if found is None:
                found = self._open(key, block, out)
            else:
                found.merge(block)
            delta = _to_content_delta(block)
            if delta is not None:
                out.append({"event": "content-block-delta", "index": found.index, "delta": delta})


def _key(block: dict[str, Any], index: Any, position: int) -> Any:
    """A block's identity across the stream: streamtap's two ordinal spaces kept apart."""
    if index is None:
        return ("__lc_no_index__", block.get("type"), position)
    return ("tool", index) if block.get("type") in _TOOL_CHUNKS else ("block", index)


def _all_reasoning(content: Any) -> bool:
    return all(isinstance(b, dict) and b.get("type") == "reasoning" for b in content)


def _fast_delta(block: dict[str, Any]) -> Any:
    btype = block.get("type")
    if btype == "reasoning":
        value = block.get("reasoning")
        return {"type": "reasoning-delta", "reasoning": value} if value else None
    value = block.get("args")
    return {"type": "tool-call-delta", "args": value} if value else None


def protocol_events(
    chunks: Iterable[AIMessageChunk], *, message_id: str | None = None
) -> Iterator[MessagesData]:
    """The protocol events for a whole chunk stream (:class:`ProtocolEventFold`)."""
    if not _HELPERS:  # pragma: no cover - exercised by the fallback test
        yield from _bridge(chunks, message_id)
        return
    fold = ProtocolEventFold(message_id)
    for chunk in chunks:
        yield from fold.feed(chunk)
    yield from fold.finish()


async def aprotocol_events(
    chunks: AsyncIterable[AIMessageChunk], *, message_id: str | None = None
) -> AsyncIterator[MessagesData]:
    """Async twin of :func:`protocol_events`."""
    if not _HELPERS:  # pragma: no cover - exercised by the fallback test
        from langchain_core.language_models._compat_bridge import achunks_to_events

        from streamtap.providers._chunks import generation_chunk

        async def wrapped() -> AsyncIterator[Any]:
            async for chunk in chunks:
                yield generation_chunk(chunk)

        async for event in achunks_to_events(wrapped(), message_id=message_id):
            yield event
        return
    fold = ProtocolEventFold(message_id)
    async for chunk in chunks:
        for event in fold.feed(chunk):
            yield event
    for event in fold.finish():
        yield event


def _bridge(chunks: Iterable[AIMessageChunk], message_id: str | None) -> Iterator[MessagesData]:
    from langchain_core.language_models._compat_bridge import chunks_to_events

    from streamtap.providers._chunks import generation_chunk

    return chunks_to_events((generation_chunk(c) for c in chunks), message_id=message_id)


class EmitsProtocolEvents:
    """Mixin for a chat model whose chunks follow the normalized contract: langchain-core's
    native v3 hooks (``_stream_chat_model_events`` / ``_astream_chat_model_events``), fed
    by :meth:`_event_chunks` / :meth:`_aevent_chunks` through :class:`ProtocolEventFold`
    instead of core's compat bridge over ``_stream``.

    streamtap's chat models, ``resilient()`` (``ResilientChatModel``), ``with_transforms()``
    (``TransformedChatModel``) and the testing ``FakeChatModel`` use it. The hooks get the
    run's manager, which a model may report on (retries, a restart's ``stream_reset``).
    """

    def _event_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Generator[AIMessageChunk, None, None]:  # pragma: no cover - each model has its own
        """The chunks ``_stream`` would wrap, for the same call."""
        raise NotImplementedError

    def _aevent_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[AIMessageChunk, None]:  # pragma: no cover - each model has its own
        """Async twin of :meth:`_event_chunks`."""
        raise NotImplementedError

    def _stream_chat_model_events(
        self,
        messages: list[BaseMessage],
        *,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[MessagesData]:
        """langchain-core's native v3 hook: this call's chunks as protocol events."""
        message_id = run_message_id(run_manager)
        with closing(self._event_chunks(messages, stop, run_manager, kwargs)) as chunks:
            if not _HELPERS:  # pragma: no cover - a langchain-core without the helpers
                yield from _bridge(chunks, message_id)
                return
            fold = ProtocolEventFold(message_id)
            for chunk in chunks:
                yield from fold.feed(chunk)
        yield from fold.finish()

    async def _astream_chat_model_events(
        self,
        messages: list[BaseMessage],
        *,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[MessagesData]:
        """Async twin of :meth:`_stream_chat_model_events`."""
        message_id = run_message_id(run_manager)
        async with aclosing(self._aevent_chunks(messages, stop, run_manager, kwargs)) as chunks:
            if not _HELPERS:  # pragma: no cover - a langchain-core without the helpers
                async for event in aprotocol_events(chunks, message_id=message_id):
                    yield event
                return
            fold = ProtocolEventFold(message_id)
            async for chunk in chunks:
                for event in fold.feed(chunk):
                    yield event
        for event in fold.finish():
            yield event
