"""Azure OpenAI: Chat Completions and Responses through the ``openai`` SDK's Azure clients."""

from streamtap.providers.azure._model import AzureOpenAIChatModel, AzureOpenAIResponsesModel

__all__ = ["AzureOpenAIChatModel", "AzureOpenAIResponsesModel"]
