"""Recovering a stream that failed after the user already saw part of the answer.

``continue`` asks a model to go on from the text already shown, so the UI keeps
appending under the same message id; ``restart`` starts the answer over under a
new id and tells the UI, with a ``stream_reset`` event, which bubble to drop.

Who can continue is the model's fact (``ContinuableSource.continuation_style``; for
streamtap's models: their model data, then the wire, then refusals seen in this
process; a chunk source without it cannot continue):

* ``prefill``: a trailing assistant turn is continued (Anthropic before Claude 4.6,
  llama.cpp). Anthropic's wire also forbids trailing whitespace there, so it is held
  back and de-duplicated from the continuation;
* ``continue_final_message``: vLLM's flag for the same;
* otherwise the call restarts, or, with ``user_turn=True``, asks the model in a
  trailing user turn to continue exactly where it stopped and drops what it repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

from streamtap._context import stream_writer
from streamtap.providers import ChunkSource, ContinuableSource

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )

__all__ = [
    "USER_TURN_PROMPT",
    "OverlapTrim",
    "Style",
    "continuable_text",
    "continuation_request",
    "emit_reset",
    "plan_style",
]

Style = Literal["prefill", "continue_final_message", "user_turn"]

RESET_EVENT = "stream_reset"

#: The trailing user turn of a ``user_turn`` continuation.
USER_TURN_PROMPT = (
    "Your previous answer was cut off. Continue it exactly where it stopped, even "
    "mid-sentence or mid-word, without repeating anything already written and without "
    "any preamble."
)


def plan_style(model: ChunkSource, user_turn: bool) -> Style | None:
    """How to continue on ``model``: its own way, a user turn (opt-in), or not at all."""
    style = model.continuation_style() if isinstance(model, ContinuableSource) else "none"
    if style != "none":
        return style
    return "user_turn" if user_turn else None


def continuable_text(message: AIMessageChunk | None, *, after_reasoning: bool = True) -> str | None:
    """The visible text to continue from, or None when the partial must be restarted.

    A partial tool call is never resumed (its JSON arguments would be continued
    mid-string); a wire that cannot prefill after reasoning blocks restarts those.
    """
    if message is None or message.tool_call_chunks or message.tool_calls:
        return None
    content = message.content
    if isinstance(content, str):
        text = content
    else:
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif not after_reasoning or block.get("type") != "reasoning":
                return None
        text = "".join(parts)
    return text if text.strip() else None


def continuation_request(
    messages: Sequence[BaseMessage],
    text: str,
    style: Style,
    kwargs: dict[str, Any],
    *,
    trailing_whitespace: bool = True,
) -> tuple[list[BaseMessage], dict[str, Any], str]:
    """Messages and call kwargs that continue ``text``, plus the whitespace held back.

    The call's own kwargs (tools, tool choice, ...) go along unchanged: a
    continuation with its tools unbound would come back as prose.
    """
    kwargs = dict(kwargs)
    if style == "user_turn":
        return [*messages, AIMessage(content=text), HumanMessage(USER_TURN_PROMPT)], kwargs, ""
    held = ""
    if not trailing_whitespace:
        stripped = text.rstrip()
        held = text[len(stripped) :]
        text = stripped
    if style == "continue_final_message":
        extra = dict(kwargs.get("extra_body") or {})
        extra.update(continue_final_message=True, add_generation_prompt=False)
        kwargs["extra_body"] = extra
    return [*messages, AIMessage(content=text)], kwargs, held


def drop_held_whitespace(text: str, held: str) -> tuple[str, str]:
    """Strip the continuation's repeat of whitespace the prefill held back.

    Returns the text to emit and the whitespace still held (non-empty only
    while the continuation so far is all whitespace).
    """
    n = 0
    while n < len(held) and n < len(text) and text[n].isspace():
        n += 1
    if n == len(text) and n < len(held):
        return "", held[n:]
    return text[n:], ""


class OverlapTrim:
    """Drops the start of a user-turn continuation that repeats the end of the shown text.

    Asked to continue, models often restate the last sentence (or the whole
    answer) first. The continuation's text is held back only while it could
    still be such a repeat, i.e. while it matches the start of some word-initial
    tail of the shown text; once it diverges (or repeats a whole tail) it flows.
    A tail shorter than ``min_overlap`` characters is never taken for a repeat:
    "the" + "theater" is more likely a word being finished.
    """

    def __init__(self, shown: str, *, min_overlap: int = 8) -> None:
        self.shown = shown
        # After a shown space the model's own leading space would double it.
        self.strip_leading = shown[-1:].isspace()
        # A repeat of a tail that ended at a word boundary must end at one too:
        # "window" + "s are" is a word being finished, not a repeat.
        self.word_end = self.strip_leading
        floor = min(min_overlap, len(shown.strip()))
        self.tails = [
            tail
            for p in range(len(shown))
            if (p == 0 or shown[p - 1].isspace()) and not shown[p].isspace()
            if len(tail := shown[p:].rstrip()) >= floor
        ]  # longest first
        self.buffer = ""
        self.done = False

    def feed(self, text: str) -> str:
        """The part of ``text`` (with earlier held text) that can be shown now."""
        if not self.done:
            self.buffer += text
            text = self._decide(final=False)
        return self._emit(text)

    def finish(self) -> str:
        """Whatever is still held, once the continuation's text ends."""
        return "" if self.done else self._emit(self._decide(final=True))

    def _decide(self, *, final: bool) -> str:
        body = self.buffer.lstrip()
        if not body and not final:
            return ""
        for tail in self.tails:
            if body.startswith(tail):
                rest = body[len(tail) :]
                if not self.word_end or (rest and not rest[0].isalnum()):
                    return self._release(rest)
                if not rest and not final:
                    return ""  # the next character says whether the word ended
                if not rest:
                    return self._release(rest)
            elif tail.startswith(body) and not final:
                return ""  # could still be this repeat: keep holding
        return self._release(self.buffer)

    def _release(self, text: str) -> str:
        self.done = True
        self.buffer = ""
        return text

    def _emit(self, text: str) -> str:
        if self.strip_leading:
            text = text.lstrip()
            self.strip_leading = not text
        return text


# --------------------------------------------------------------------------- reset signal


def emit_reset(event: dict[str, Any], run_manager: CallbackManagerForLLMRun | None) -> None:
    """Announce a restart: the graph's ``custom`` mode and a ``stream_reset`` custom event."""
    writer = stream_writer()
    if writer is not None:
        writer(dict(event))
    if run_manager is not None and run_manager.handlers:
        from langchain_core.callbacks import CallbackManager

        CallbackManager(
            run_manager.handlers,
            parent_run_id=run_manager.run_id,
            tags=run_manager.tags,
            metadata=run_manager.metadata,
        ).on_custom_event(RESET_EVENT, dict(event), run_id=run_manager.run_id)


async def aemit_reset(
    event: dict[str, Any], run_manager: AsyncCallbackManagerForLLMRun | None
) -> None:
    writer = stream_writer()
    if writer is not None:
        writer(dict(event))
    if run_manager is not None and run_manager.handlers:
        from langchain_core.callbacks import AsyncCallbackManager

        await AsyncCallbackManager(
            run_manager.handlers,
            parent_run_id=run_manager.run_id,
            tags=run_manager.tags,
            metadata=run_manager.metadata,
        ).on_custom_event(RESET_EVENT, dict(event), run_id=run_manager.run_id)
