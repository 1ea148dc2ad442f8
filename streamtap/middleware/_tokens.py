"""Any token source as a chat-model run, so ``messages`` mode and tracers see it.

A node that calls a vendor SDK directly (or a model LangChain has no class
for) produces tokens no callback handler hears about. :func:`stream_tokens`
fixes that without a model class: it normalizes the source through the
provider adapters and opens a chat-model run by hand on the current run's
callback manager, firing exactly the callbacks ``BaseChatModel.stream`` fires.
LangGraph's ``StreamMessagesHandler``, streamtap's, ``astream_events`` and
LangSmith all listen to those callbacks, so they need no change.

The run's ``ls_*`` keys go on the manager as inheritable metadata, as
``BaseChatModel`` does: passing ``metadata=`` to ``on_chat_model_start``
collides with the manager's own keyword and raises ``TypeError``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
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
from langchain_core.runnables.config import ensure_config
from langchain_core.version import VERSION as _CORE_VERSION

from streamtap.accumulate import Accumulator
from streamtap.providers import PRESETS, WIRES, anormalize, normalize
from streamtap.providers._chunks import text_chunk
from streamtap.providers._run import as_dict
from streamtap.providers._wires import is_sdk_stream, wire_of_event, wire_of_sdk_stream

__all__ = [
    "AsyncTokenStream",
    "ChatRunSpec",
    "TokenStream",
    "astream_tokens",
    "stream_tokens",
]

#: What every LangChain chat model puts in its run's (local) metadata.
LC_VERSIONS: Final = {"lc_versions": {"langchain-core": _CORE_VERSION}}
_DEFAULT_NAME: Final = "stream_tokens"
_END: Final = object()


# --------------------------------------------------------------------------- the run


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


# --------------------------------------------------------------------------- sources


def _label(provider: str | None) -> str | None:
    """``ls_provider`` for a wire: the Responses API is still OpenAI."""
    return "openai" if provider == "openai-responses" else provider


def _sdk_wire(stream: Any) -> str:
    return wire_of_sdk_stream(stream).name


def _request_body(stream: Any) -> dict[str, Any]:
    """The JSON body the SDK sent: the requested model and sampling parameters."""
    try:
        body = json.loads(stream.response.request.content)
    except (AttributeError, TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _ls_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    max_tokens = next(
        (
            body[k]
            for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
            if isinstance(body.get(k), int)
        ),
        None,
    )
    stop = body.get("stop", body.get("stop_sequences"))
    return {
        "ls_temperature": body.get("temperature"),
        "ls_max_tokens": max_tokens,
        "ls_stop": [stop] if isinstance(stop, str) else stop or None,
    }


def _event_wire(event: Any) -> str | None:
    """The wire format one SDK event (object or dict) belongs to, or None."""
    wire = wire_of_event(event)
    return wire.name if wire is not None else None


def _event_model(data: Mapping[str, Any]) -> str | None:
    for holder in (data, data.get("message"), data.get("response"), data.get("chunk")):
        if isinstance(holder, Mapping):
            model = holder.get("model")
            if isinstance(model, str):
                return model
    return None


def _unwrap_helper_events(events: Iterable[Any]) -> Iterator[Any]:
    """``client.chat.completions.stream()`` wraps each chunk in a ``ChunkEvent``."""
    for event in events:
        if getattr(event, "type", None) == "chunk" and hasattr(event, "chunk"):
            yield event.chunk


async def _aunwrap_helper_events(events: AsyncIterable[Any]) -> AsyncIterator[Any]:
    async for event in events:
        if getattr(event, "type", None) == "chunk" and hasattr(event, "chunk"):
            yield event.chunk


def _is_helper_chunk_event(event: Any) -> bool:
    return type(event).__name__ == "ChunkEvent" and hasattr(event, "chunk")


class _Source:
    """A detected token source: its wire (None for text/chunks) and what to report."""

    __slots__ = ("label", "model", "params", "wire")

    def __init__(
        self, wire: str | None, label: str | None, model: str | None, params: dict[str, Any]
    ) -> None:
        self.wire = wire
        self.label = label
        self.model = model
        self.params = params

    def spec(self, config: RunnableConfig) -> ChatRunSpec:
        ls = {
            "ls_provider": self.label,
            "ls_model_name": self.model,
            "ls_model_type": "chat",
            **_ls_from_body(self.params),
            "ls_integration": "langchain_chat_model",
        }
        params = {k: v for k, v in self.params.items() if k not in ("messages", "input", "system")}
        params.setdefault("model", self.model)
        params["_type"] = f"streamtap-{self.label or 'tokens'}"
        return ChatRunSpec(_DEFAULT_NAME, ls, params)


def _check_provider(provider: str | None) -> None:
    if provider is not None and not isinstance(provider, str):
        raise TypeError(f"provider must be a str such as 'openai' or 'anthropic', got {provider!r}")


def _wire_for(provider: str | None, detected: str | None, what: str) -> str:
    if provider is not None and (provider in WIRES or provider in PRESETS):
        return provider
    if detected is not None:
        return detected
    raise TypeError(
        f"cannot tell which provider produced {what}: pass provider='openai', "
        "'openai-responses' or 'anthropic' (or an OpenAI-compatible preset name)"
    )


def _as_chunk(item: Any, i: int, kind: type[str] | type[AIMessageChunk]) -> AIMessageChunk:
    """One item of a text or chunk source (their ids are filled in by the run)."""
    if not isinstance(item, kind):
        raise TypeError(
            f"token source item {i} is {type(item).__name__}, but the source started "
            f"with {kind.__name__}: a stream must hold one kind of item"
        )
    return text_chunk(None, item) if isinstance(item, str) else item  # type: ignore[no-any-return]


def _plain(first: Any, rest: Iterator[Any]) -> Iterator[AIMessageChunk]:
    kind: type[str] | type[AIMessageChunk] = str if isinstance(first, str) else AIMessageChunk
    for i, item in enumerate(itertools.chain((first,), rest)):
        yield _as_chunk(item, i, kind)


def _open(
    raw: Iterable[Any], provider: str | None, model: str | None
) -> tuple[_Source, Iterator[AIMessageChunk]]:
    """Detect what ``raw`` is (peeking at its first item) and its normalized chunks."""
    if is_sdk_stream(raw):
        source = _sdk_source(raw, provider, model)
        assert source.wire is not None
        return source, normalize(source.wire, raw, model=source.model)
    it = iter(raw)
    first = next(it, _END)
    if first is _END:
        return _Source(None, _label(provider), model, {}), iter(())
    source = _classify(first, provider, model)
    if source.wire is None:
        return source, _plain(first, it)
    events: Iterator[Any] = itertools.chain((first,), it)
    if _is_helper_chunk_event(first):
        events = _unwrap_helper_events(events)
    return source, normalize(source.wire, events, model=source.model)


def _classify(first: Any, provider: str | None, model: str | None) -> _Source:
    if isinstance(first, str | AIMessageChunk):
        return _Source(None, _label(provider), model, {})
    if _is_helper_chunk_event(first):
        first = first.chunk
    detected = _event_wire(first)
    if detected is None and not isinstance(first, Mapping) and not hasattr(first, "model_dump"):
        raise TypeError(
            f"stream_tokens() cannot read items of type {type(first).__name__}: pass an SDK "
            "stream, its events (objects or dicts), str tokens or AIMessageChunks"
        )
    wire = _wire_for(provider, detected, f"events of type {type(first).__name__}")
    data = as_dict(first)
    return _Source(wire, _label(provider or wire), model or _event_model(data), {})


def _sdk_source(stream: Any, provider: str | None, model: str | None) -> _Source:
    wire = _wire_for(provider, _sdk_wire(stream), type(stream).__name__)
    body = _request_body(stream)
    return _Source(wire, _label(provider or wire), model or body.get("model"), body)


def _reject_text(raw: Any) -> None:
    if isinstance(raw, str | bytes):
        raise TypeError(
            "stream_tokens() got a single string; pass an iterable of tokens "
            "(e.g. a generator of str) or an SDK stream"
        )


def _close(raw: Any) -> None:
    close = getattr(raw, "close", None)
    if callable(close):
        close()


async def _aclose(raw: Any) -> None:
    close = getattr(raw, "aclose", None) or getattr(raw, "close", None)
    if callable(close):
        out = close()
        if hasattr(out, "__await__"):
            await out


def _tail(last: AIMessageChunk | None, message_id: str) -> AIMessageChunk:
    """The closing chunk langchain-core adds when a source's last chunk is not marked."""
    content: str | list[str | dict[str, Any]] = (
        "" if last is None or isinstance(last.content, str) else []
    )
    return AIMessageChunk(
        content=content,
        chunk_position="last",
        id=last.id if last is not None and last.id is not None else message_id,
    )


