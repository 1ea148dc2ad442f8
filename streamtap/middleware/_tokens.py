"""Any token source as a chat-model run, so ``messages`` mode and tracers see it.

A node that calls a vendor SDK directly (or a model LangChain has no class
for) produces tokens no callback handler hears about. :func:`stream_tokens`
fixes that without a model class: it normalizes the source through the
provider adapters and opens a chat-model run by hand on the current run's
callback manager, firing exactly the callbacks ``BaseChatModel.stream`` fires.
LangGraph's ``StreamMessagesHandler``, streamtap's, ``astream_events`` and
LangSmith all listen to those callbacks, so they need no change.

What the source is lives in ``_sources``; the callback protocol in ``_chat_run``.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from types import TracebackType
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config

from streamtap.middleware._chat_run import ChatRun
from streamtap.middleware._sources import (
    aclose_quietly,
    aopen,
    check_provider,
    close_quietly,
    open_source,
    reject_text,
    tail,
)

__all__ = ["AsyncTokenStream", "TokenStream", "astream_tokens", "stream_tokens"]


class TokenStream(Iterator[AIMessageChunk]):
    """Normalized chunks of one token source, reported as one chat-model run.

    Iterate it to get :class:`AIMessageChunk` s; :attr:`message` is the message
    they add up to (what a node returns, with the streamed id, so ``messages``
    mode does not emit it twice). Closing it early closes the source.
    """

    def __init__(
        self,
        raw: Iterable[Any],
        *,
        provider: str | None = None,
        model: str | None = None,
        config: RunnableConfig | None = None,
    ) -> None:
        reject_text(raw)
        check_provider(provider)
        if isinstance(raw, AsyncIterable) and not isinstance(raw, Iterable):
            raise TypeError(
                "stream_tokens() got an async stream; use `async for c in astream_tokens(...)`"
            )
        if not isinstance(raw, Iterable):
            raise TypeError(
                f"stream_tokens() needs an iterable token source, got {type(raw).__name__}"
            )
        self._run: ChatRun | None = None
        self._gen: Generator[AIMessageChunk, None, None] = self._stream(
            raw, provider, model, config
        )

    def _stream(
        self,
        raw: Iterable[Any],
        provider: str | None,
        model: str | None,
        config: RunnableConfig | None,
    ) -> Generator[AIMessageChunk, None, None]:
        run: ChatRun | None = None
        finished = False
        chunks: Iterator[AIMessageChunk] = iter(())
        try:
            source, chunks = open_source(raw, provider, model)
            cfg = ensure_config(config)
            self._run = run = ChatRun(source.spec(cfg).start(cfg))
            last: AIMessageChunk | None = None
            for chunk in chunks:
                run.token(chunk)
                last = chunk
                finished = chunk.chunk_position == "last"
                yield chunk
            if not finished:
                closing = tail(last, run.message_id)
                run.token(closing)
                finished = True
                yield closing
        except GeneratorExit:
            # Closed after the last chunk is a complete message, not a failure.
            if run is not None:
                run.end(None if finished else GeneratorExit())
            raise
        except BaseException as exc:
            if run is not None:
                run.end(exc)
            raise
        else:
            run.end()
        finally:
            close_quietly(chunks)
            close_quietly(raw)

    # -- iterator protocol

    def __iter__(self) -> TokenStream:
        return self

    def __next__(self) -> AIMessageChunk:
        return next(self._gen)

    def close(self) -> None:
        """Stop early: closes the source and ends the run."""
        self._gen.close()

    def __enter__(self) -> TokenStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def message(self) -> AIMessage:
        """The message the chunks so far add up to (its id is the streamed one)."""
        return self._run.message() if self._run is not None else AIMessage(content="")


def stream_tokens(
    raw_stream: Iterable[Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    config: RunnableConfig | None = None,
) -> TokenStream:
    """Normalized chunks of ``raw_stream``, reported to the current run as a chat model.

    ``raw_stream`` is a raw ``openai`` / ``anthropic`` SDK stream
    (``create(stream=True)``), an iterable of their event objects or dicts, or an
    iterable of ``str`` tokens or ``AIMessageChunk`` s. ``provider`` is detected
    from the stream when omitted (``"openai"``, ``"openai-responses"``,
    ``"anthropic"``, or a preset such as ``"groq"``); for text sources it is only
    the reported ``ls_provider``. ``model`` defaults to the requested model.

    Inside a graph node (or any Runnable) the chunks reach ``messages`` mode,
    ``astream_events`` and tracers exactly as a LangChain chat model's would;
    outside one, they are only normalized.
    """
    return TokenStream(raw_stream, provider=provider, model=model, config=config)


class AsyncTokenStream(AsyncIterator[AIMessageChunk]):
    """Async twin of :class:`TokenStream` (``async for``; ``await aclose()``)."""

    def __init__(
        self,
        raw: AsyncIterable[Any] | Iterable[Any],
        *,
        provider: str | None = None,
        model: str | None = None,
        config: RunnableConfig | None = None,
    ) -> None:
        reject_text(raw)
        check_provider(provider)
        if not isinstance(raw, AsyncIterable | Iterable):
            raise TypeError(
                f"astream_tokens() needs an (async) iterable token source, got {type(raw).__name__}"
            )
        self._run: ChatRun | None = None
        self._gen: AsyncGenerator[AIMessageChunk, None] = self._stream(raw, provider, model, config)

    async def _stream(
        self, raw: Any, provider: str | None, model: str | None, config: RunnableConfig | None
    ) -> AsyncGenerator[AIMessageChunk, None]:
        run: ChatRun | None = None
        finished = False
        chunks: AsyncIterator[AIMessageChunk] | None = None
        try:
            source, chunks = await aopen(raw, provider, model)
            cfg = ensure_config(config)
            self._run = run = ChatRun(await source.spec(cfg).astart(cfg))
            last: AIMessageChunk | None = None
            async for chunk in chunks:
                await run.atoken(chunk)
                last = chunk
                finished = chunk.chunk_position == "last"
                yield chunk
            if not finished:
                closing = tail(last, run.message_id)
                await run.atoken(closing)
                finished = True
                yield closing
        except GeneratorExit:
            if run is not None:
                await run.aend(None if finished else GeneratorExit())
            raise
        except BaseException as exc:
            if run is not None:
                await run.aend(exc)
            raise
        else:
            await run.aend()
        finally:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            await aclose_quietly(raw)

    def __aiter__(self) -> AsyncTokenStream:
        return self

    async def __anext__(self) -> AIMessageChunk:
        return await anext(self._gen)

    async def aclose(self) -> None:
        """Stop early: closes the source and ends the run."""
        await self._gen.aclose()

    async def __aenter__(self) -> AsyncTokenStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def message(self) -> AIMessage:
        """The message the chunks so far add up to (its id is the streamed one)."""
        return self._run.message() if self._run is not None else AIMessage(content="")


def astream_tokens(
    raw_stream: AsyncIterable[Any] | Iterable[Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    config: RunnableConfig | None = None,
) -> AsyncTokenStream:
    """Async twin of :func:`stream_tokens` (``AsyncStream``, async iterables, or sync ones)."""
    return AsyncTokenStream(raw_stream, provider=provider, model=model, config=config)
