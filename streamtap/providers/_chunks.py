"""The normalized chunk vocabulary every wire-format mapping speaks.

Each vendor module folds its own events into calls on :class:`ChunkMapper`
(``text``, ``reasoning``, ``tool_call``, ``finish``...). This class is the one
place that decides what a normalized chunk looks like, so the vendor modules
cannot drift apart:

* every chunk carries the vendor's message id;
* text is a plain ``str`` ``content`` (``print(chunk.content, end="")`` works);
* reasoning is a standard ``{"type": "reasoning"}`` block, indexed by its
  ordinal among the message's non-text blocks;
* tool calls are ``tool_call_chunks`` indexed by the call's ordinal;
* the last chunk alone carries usage, ``finish_reason`` and ``chunk_position="last"``.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.outputs import ChatGenerationChunk

from streamtap._compat import build_model
from streamtap.errors import StreamtapError

#: Marker in the final chunk's ``response_metadata`` telling ``content_blocks``
#: that the content is already in langchain-core's standard vocabulary.
CONTENT_FORMAT_KEY = "content_format"
CONTENT_FORMAT = "streamtap/v1"

#: ``response_metadata`` key of a vendor's usage object whose counts were not usable.
RAW_USAGE_KEY = "raw_usage"
#: A token count above this is garbage, not usage: three orders of magnitude beyond
#: any context window, and the largest value a signed 32-bit column downstream holds.
MAX_TOKEN_COUNT = 2**31 - 1

logger = logging.getLogger("streamtap.providers")

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "refusal", "pause")

# A validated chunk's field dict, used as a template: building a chunk from it
# skips pydantic validation (about 6 µs) on the per-token hot path.
_TEMPLATE: dict[str, Any] = dict(AIMessageChunk(content="").__dict__)


def _template_fields(message_id: str | None, text: str) -> dict[str, Any]:
    """Any langchain-core: copy the template, a fresh container for every mutable field."""
    fields = {
        k: ([] if isinstance(v, list) else {} if isinstance(v, dict) else v)
        for k, v in _TEMPLATE.items()
    }
    fields["content"] = text
    fields["id"] = message_id
    return fields


def _literal_fields(message_id: str | None, text: str) -> dict[str, Any]:
    """langchain-core 1.x's AIMessageChunk fields, in declaration order, as one dict display.

    Twice as fast as the generic copy (no per-field type tests); used only when
    it equals the template key for key and in order (checked at import).
    """
    return {
        "content": text,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": "AIMessageChunk",
        "name": None,
        "id": message_id,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
        "tool_call_chunks": [],
        "chunk_position": None,
    }


def _matches_template(build: Callable[[str | None, str], dict[str, Any]]) -> bool:
    fields = build(None, "")
    return list(fields.items()) == list(_TEMPLATE.items())


_fields = _literal_fields if _matches_template(_literal_fields) else _template_fields


def text_chunk(message_id: str | None, text: str) -> AIMessageChunk:
    """A text-only chunk, built without re-running pydantic validation.

    Equivalent to ``AIMessageChunk(content=text, id=message_id)`` (a test checks
    it) but several times cheaper; every mutable field gets a fresh container.
    """
    return build_model(AIMessageChunk, _fields(message_id, text), {"content", "id"})


_GEN_TEMPLATE: dict[str, Any] = dict(
    ChatGenerationChunk(message=AIMessageChunk(content="")).__dict__
)


def generation_chunk(message: AIMessageChunk) -> ChatGenerationChunk:
    """``ChatGenerationChunk(message=message)`` without re-validating the message.

    langchain-core wraps every streamed chunk in one; validation and its
    ``set_text`` validator cost about 2.4 µs per token. For plain-text content the
    text is the content itself, so the fields are set directly (a test checks
    equality with the validated object); other content takes the validated path.
    """
    content = message.content
    if not isinstance(content, str):
        return ChatGenerationChunk(message=message)
    fields = dict(_GEN_TEMPLATE)
    fields["text"] = content
    fields["message"] = message
    return build_model(ChatGenerationChunk, fields, {"message", "text"})


class ProtocolError(StreamtapError):
    """The event sequence broke the wire format's own rules (a bug or a proxy mangling it)."""

    hint = "report this with the raw stream; the events do not follow the vendor's format"


