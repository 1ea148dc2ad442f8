"""``OpenAIResponsesModel``: OpenAI Responses through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.messages import (
    BaseMessage,
)

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._wire import Wire
from streamtap.providers.openai_responses._events import WIRE, ResponsesMapper
from streamtap.providers.openai_responses._request import (
    _responses_tool,
    _responses_tool_choice,
    to_responses_input,
)


class OpenAIResponsesModel(StreamtapChatModel):
    """OpenAI Responses through the official ``openai`` SDK."""

    descriptor: ClassVar[Wire] = WIRE
    wire: ClassVar[str] = WIRE.name
    provider_name: str = "openai"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("OPENAI_BASE_URL",)
    profile_source: ClassVar[str | None] = "openai"

    @property
    def _llm_type(self) -> str:
        return "streamtap-openai-responses"

    def _new_mapper(self, stop: list[str] | None = None) -> ResponsesMapper:
        return ResponsesMapper(model_provider=self.provider_name, stop=stop or self.stop)

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        instructions, items = to_responses_input(messages)
        request: dict[str, Any] = {"model": self.model, "input": items, "stream": True}
        if instructions:
            request["instructions"] = instructions
        if self.max_tokens is not None:
            request["max_output_tokens"] = self.max_tokens
        kwargs.pop("response_format", None)  # structured output goes through tools here
        return self._finish_request(request, kwargs)

    def _tool(self, tool: Any) -> dict[str, Any]:
        return _responses_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return _responses_tool_choice(choice)

    def _create(self, client: Any, request: dict[str, Any]) -> Any:
        return client.responses.create(**request)

    async def _acreate(self, client: Any, request: dict[str, Any]) -> Any:
        return await client.responses.create(**request)
