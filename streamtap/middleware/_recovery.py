"""Recovering a stream that failed after the user already saw part of the answer.

``continue`` asks a model to go on from the text already shown (an assistant
prefill) so the UI keeps appending under the same message id; ``restart``
starts the answer over under a new id and tells the UI, with a ``stream_reset``
event, which bubble to drop.

Who can continue a prefix:

* Anthropic Messages: a trailing assistant turn is continued (it must not end
  in whitespace, so trailing whitespace is held back and de-duplicated from the
  continuation);
* vLLM: ``extra_body={"continue_final_message": True, "add_generation_prompt": False}``;
* llama.cpp server: a trailing assistant message is continued as is;
* OpenAI Chat Completions / Responses and other compatible servers cannot, so
  ``continue`` restarts there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )

    from streamtap.providers import StreamtapChatModel

__all__ = ["CONTINUATION_STYLES", "continuable_text", "continuation_request", "emit_reset"]

Style = Literal["anthropic", "vllm", "prefill"]

#: OpenAI-compatible presets (``provider_name``) that continue a final assistant message.
CONTINUATION_STYLES: dict[str, Style] = {"vllm": "vllm", "llamacpp": "prefill"}

RESET_EVENT = "stream_reset"


def continuation_style(model: StreamtapChatModel) -> Style | None:
    """How ``model`` continues an assistant prefix, or None when it cannot."""
    if model.wire == "anthropic":
        return "anthropic"
    if model.wire == "openai":
        return CONTINUATION_STYLES.get(model.provider_name)
    return None


def continuable_text(message: AIMessageChunk | None, style: Style) -> str | None:
    """The visible text to continue from, or None when the partial must be restarted.

    A partial tool call is never resumed (its JSON arguments would be continued
    mid-string), and Anthropic cannot prefill after thinking blocks.
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
            elif style == "anthropic" or block.get("type") != "reasoning":
                return None
        text = "".join(parts)
    return text if text.strip() else None


def continuation_request(
    messages: Sequence[BaseMessage], text: str, style: Style, kwargs: dict[str, Any]
) -> tuple[list[BaseMessage], dict[str, Any], str]:
    """Messages and call kwargs that continue ``text``, plus the whitespace held back."""
    held = ""
    if style == "anthropic":
        stripped = text.rstrip()
        held = text[len(stripped) :]
        text = stripped
    kwargs = dict(kwargs)
    if style == "vllm":
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


# --------------------------------------------------------------------------- reset signal


def _graph_writer() -> Callable[[Any], None] | None:
    """The ``custom`` stream writer of the graph node we run in, if any."""
    try:
        from streamtap.graph import get_stream_writer

        return get_stream_writer()
    except (ImportError, RuntimeError):
        pass
    langgraph_config = sys.modules.get("langgraph.config")
    if langgraph_config is not None:
        try:
            writer = langgraph_config.get_stream_writer()
        except Exception:  # outside a LangGraph node
            return None
        return writer if callable(writer) else None
    return None


def emit_reset(event: dict[str, Any], run_manager: CallbackManagerForLLMRun | None) -> None:
    """Announce a restart: the graph's ``custom`` mode and a ``stream_reset`` custom event."""
    writer = _graph_writer()
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
    writer = _graph_writer()
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
