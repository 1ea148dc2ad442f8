"""langchain-tests' standard integration suite for ``llamacpp:smollm2`` on the real server.

Tool calling and structured output are left enabled (streamtap's adapter supports them);
only the tests that need a model larger than 135M parameters to *choose* to call a tool
or to produce a given answer are skipped, each with its reason. Image, audio and PDF
tests are left out by the suite's own properties (llama.cpp runs here without a vision
projector).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests

from streamtap.local import LocalServer
from streamtap.providers import OpenAICompatibleModel

pytestmark = pytest.mark.local_model

_NO_TOOL_CALL = (
    "SmolLM2-135M does not call a tool unprompted: it answers in prose (tool-call streaming "
    "is covered with a few-shot prompt in test_tool_calls.py)"
)
_NO_STRUCTURED = (
    "structured output goes through a tool call, which SmolLM2-135M does not make unprompted"
)
_GRAMMAR = (
    "tools are bound, so llama.cpp samples under its lazy tool-call grammar, which "
    "intermittently aborts SmolLM2's stream with 'Unexpected empty grammar stack' (a server-side "
    "error, surfaced by streamtap as StreamInterrupted); the request bodies for tool histories "
    "are tested against recorded fixtures in tests/providers/test_requests.py"
)
# The only tests skipped: each needs the model to decide to call a tool, or generates under
# the tool-call grammar that the 135M model intermittently breaks.
CANNOT_PASS = {
    "test_tool_message_error_status": _GRAMMAR,
    "test_tool_message_histories_string_content": _GRAMMAR,
    "test_tool_message_histories_list_content": _GRAMMAR,
    "test_structured_few_shot_examples": _GRAMMAR,
    "test_tool_calling": _NO_TOOL_CALL,
    "test_tool_calling_async": _NO_TOOL_CALL,
    "test_tool_calling_with_no_arguments": _NO_TOOL_CALL,
    "test_tool_choice": _NO_TOOL_CALL + "; llama.cpp's tool_choice is not a hard constraint",
    "test_bind_runnables_as_tools": _NO_TOOL_CALL,
    "test_unicode_tool_call_integration": _NO_TOOL_CALL,
    "test_agent_loop": _NO_TOOL_CALL,
    "test_structured_output": _NO_STRUCTURED,
    "test_structured_output_async": _NO_STRUCTURED,
    "test_structured_output_pydantic_2_v1": _NO_STRUCTURED,
    "test_structured_output_optional_param": _NO_STRUCTURED,
}


class TestLlamaCppStandard(ChatModelIntegrationTests):
    base_url = ""

    @pytest.fixture(autouse=True)
    def _local_server(self, request: pytest.FixtureRequest, local_server: LocalServer) -> None:
        reason = CANNOT_PASS.get(request.node.originalname)
        if reason:
            pytest.skip(reason)
        type(self).base_url = local_server.base_url

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return OpenAICompatibleModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "smollm2", "provider_name": "llamacpp", "base_url": self.base_url}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # Short answers keep the suite fast; nothing in it needs more than a few words.
        return {**super().standard_chat_model_params, "max_tokens": 16, "max_retries": 0}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True
