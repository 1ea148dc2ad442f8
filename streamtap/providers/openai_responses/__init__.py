"""OpenAI Responses: the event fold (``_events``), requests (``_request``), the model."""

from streamtap.providers.openai_responses._events import WIRE, ResponsesMapper
from streamtap.providers.openai_responses._model import OpenAIResponsesModel
from streamtap.providers.openai_responses._request import to_responses_input

__all__ = ["WIRE", "OpenAIResponsesModel", "ResponsesMapper", "to_responses_input"]
