"""``OpenAIChatModel``: Chat Completions through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import BaseMessage

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._one_answer import refuse_several_answers
from streamtap.providers._wire import Wire
from streamtap.providers.openai_chat._events import WIRE, ChatCompletionsMapper
from streamtap.providers.openai_chat._request import _chat_tool, _chat_tool_choice, to_chat_messages


class OpenAIChatModel(StreamtapChatModel):
    """Chat Completions through the official ``openai`` SDK."""

    descriptor: ClassVar[Wire] = WIRE
    wire: ClassVar[str] = WIRE.name
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
        request = self._finish_request(request, kwargs)
        refuse_several_answers("n", request.get("n"))
        return request

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
