"""OpenAI Chat Completions (``POST /v1/chat/completions``): the event fold and the wire's facts.

``ChatCompletionsMapper.feed`` folds one decoded ``chat.completion.chunk``
(a dict) into normalized chunks. Compatible servers (vLLM, llama.cpp, Ollama,
DeepSeek, Groq, OpenRouter) speak the same wire format plus a
``reasoning_content`` / ``reasoning`` delta, handled here too: one wire
format, one fold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessageChunk

from streamtap.providers._chunks import ChunkMapper, InStreamError
from streamtap.providers._wire import Wire

_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",  # some compatible servers
}

_METADATA_KEYS = ("system_fingerprint", "service_tier")


class ChatCompletionsMapper(ChunkMapper):
    """Chat Completions chunk dicts -> normalized chunks."""

    provider = "openai"
    model_provider = "openai"

    def __init__(self, *, model_provider: str | None = None) -> None:
        super().__init__(model_provider=model_provider)
        self._tool_ordinals: dict[int, int] = {}
        self._reasoning_index: int | None = None

    def feed(self, event: dict[str, Any]) -> list[AIMessageChunk]:
        error = event.get("error")
        if error:
            raise InStreamError(error if isinstance(error, dict) else {"message": str(error)})
        if self.message_id is None:
            # Azure's first chunk (prompt filter results, empty choices) has ``"id": ""``:
            # the message id is the first non-empty one.
            self.message_id = event.get("id") or None
        if model := event.get("model"):
            self.model_name = model
        for key in _METADATA_KEYS:
            if (value := event.get(key)) is not None:
                self.extra_metadata[key] = value
        if prompt_filters := event.get("prompt_filter_results"):  # Azure's content filter
            self.extra_metadata["prompt_filter_results"] = prompt_filters
        if usage := event.get("usage"):
            self._usage(usage)
        out: list[AIMessageChunk] = []
        for choice in event.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not a stream of one message
            if filters := choice.get("content_filter_results"):
                # Azure: per-chunk filter verdicts, and an asynchronous filter's trailing
                # chunks carrying only verdicts and offsets (no delta): the latest is kept.
                self.extra_metadata["content_filter_results"] = filters
            if offsets := choice.get("content_filter_offsets"):
                self.extra_metadata["content_filter_offsets"] = offsets
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                if self._reasoning_index is None:
                    self._reasoning_index = self.new_block()
                out += self.reasoning(self._reasoning_index, reasoning)
            if content := delta.get("content"):
                self._reasoning_index = None  # reasoning after text is a new block
                out += self.text(content)
            if refusal := delta.get("refusal"):
                out += self.refusal(refusal)
            for call in delta.get("tool_calls") or ():
                out += self._tool_call(call.get("index", 0), call.get("id"), call.get("function"))
            if function_call := delta.get("function_call"):  # deprecated single-call form
                out += self._tool_call(-1, None, function_call)
            finish = choice.get("finish_reason")
            if finish:
                self.finish(finish, _FINISH.get(finish, "stop"))
            elif finish == "" and self.finish_reason is None:
                self.native_finish_reason = ""  # xAI: an empty reason, kept as sent
        return out

    def _tool_call(
        self, wire_index: int, call_id: str | None, function: dict[str, Any] | None
    ) -> list[AIMessageChunk]:
        function = function or {}
        args = function.get("arguments") or ""
        ordinal = self._tool_ordinals.get(wire_index)
        if ordinal is None:
            ordinal = self._tool_ordinals[wire_index] = self.new_tool_call()
            return self.tool_call(
                ordinal, id=call_id or "", name=function.get("name") or "", args=args
            )
        return self.tool_call(ordinal, args=args)

    def _usage(self, usage: dict[str, Any]) -> None:
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        self.set_usage(
            usage,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            cache_read=prompt_details.get("cached_tokens"),
            cache_creation=prompt_details.get("cache_creation_tokens"),
            reasoning=completion_details.get("reasoning_tokens"),
        )

    def done(self) -> list[AIMessageChunk]:
        """``data: [DONE]``: the terminal event.

        A server that completed without a finish reason (xAI sends ``""`` or none,
        notably after tool calls) finished normally: ``last()`` makes that
        ``tool_calls`` when calls were made, and the raw reason stays as sent.
        """
        self.terminated = True
        if self.finish_reason is None:
            self.finish(self.native_finish_reason, "stop")
        return self.last()

    def eof(self, *, strict: bool) -> list[AIMessageChunk] | None:
        """End of body. Typed SDK streams hide ``[DONE]``; there a finish reason suffices."""
        if self.terminated:
            return []
        if not strict and self.finish_reason is not None:
            self.terminated = True
            return self.last()
        return None


# --------------------------------------------------------------------------- input side


def _owns_event(event: Mapping[str, Any]) -> bool:
    return "choices" in event or event.get("object") == "chat.completion.chunk"


def _owns_module(module: str) -> bool:
    return module.partition(".")[0] == "openai" and ".responses." not in module


def _owns_sdk_stream(stream: Any) -> bool:
    # Any other SDK stream with an SSE decoder: Chat Completions is the lingua franca.
    return type(stream).__module__.partition(".")[0] != "anthropic"


WIRE = Wire(
    name="openai",
    mapper=ChatCompletionsMapper,
    terminal="data: [DONE]",
    named_events_only=False,
    owns_event=_owns_event,
    owns_event_module=_owns_module,
    owns_sdk_stream=_owns_sdk_stream,
    # OpenAI cannot continue a prefix; vLLM (continue_final_message) and llama.cpp
    # (a trailing assistant message) can, and say so in their presets.
    continuation="none",
)