# --------------------------------------------------------------------------- sync


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
        _reject_text(raw)
        _check_provider(provider)
        if isinstance(raw, AsyncIterable) and not isinstance(raw, Iterable):
            raise TypeError(
                "stream_tokens() got an async stream; use `async for c in astream_tokens(...)`"
            )
        if not isinstance(raw, Iterable):
            raise TypeError(
                f"stream_tokens() needs an iterable token source, got {type(raw).__name__}"
            )
        self._acc = Accumulator()
        self._id: str | None = None
        self._gen: Generator[AIMessageChunk, None, None] = self._run(raw, provider, model, config)

    def _run(
        self,
        raw: Iterable[Any],
        provider: str | None,
        model: str | None,
        config: RunnableConfig | None,
    ) -> Generator[AIMessageChunk, None, None]:
        run: CallbackManagerForLLMRun | None = None
        finished = False
        chunks: Iterator[AIMessageChunk] = iter(())
        try:
            source, chunks = _open(raw, provider, model)
            cfg = ensure_config(config)
            run = source.spec(cfg).start(cfg)
            self._id = message_id = lc_id(run)
            add = self._acc.add
            last: AIMessageChunk | None = None
            for chunk in chunks:
                if not chunk.id:
                    chunk.id = message_id
                add(chunk)
                if run is not None:
                    run.on_llm_new_token(chunk.content, chunk=ChatGenerationChunk(message=chunk))
                last = chunk
                finished = chunk.chunk_position == "last"
                yield chunk
            if not finished:
                tail = _tail(last, message_id)
                add(tail)
                if run is not None:
                    run.on_llm_new_token(tail.content, chunk=ChatGenerationChunk(message=tail))
                finished = True
                yield tail
        except GeneratorExit:
            # Closed after the last chunk is a complete message, not a failure.
            if run is not None:
                if finished:
                    run.on_llm_end(result(self._acc.message()))
                else:
                    run.on_llm_error(GeneratorExit(), response=result(self._acc.message()))
            raise
        except BaseException as exc:
            if run is not None:
                run.on_llm_error(exc, response=result(self._acc.message()))
            raise
        else:
            if run is not None:
                run.on_llm_end(result(self._acc.message()))
        finally:
            _close(chunks)
            _close(raw)

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
        return _as_message(self._acc, self._id)