class WireViolation(Exception):
    """Raised by a mapping when an event breaks the wire's rules (a delta for a
    block that never started, a delta of the wrong type for its block).

    An internal signal like :class:`InStreamError`: the stream loop turns it into
    :class:`~streamtap.errors.ProtocolViolation` carrying the partial message.
    """

    def __init__(self, event: str | None, detail: str) -> None:
        self.event = event
        self.detail = detail
        super().__init__(detail)


class InStreamError(Exception):
    """Raised by a mapping when the stream itself reports an error after it started."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        super().__init__(str(payload.get("message") or payload))


def token_count(value: Any) -> int | None:
    """A vendor's usage count as an ``int``, or None when it is not a usable count.

    Absent (``None``) is 0; non-negative integers up to :data:`MAX_TOKEN_COUNT` and
    their decimal strings (``"5"``) and integral floats (``5.0``) are counts;
    anything else (negative, fractional, huge, ``true``, ``"five"``) is not.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        count = value
    elif isinstance(value, float):
        if not value.is_integer():  # NaN and infinities included
            return None
        count = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            return None
        count = int(text)
    else:
        return None
    return count if 0 <= count <= MAX_TOKEN_COUNT else None


def make_usage(
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read: int = 0,
    cache_creation: int = 0,
    reasoning: int = 0,
) -> UsageMetadata:
    """langchain-core usage: ``input_tokens`` counts every input token, cached included.

    Details carry only non-zero counts, so vendors that report a zero and
    vendors that omit the field produce the same message.
    """
    usage = UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    in_details = InputTokenDetails()
    if cache_read:
        in_details["cache_read"] = cache_read
    if cache_creation:
        in_details["cache_creation"] = cache_creation
    if in_details:
        usage["input_token_details"] = in_details
    if reasoning:
        usage["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return usage


class ChunkMapper:
    """Per-stream state shared by the vendor mappings, and the chunk constructors.

    A vendor mapping subclasses this and implements :meth:`feed` (one wire event
    in, zero or more chunks out) and :attr:`terminated`. Nothing here does I/O.
    """

    provider: str = ""
    #: ``model_provider`` reported in response_metadata (the vendor, or a preset name).
    model_provider: str = ""

    def __init__(self, *, model_provider: str | None = None) -> None:
        if model_provider:
            self.model_provider = model_provider
        self.message_id: str | None = None
        self.model_name: str | None = None
        self.usage: UsageMetadata | None = None
        self.native_finish_reason: str | None = None
        self.finish_reason: str | None = None
        self.extra_metadata: dict[str, Any] = {}
        self.terminated = False
        self._block_count = 0  # ordinal of the next non-text content block
        self._tool_count = 0  # ordinal of the next tool call
        self._refused = False
        self._saw_tool_call = False
        self._usage_warned = False

    # -- to implement -------------------------------------------------------
    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:  # pragma: no cover
        raise NotImplementedError

    def done(self) -> list[AIMessageChunk]:
        """An out-of-band terminator (Chat Completions' ``[DONE]``); other wires have none."""
        return []

    def eof(self, *, strict: bool) -> list[AIMessageChunk] | None:
        """End of body: closing chunks, or None when the stream was cut short."""
        return [] if self.terminated else None

    # -- constructors --------------------------------------------------------
    def text(self, text: str) -> list[AIMessageChunk]:
        return [text_chunk(self.message_id, text)] if text else []

    def refusal(self, text: str) -> list[AIMessageChunk]:
        """Refusals are visible text: the user must see why nothing else came."""
        self._refused = True
        return self.text(text)

    def new_block(self) -> int:
        """Reserve the index of a new non-text content block (reasoning, non-standard)."""
        index = self._block_count
        self._block_count += 1
        return index

    def reasoning(
        self, index: int, text: str = "", extras: dict[str, Any] | None = None
    ) -> list[AIMessageChunk]:
        if not text and not extras:
            return []
        block: dict[str, Any] = {"type": "reasoning", "index": index}
        if text:
            block["reasoning"] = text
        if extras:
            block["extras"] = extras
        return [AIMessageChunk(content=[block], id=self.message_id)]

    def non_standard(self, value: dict[str, Any]) -> list[AIMessageChunk]:
        block = {"type": "non_standard", "value": value, "index": self.new_block()}
        return [AIMessageChunk(content=[block], id=self.message_id)]

    def new_tool_call(self) -> int:
        index = self._tool_count
        self._tool_count += 1
        self._saw_tool_call = True
        return index

    def tool_call(
        self, index: int, *, id: str | None = None, name: str | None = None, args: str = ""
    ) -> list[AIMessageChunk]:
        if id is None and name is None and not args:
            return []
        return [
            AIMessageChunk(
                content="",
                id=self.message_id,
                tool_call_chunks=[
                    {
                        "type": "tool_call_chunk",
                        "index": index,
                        "id": id,
                        "name": name,
                        "args": args,
                    }
                ],
            )
        ]

    def set_usage(
        self,
        raw: Mapping[str, Any],
        *,
        input_tokens: Any,
        output_tokens: Any,
        cache_read: Any = None,
        cache_creation: Any = None,
        reasoning: Any = None,
        input_includes_cache: bool = True,
    ) -> None:
        """Usage from the vendor's raw counts, each read through :func:`token_count`.

        When any count is not usable nothing is summed: ``usage`` is None, the
        vendor's ``raw`` usage object is kept under ``response_metadata["raw_usage"]``
        and one warning per stream is logged. ``input_includes_cache=False``: the
        vendor's input count leaves cached tokens out (Anthropic), so they are added.
        """
        given = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read": cache_read,
            "cache_creation": cache_creation,
            "reasoning": reasoning,
        }
        counts = {name: token_count(value) for name, value in given.items()}
        bad = {name: given[name] for name, count in counts.items() if count is None}
        if bad:
            self.usage = None
            self.extra_metadata[RAW_USAGE_KEY] = dict(raw)
            if not self._usage_warned:
                self._usage_warned = True
                fields = ", ".join(f"{k}={reprlib.repr(v)}" for k, v in bad.items())
                logger.warning(
                    "%s/%s: usage not summed, not non-negative integer counts (%s); "
                    "the raw usage is in response_metadata[%r]",
                    self.model_provider or self.provider,
                    self.model_name,
                    fields,
                    RAW_USAGE_KEY,
                )
            return
        self.extra_metadata.pop(RAW_USAGE_KEY, None)
        n: dict[str, int] = counts  # type: ignore[assignment]  # none is None here
        cached = n["cache_read"] + n["cache_creation"]
        self.usage = make_usage(
            input_tokens=n["input_tokens"] + (0 if input_includes_cache else cached),
            output_tokens=n["output_tokens"],
            cache_read=n["cache_read"],
            cache_creation=n["cache_creation"],
            reasoning=n["reasoning"],
        )

    def finish(self, native: str | None, normalized: str | None) -> None:
        self.native_finish_reason = native
        self.finish_reason = normalized

    def last(self) -> list[AIMessageChunk]:
        """The closing chunk: usage, finish reason, model, ``chunk_position="last"``."""
        finish = self.finish_reason
        if self._refused and finish in (None, "stop"):
            finish = "refusal"
        elif finish == "stop" and self._saw_tool_call:
            finish = "tool_calls"
        metadata: dict[str, Any] = {
            "finish_reason": finish,
            "native_finish_reason": self.native_finish_reason,
            "model_name": self.model_name,
            "model_provider": self.model_provider or self.provider,
            CONTENT_FORMAT_KEY: CONTENT_FORMAT,
            **self.extra_metadata,
        }
        return [
            AIMessageChunk(
                content="",
                id=self.message_id,
                response_metadata=metadata,
                usage_metadata=self.usage,
                chunk_position="last",
            )
        ]

    def partial_tail(self) -> AIMessageChunk | None:
        """What a stream cut short knows beyond its chunks: usage seen, model."""
        metadata: dict[str, Any] = {}
        if self.model_name:
            metadata["model_name"] = self.model_name
        if self.model_provider or self.provider:
            metadata["model_provider"] = self.model_provider or self.provider
        if RAW_USAGE_KEY in self.extra_metadata:
            metadata[RAW_USAGE_KEY] = self.extra_metadata[RAW_USAGE_KEY]
        if not metadata and self.usage is None:
            return None
        return AIMessageChunk(
            content="", id=self.message_id, response_metadata=metadata, usage_metadata=self.usage
        )


MapperFactory = Callable[[], ChunkMapper]


def feed_all(mapper: ChunkMapper, events: Iterable[dict[str, Any]]) -> list[AIMessageChunk]:
    """Fold a whole event sequence (tests and small tools)."""
    out: list[AIMessageChunk] = []
    for event in events:
        out.extend(mapper.feed(event))
    return out
