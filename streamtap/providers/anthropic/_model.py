"""``AnthropicChatModel``: Anthropic Messages through the official ``anthropic`` SDK."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.messages import (
    BaseMessage,
)

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._wire import Wire
from streamtap.providers.anthropic._events import WIRE, MessagesMapper
from streamtap.providers.anthropic._request import (
    _anthropic_tool,
    _anthropic_tool_choice,
    to_anthropic_messages,
)

DEFAULT_MAX_TOKENS = 4096


class AnthropicChatModel(StreamtapChatModel):
    """Anthropic Messages through the official ``anthropic`` SDK."""

    descriptor: ClassVar[Wire] = WIRE
    wire: ClassVar[str] = WIRE.name
    provider_name: str = "anthropic"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_BASE_URL",)
    profile_source: ClassVar[str | None] = "anthropic"

    @property
    def _llm_type(self) -> str:
        return "streamtap-anthropic"

    def _client_class(self, *, is_async: bool) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic if is_async else anthropic.Anthropic

    def _new_mapper(self, stop: list[str] | None = None) -> MessagesMapper:
        return MessagesMapper(model_provider=self.provider_name)

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        system, turns = to_anthropic_messages(messages)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            "max_tokens": self.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            request["system"] = system
        if stop := (stop or self.stop):
            request["stop_sequences"] = stop
        kwargs.pop("response_format", None)  # structured output goes through tools here
        return self._finish_request(request, kwargs)

    def _tool(self, tool: Any) -> dict[str, Any]:
        return _anthropic_tool(tool)

    def _tool_choice(self, choice: Any) -> Any:
        return _anthropic_tool_choice(choice)

    def _create(self, client: Any, request: dict[str, Any]) -> Any:
        return client.messages.create(**_sdk_arguments(request))

    async def _acreate(self, client: Any, request: dict[str, Any]) -> Any:
        return await client.messages.create(**_sdk_arguments(request))


@functools.cache
def _create_parameters() -> frozenset[str]:
    import anthropic

    return frozenset(inspect.signature(anthropic.resources.messages.Messages.create).parameters)


def _sdk_arguments(request: dict[str, Any]) -> dict[str, Any]:
    """Request fields the SDK's ``create()`` has no argument for travel in ``extra_body``.

    anthropic 2.x dropped ``temperature`` / ``top_p`` / ``top_k`` from ``messages.create()``;
    the API (and compatible servers such as llama.cpp) still honour them in the body.
    """
    known = _create_parameters()
    extra = {k: v for k, v in request.items() if k not in known}
    if not extra:
        return request
    arguments = {k: v for k, v in request.items() if k in known}
    arguments["extra_body"] = {**extra, **(request.get("extra_body") or {})}
    return arguments