def _as_message(acc: Accumulator, message_id: str | None) -> AIMessage:
    chunk = acc.message()
    if chunk is None:
        return AIMessage(content="", id=message_id)
    message = message_chunk_to_message(chunk)
    if not isinstance(message, AIMessage):  # pragma: no cover - AIMessageChunk always maps
        raise TypeError(f"accumulated {type(message).__name__}, expected AIMessage")
    return message


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


# --------------------------------------------------------------------------- async


async def _achain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item


async def _aiter_sync(it: Iterator[Any]) -> AsyncIterator[Any]:
    for item in it:
        yield item


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
        _reject_text(raw)
        _check_provider(provider)
        if not isinstance(raw, AsyncIterable | Iterable):
            raise TypeError(
                f"astream_tokens() needs an (async) iterable token source, got {type(raw).__name__}"
            )
        self._acc = Accumulator()
        self._id: str | None = None
        self._gen: AsyncGenerator[AIMessageChunk, None] = self._run(raw, provider, model, config)

    async def _open(
        self, raw: Any, provider: str | None, model: str | None
    ) -> tuple[_Source, AsyncIterator[AIMessageChunk]]:
        if is_sdk_stream(raw):
            source = _sdk_source(raw, provider, model)
            assert source.wire is not None
            if isinstance(raw, AsyncIterable):
                return source, anormalize(source.wire, raw, model=source.model)
            return source, _aiter_sync(normalize(source.wire, raw, model=source.model))
        if not isinstance(raw, AsyncIterable):
            source, chunks = _open(raw, provider, model)
            return source, _aiter_sync(chunks)
        ait = aiter(raw)
        try:
            first = await anext(ait)
        except StopAsyncIteration:
            return _Source(None, _label(provider), model, {}), _aiter_sync(iter(()))
        source = _classify(first, provider, model)
        items = _achain(first, ait)
        if source.wire is None:
            return source, self._aplain(items, first)
        if _is_helper_chunk_event(first):
            items = _aunwrap_helper_events(items)
        return source, anormalize(source.wire, items, model=source.model)

    async def _aplain(self, items: AsyncIterator[Any], first: Any) -> AsyncIterator[AIMessageChunk]:
        kind: type[str] | type[AIMessageChunk] = str if isinstance(first, str) else AIMessageChunk
        i = 0
        async for item in items:
            yield _as_chunk(item, i, kind)
            i += 1

    async def _run(
        self, raw: Any, provider: str | None, model: str | None, config: RunnableConfig | None
    ) -> AsyncGenerator[AIMessageChunk, None]:
        run: AsyncCallbackManagerForLLMRun | None = None
        finished = False
        chunks: AsyncIterator[AIMessageChunk] | None = None
        try:
            source, chunks = await self._open(raw, provider, model)
            cfg = ensure_config(config)
            run = await source.spec(cfg).astart(cfg)
            self._id = message_id = lc_id(run)
            add = self._acc.add
            last: AIMessageChunk | None = None
            async for chunk in chunks:
                if not chunk.id:
                    chunk.id = message_id
                add(chunk)
                if run is not None:
                    await run.on_llm_new_token(
                        chunk.content, chunk=ChatGenerationChunk(message=chunk)
                    )
                last = chunk
                finished = chunk.chunk_position == "last"
                yield chunk
            if not finished:
                tail = _tail(last, message_id)
                add(tail)
                if run is not None:
                    await run.on_llm_new_token(
                        tail.content, chunk=ChatGenerationChunk(message=tail)
                    )
                finished = True
                yield tail
        except GeneratorExit:
            if run is not None:
                if finished:
                    await run.on_llm_end(result(self._acc.message()))
                else:
                    await run.on_llm_error(GeneratorExit(), response=result(self._acc.message()))
            raise
        except BaseException as exc:
            if run is not None:
                await run.on_llm_error(exc, response=result(self._acc.message()))
            raise
        else:
            if run is not None:
                await run.on_llm_end(result(self._acc.message()))
        finally:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            await _aclose(raw)

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
        return _as_message(self._acc, self._id)


def astream_tokens(
    raw_stream: AsyncIterable[Any] | Iterable[Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    config: RunnableConfig | None = None,
) -> AsyncTokenStream:
    """Async twin of :func:`stream_tokens` (``AsyncStream``, async iterables, or sync ones)."""
    return AsyncTokenStream(raw_stream, provider=provider, model=model, config=config)
