"""OpenAI Chat Completions (``POST /v1/chat/completions``), and every compatible server.

``ChatCompletionsMapper.feed`` folds one decoded ``chat.completion.chunk``
(a dict) into normalized chunks. Compatible servers (vLLM, llama.cpp, Ollama,
DeepSeek, Groq, OpenRouter) speak the same wire format plus a
``reasoning_content`` / ``reasoning`` delta, handled here too: one wire
format, one module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.utils import convert_to_openai_messages

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._chunks import ChunkMapper, InStreamError, make_usage

__all__ = ["ChatCompletionsMapper", "OpenAIChatModel", "to_chat_messages"]

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
            self.message_id = event.get("id")
        if model := event.get("model"):
            self.model_name = model
        for key in _METADATA_KEYS:
            if (value := event.get(key)) is not None:
                self.extra_metadata[key] = value
        if usage := event.get("usage"):
            self.usage = _usage(usage)
        out: list[AIMessageChunk] = []
        for choice in event.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not a stream of one message
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
            if finish := choice.get("finish_reason"):
                self.finish(finish, _FINISH.get(finish, "stop"))
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

    def done(self) -> list[AIMessageChunk]:
        """``data: [DONE]``: the terminal event."""
        self.terminated = True
        return self.last()

    def eof(self, *, strict: bool) -> list[AIMessageChunk] | None:
        """End of body. Typed SDK streams hide ``[DONE]``; there a finish reason suffices."""
        if self.terminated:
            return []
        if not strict and self.finish_reason is not None:
            self.terminated = True
            return self.last()
        return None


def _usage(usage: dict[str, Any]) -> Any:
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return make_usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cache_read=prompt_details.get("cached_tokens") or 0,
        cache_creation=prompt_details.get("cache_creation_tokens") or 0,
        reasoning=completion_details.get("reasoning_tokens") or 0,
    )


# --------------------------------------------------------------------------- input side


def _assistant_text(message: AIMessage) -> AIMessage:
    """Chat Completions cannot take reasoning back: keep the visible text only."""
    if isinstance(message.content, str):
        return message
    texts = [
        part if isinstance(part, str) else part.get("text", "")
        for part in message.content
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
    ]
    return message.model_copy(update={"content": "".join(texts)})


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages -> Chat Completions ``messages`` (langchain-core does the work)."""
    prepared = [_assistant_text(m) if isinstance(m, AIMessage) else m for m in messages]
    converted = convert_to_openai_messages(prepared)
    out: list[dict[str, Any]] = []
    for item in converted:
        if item.get("role") == "assistant" and item.get("tool_calls") and not item.get("content"):
            item["content"] = None
        out.append(item)
    return out


class OpenAIChatModel(StreamtapChatModel):
    """Chat Completions through the official ``openai`` SDK."""

    wire: ClassVar[str] = "openai"
    provider_name: str = "openai"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("OPENAI_BASE_URL",)
    profile_source: ClassVar[str | None] = "openai"

    @property
    def _llm_type(self) -> str:
        return "streamtap-openai-chat"

    def _resolve_model_profile(self) -> ModelProfile | None:
        profile = super()._resolve_model_profile()
        if profile is not None and profile.get("mid_conversation_tools"):
            # Only the Responses API carries mid-conversation tools (as ChatOpenAI says).
            profile["mid_conversation_tools"] = False
        return profile

    def _new_mapper(self, stop: list[str] | None = None) -> ChatCompletionsMapper:
        return ChatCompletionsMapper(model_provider=self.provider_name)

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_chat_messages(messages),
            "stream": True,
            # Usage arrives only when asked for, also from compatible servers.
            "stream_options": {"include_usage": True},
        }
        if self.max_tokens is not None:
            request[self._max_tokens_param()] = self.max_tokens
        if stop := (stop or self.stop):
            request["stop"] = stop
        return self._finish_request(request, kwargs)

    def _tool(self, tool: Any) -> dict[str, Any]:
        return _chat_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return _chat_tool_choice(choice)

    def _max_tokens_param(self) -> str:
        return "max_completion_tokens" if self.provider_name == "openai" else "max_tokens"

    def _create(self, client: Any, request: dict[str, Any]) -> Any:
        return client.chat.completions.create(**request)

    async def _acreate(self, client: Any, request: dict[str, Any]) -> Any:
        return await client.chat.completions.create(**request)


def _chat_tool(tool: Any) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice not in ("auto", "none", "required", "any"):
        return {"type": "function", "function": {"name": choice}}
    if choice == "any":
        return "required"
    if choice is True:
        return "required"
    return choice
