"""Tiny chat models for graph tests: deterministic tokens, optional pacing, close tracking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


class TokenFake(BaseChatModel):
    """Streams ``tokens`` one chunk each; ``delay`` seconds before each token."""

    tokens: list[str] = Field(default_factory=lambda: ["Hel", "lo", "!"])
    model_name: str = "fake-1"
    temperature: float | None = 0.3
    delay: float = 0.0
    msg_id: str | None = None
    events: list[str] = Field(default_factory=list)
    fail_after: int | None = None

    @property
    def _llm_type(self) -> str:
        return "token-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage("".join(self.tokens), id=self.msg_id))]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.events.append("open")
        try:
            for i, tok in enumerate(self.tokens):
                if self.fail_after is not None and i == self.fail_after:
                    raise ValueError("model exploded")
                if self.delay:
                    time.sleep(self.delay)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=tok, id=self.msg_id))
                if run_manager:
                    run_manager.on_llm_new_token(tok, chunk=chunk)
                yield chunk
        finally:
            self.events.append("closed")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.events.append("open")
        try:
            for i, tok in enumerate(self.tokens):
                if self.fail_after is not None and i == self.fail_after:
                    raise ValueError("model exploded")
                await asyncio.sleep(self.delay)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=tok, id=self.msg_id))
                if run_manager:
                    await run_manager.on_llm_new_token(tok, chunk=chunk)
                yield chunk
        finally:
            self.events.append("closed")


class NoStreamFake(BaseChatModel):
    """Implements only ``_generate``: a model without streaming support."""

    tokens: list[str] = Field(default_factory=lambda: ["a", "b"])
    model_name: str = "nostream-1"

    @property
    def _llm_type(self) -> str:
        return "nostream-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self.tokens)))])
