"""The chunk-source seam: what a layer above needs from a chat model to drive one stream.

``streamtap.resilience`` (retries, fallbacks, timeouts, recovery) talks to models
only through these protocols, so any model that implements them can be made
resilient: every streamtap chat model does, ``streamtap.testing.FakeChatModel``
does, and so can your own.

* :class:`ChunkSource` opens a stream for a request. Nothing is sent before the
  stream is first iterated, so a timeout around the iteration covers the request.
* :class:`ChunkStream` is one request's stream: iterate it once (``for`` or
  ``async for``) for normalized ``AIMessageChunk``\\ s (the chunk contract); close
  it when done; ``abort()`` it from another thread to wake a read blocked on a
  silent server; read ``partial`` / ``usage`` after it failed.
* :class:`ContinuableSource` adds what recovery needs to continue a partial answer
  (``recovery="continue"``); a source without it is restarted instead.

Two hooks are optional and looked up by name: ``without_retries()`` (a copy that
does not retry on its own and shares no connections with the original; used by
``resilient()`` when it takes the model) and ``close()`` / ``aclose()`` (release
the connections the source opened; called by ``ResilientChatModel.close()``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from streamtap.providers._profiles import Continuation

__all__ = ["BindsTools", "ChunkSource", "ChunkStream", "ContinuableSource"]


@runtime_checkable
class ChunkStream(Protocol):
    """One request's stream of normalized chunks.

    Iterate it once, with ``for`` or ``async for`` (not both). A failure while
    iterating is raised as a typed ``streamtap.errors`` error; one that ends a
    started stream is ``StreamInterrupted`` carrying ``partial``.
    """

    def __iter__(self) -> Iterator[AIMessageChunk]:
        """Send the request (on the first ``next``) and yield its chunks."""
        ...

    def __aiter__(self) -> AsyncIterator[AIMessageChunk]:
        """Async twin of ``__iter__``."""
        ...

    def abort(self) -> None:
        """Make a read blocked in another thread return (with an error) soon.

        Thread-safe and idempotent. Called before the response started, the
        stream aborts the read as soon as there is one.
        """
        ...

    def close(self) -> None:
        """Release the response (the HTTP connection); safe to call more than once."""
        ...

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (for a stream iterated with ``async for``)."""
        ...

    @property
    def partial(self) -> AIMessageChunk | None:
        """Everything received so far summed into one message, or None.

        Includes the usage reported so far and, in ``response_metadata``, the
        ``model_name`` / ``model_provider`` the server reported.
        """
        ...

    @property
    def usage(self) -> UsageMetadata | None:
        """Token usage reported so far (some vendors report input tokens at the start)."""
        ...


@runtime_checkable
class ChunkSource(Protocol):
    """A model that opens chunk streams: what ``streamtap.resilient`` composes over."""

    #: Who answered, as ``response_metadata["attempts"]`` and errors name it.
    provider_name: str
    #: The model name sent to the vendor.
    model: str

    def open(
        self,
        messages: Sequence[BaseMessage],
        *,
        stop: list[str] | None = None,
        header_timeout: float | None = None,
        **kwargs: Any,
    ) -> ChunkStream:
        """A stream for ``messages`` (not sent until iterated).

        ``kwargs`` are the call's options (``tools``, ``tool_choice``, vendor
        parameters). ``header_timeout``, when given, bounds connecting, sending
        and waiting for the response to start (sync iteration); the stream then
        fails with the source's connection or timeout error.
        """
        ...


@runtime_checkable
class ContinuableSource(ChunkSource, Protocol):
    """A source that can go on from a partial answer (``recovery="continue"``)."""

    #: Whether a continued (prefilled) assistant turn may end in whitespace.
    prefill_trailing_whitespace: bool
    #: Whether a continued assistant turn may follow reasoning blocks.
    prefill_after_reasoning: bool

    def continuation_style(self) -> Continuation:
        """``"prefill"``, ``"continue_final_message"`` or ``"none"`` (restart instead)."""
        ...

    def continuation_key(self) -> tuple[str, ...]:
        """Who a server's refusal to continue is remembered for (model and server)."""
        ...


class BindsTools:
    """``bind_tools`` for chat models that take tools as given, converting them per request.

    Every streamtap model, the resilient wrapper (whose models each convert to
    their own wire's format) and the fake model bind tools this way.
    """

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; ``tool_choice`` takes "auto", "any", "none" or a tool's name."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=list(tools), **kwargs)  # type: ignore[attr-defined, no-any-return]
