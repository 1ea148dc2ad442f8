"""``azure:DEPLOYMENT`` and ``azure-responses:DEPLOYMENT``: OpenAI's wires on Azure.

Azure speaks the same two wire formats as OpenAI, so the folds are OpenAI's; what
differs is the client (``openai.AzureOpenAI``: the resource endpoint, an
``api-version`` on every request, an ``api-key`` header or an Entra ID token) and
the extra chunks Azure's content filter adds, which the Chat Completions fold
already keeps in ``response_metadata`` (``prompt_filter_results``,
``content_filter_results``). The model name is the deployment's name.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from langchain_core.language_models.model_profile import ModelProfile
from pydantic import Field

from streamtap.providers._base import StreamtapChatModel
from streamtap.providers._profiles import known_profile, without
from streamtap.providers.openai_chat import OpenAIChatModel
from streamtap.providers.openai_responses import OpenAIResponsesModel

__all__ = ["AzureOpenAIChatModel", "AzureOpenAIResponsesModel"]

#: The newest generally available data-plane version when these models were written;
#: ``OPENAI_API_VERSION`` or ``api_version=`` choose another.
CHAT_API_VERSION = "2024-10-21"
#: The Responses API exists on Azure from the 2025-03-01 previews on.
RESPONSES_API_VERSION = "2025-04-01-preview"


class _Azure(StreamtapChatModel):
    """What both Azure models share: the endpoint, the API version, Entra ID tokens."""

    api_key_env: ClassVar[tuple[str, ...]] = ("AZURE_OPENAI_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ()
    profile_source: ClassVar[str | None] = None
    default_api_version: ClassVar[str] = CHAT_API_VERSION

    provider_name: str = "azure"
    azure_endpoint: str | None = None
    """``https://RESOURCE.openai.azure.com`` (or ``AZURE_OPENAI_ENDPOINT``); ``base_url=``
    instead takes a full base URL (a proxy, a gateway, a test server)."""
    api_version: str | None = None
    """The ``api-version`` query parameter (or ``OPENAI_API_VERSION``)."""
    azure_ad_token_provider: Callable[[], str | Awaitable[str]] | None = Field(
        default=None, exclude=True
    )
    """Microsoft Entra ID: a callable returning a bearer token, e.g. azure-identity's
    ``get_bearer_token_provider(DefaultAzureCredential(), scope)``; used instead of a key."""

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if self.azure_endpoint is None:
            self.azure_endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
        if self.api_version is None:
            self.api_version = os.environ.get("OPENAI_API_VERSION") or self.default_api_version
        if self.azure_endpoint is None and self.base_url is None:
            raise ValueError(
                f"azure:{self.model} needs the resource endpoint: pass "
                "azure_endpoint='https://RESOURCE.openai.azure.com' or set AZURE_OPENAI_ENDPOINT "
                "(or base_url= for a full base URL)"
            )

    def _resolve_model_profile(self) -> ModelProfile | None:
        # AzureChatOpenAI's: OpenAI's table by the deployment's name (deployments are often
        # named after their model), without the claim of tools mid-conversation, which
        # LangChain leaves unverified on Azure.
        return without(known_profile("openai", self.model), "mid_conversation_tools")

    def _client_class(self, *, is_async: bool) -> Callable[..., Any]:
        import openai

        return openai.AsyncAzureOpenAI if is_async else openai.AzureOpenAI

    def _credential_kwargs(self) -> dict[str, Any]:
        if self.api_key is None and self.azure_ad_token_provider is not None:
            return {"azure_ad_token_provider": self.azure_ad_token_provider}
        return super()._credential_kwargs()

    def _client_kwargs(self, *, is_async: bool) -> dict[str, Any]:
        kwargs = super()._client_kwargs(is_async=is_async)
        kwargs["api_version"] = self.api_version
        if "base_url" not in kwargs:
            kwargs["azure_endpoint"] = self.azure_endpoint
        return kwargs

    def continuation_key(self) -> tuple[str, ...]:
        return (*super().continuation_key(), self.azure_endpoint or "")

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "AZURE_OPENAI_API_KEY"}


class AzureOpenAIChatModel(_Azure, OpenAIChatModel):
    """Chat Completions on Azure OpenAI (``azure:DEPLOYMENT``)."""

    @property
    def _llm_type(self) -> str:
        return "streamtap-azure-openai-chat"

    def _max_tokens_param(self) -> str:
        return "max_completion_tokens"


class AzureOpenAIResponsesModel(_Azure, OpenAIResponsesModel):
    """The Responses API on Azure OpenAI (``azure-responses:DEPLOYMENT``)."""

    default_api_version: ClassVar[str] = RESPONSES_API_VERSION

    @property
    def _llm_type(self) -> str:
        return "streamtap-azure-openai-responses"
