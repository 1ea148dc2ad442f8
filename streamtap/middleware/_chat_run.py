"""One chat-model run opened by hand, firing the callbacks ``BaseChatModel.stream`` fires.

``stream_tokens`` (a token source in a node) and ``TokenEvents`` (custom token
events) both report tokens that no chat model produced; this is the one place
that speaks langchain-core's chat-run callback protocol for them: open the run
(:class:`ChatRunSpec`), report each chunk (:class:`ChatRun`), end or fail it
with the accumulated message.

The run's ``ls_*`` keys go on the manager as inheritable metadata, as
``BaseChatModel`` does: passing ``metadata=`` to ``on_chat_model_start``
collides with the manager's own keyword and raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID, uuid4

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.messages import AIMessage, AIMessageChunk, message_chunk_to_message
from langchain_core.outputs import ChatGenerationChunk, LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.version import VERSION as _CORE_VERSION

from streamtap.accumulate import Accumulator

__all__ = ["LC_VERSIONS", "ChatRun", "ChatRunSpec", "lc_id", "result"]

#: What every LangChain chat model puts in its run's (local) metadata.
LC_VERSIONS: Final = {"lc_versions": {"langchain-core": _CORE_VERSION}}

Manager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun


class ChatRunSpec:
    """What a hand-opened chat-model run reports: its name and ``ls_*`` metadata."""

    __slots__ = ("ls", "name", "params")

    def __init__(
        self, name: str, ls: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> None:
        self.name = name
        self.ls = {k: v for k, v in ls.items() if v is not None}
        self.params = dict(params or {})

    def _serialized(self) -> dict[str, Any]:
        return {
            "lc": 1,
            "type": "not_implemented",
            "id": ["streamtap", self.name],
            "name": self.name,
        }

    def _metadata(self, config: RunnableConfig) -> dict[str, Any]:
        return {**(config.get("metadata") or {}), **self.ls}

    def start(
        self, config: RunnableConfig, *, parent_run_id: UUID | None = None
    ) -> CallbackManagerForLLMRun | None:
        """Open the run under ``config``'s callbacks; None when there are none (plain script)."""
        callbacks = config.get("callbacks")
        if callbacks is None:
            return None
        manager = CallbackManager.configure(
            callbacks, None, False, config.get("tags"), None, self._metadata(config), LC_VERSIONS
        )
        if parent_run_id is not None:
            manager.parent_run_id = parent_run_id
        (run,) = manager.on_chat_model_start(
            self._serialized(),
            [[]],
            invocation_params=self.params,
            name=config.get("run_name") or self.name,
            run_id=config.get("run_id"),
            batch_size=1,
        )
        return run

    async def astart(
        self, config: RunnableConfig, *, parent_run_id: UUID | None = None
    ) -> AsyncCallbackManagerForLLMRun | None:
        """Async twin of :meth:`start`."""
        callbacks = config.get("callbacks")
        if callbacks is None:
            return None
        manager = AsyncCallbackManager.configure(
            callbacks, None, False, config.get("tags"), None, self._metadata(config), LC_VERSIONS
        )
        if parent_run_id is not None:
            manager.parent_run_id = parent_run_id
        (run,) = await manager.on_chat_model_start(
            self._serialized(),
            [[]],
            invocation_params=self.params,
            name=config.get("run_name") or self.name,
            run_id=config.get("run_id"),
            batch_size=1,
        )
        return run


def result(message: AIMessageChunk | None) -> LLMResult:
    """The ``LLMResult`` a chat model ends its run with (empty if nothing streamed)."""
    if message is None:
        return LLMResult(generations=[])
    return LLMResult(generations=[[ChatGenerationChunk(message=message)]])


def lc_id(run: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None) -> str:
    """The id langchain-core gives a message whose source has none."""
    return f"lc_run--{run.run_id if run is not None else uuid4()}"


class ChatRun:
    """A run being reported: its manager (None outside any callbacks), message id and sum.

    ``token`` / ``end`` serve the sync path, ``atoken`` / ``aend`` the async one;
    either path accepts a manager of the other kind (``TokenEvents`` opens a run
    on whichever path the first event came from).
    """

    __slots__ = ("acc", "manager", "message_id")

    def __init__(self, manager: Manager | None, message_id: str | None = None) -> None:
        self.manager = manager
        self.message_id = message_id or lc_id(manager)
        self.acc = Accumulator()

    def _add(self, chunk: AIMessageChunk) -> ChatGenerationChunk:
        if not chunk.id:
            chunk.id = self.message_id
        self.acc.add(chunk)
        return ChatGenerationChunk(message=chunk)

    def _sync_manager(self) -> CallbackManagerForLLMRun | None:
        if isinstance(self.manager, AsyncCallbackManagerForLLMRun):
            return self.manager.get_sync()
        return self.manager

    def token(self, chunk: AIMessageChunk) -> None:
        """Report one chunk (its id defaults to the run's message id)."""
        generation = self._add(chunk)
        manager = self._sync_manager()
        if manager is not None:
            manager.on_llm_new_token(chunk.content, chunk=generation)  # type: ignore[arg-type]

    async def atoken(self, chunk: AIMessageChunk) -> None:
        generation = self._add(chunk)
        if isinstance(self.manager, AsyncCallbackManagerForLLMRun):
            await self.manager.on_llm_new_token(chunk.content, chunk=generation)  # type: ignore[arg-type]
        elif self.manager is not None:
            self.manager.on_llm_new_token(chunk.content, chunk=generation)  # type: ignore[arg-type]

    def end(self, error: BaseException | None = None) -> None:
        """End the run with the accumulated message, or fail it with ``error``."""
        manager = self._sync_manager()
        if manager is None:
            return
        response = result(self.acc.message())
        if error is None:
            manager.on_llm_end(response)
        else:
            manager.on_llm_error(error, response=response)

    async def aend(self, error: BaseException | None = None) -> None:
        if not isinstance(self.manager, AsyncCallbackManagerForLLMRun):
            self.end(error)
            return
        response = result(self.acc.message())
        if error is None:
            await self.manager.on_llm_end(response)
        else:
            await self.manager.on_llm_error(error, response=response)

    def message(self) -> AIMessage:
        """The message reported so far (its id is the streamed one)."""
        chunk = self.acc.message()
        if chunk is None:
            return AIMessage(content="", id=self.message_id)
        message = message_chunk_to_message(chunk)
        if not isinstance(message, AIMessage):  # pragma: no cover - AIMessageChunk always maps
            raise TypeError(f"accumulated {type(message).__name__}, expected AIMessage")
        return message
